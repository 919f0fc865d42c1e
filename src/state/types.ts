// What the gateway serves from: an in-memory snapshot per account, built from the store and replaced
// whole when the control plane announces a change (state/changes.ts). Nothing here does I/O per request.
import type { ApiFormat } from '../catalog/types.ts';
import type { FirewallPolicyState } from '../domain/firewall-policy.ts';
import type { McpServerState } from '../domain/mcp-server.ts';

export interface AccessDimension { allow?: string[] }
export interface AccessScope {
  providers?: AccessDimension;
  models?: AccessDimension;
  /** MCP servers by label; absent: every server. */
  mcpServers?: AccessDimension;
  /** MCP tools as `<label>/<tool>`, `*` a wildcard; absent: every tool of the servers allowed. */
  mcpTools?: AccessDimension;
}

export interface StoredRouterStep { type: 'user' | 'ngrok'; keySelectionStrategy?: 'ordered'; keys?: { id: string }[] }
export interface StoredRouterRule { provider?: string; model?: string; steps: StoredRouterStep[] }

export interface ConfigurationState {
  id: string;
  access: AccessScope | null;
  rules: StoredRouterRule[] | null;
  /** The configuration's Firewall policy, enforced with the account's all-keys policy. */
  firewallPolicyId?: string | null;
}

export interface ProviderKeyState {
  id: string;
  providerId: string;
  name: string;
  keyRedacted: string;
  /** Decrypted upstream secret, held only in memory. */
  value: string;
  /** A Bedrock key's AWS region: its calls go to that region's Bedrock Runtime endpoint (`{region}` in the base URL). */
  awsRegion?: string;
  /**
   * A Bedrock key backed by an IAM role (`value` is ''): the external ID its role's trust policy requires, and the role
   * once the user set it. The gateway assumes the role for temporary credentials and signs each call with them
   * (gateway/bedrock-role.ts).
   */
  awsRole?: { externalId: string; roleArn?: string };
}

export interface CustomSurfaceState { format: ApiFormat; surface?: string; supportedParams?: string[]; baseUrl?: string }

/** What a custom provider's model declares beyond its id: the id sent upstream, the params it cannot take. */
export interface CustomModelOptions { providerModelId?: string; unsupportedParams: readonly string[] }

export interface CustomProviderState {
  /** Resource id (`aigp_…`). */
  id: string;
  providerId: string;
  name: string;
  baseUrl: string;
  surfaces: CustomSurfaceState[];
  models: string[];
  /** Per declared model id, when it declares a providerModelId or unsupportedParams. */
  modelOptions?: ReadonlyMap<string, CustomModelOptions>;
}

/** A virtual model: a name the account chose for an ordered list of model addresses. */
export interface VirtualModelState { id: string; name: string; targets: readonly string[] }

export interface AccountSettings {
  totalTimeoutMs: number;
  /** The account wrote its own totalTimeout: it then bounds streamed answers too, in place of the stream limit. */
  totalTimeoutSet: boolean;
  perRequestTimeoutMs: number;
  maxInputTokens: number | null;
  maxOutputTokens: number | null;
  /** The account's all-keys Firewall policy (gateway config `firewallPolicyId`). */
  firewallPolicyId?: string | null;
  /** Request capture is on: the gateway keeps this account's request and answer bodies (request-capture.ts). */
  requestCapture?: boolean;
}

export interface AccountSnapshot {
  accountId: string;
  settings: AccountSettings;
  configurations: ReadonlyMap<string, ConfigurationState>;
  providerKeys: ReadonlyMap<string, ProviderKeyState>;
  /** Provider keys per providerId, oldest first (the default order when no rule lists them). */
  providerKeysByProvider: ReadonlyMap<string, readonly ProviderKeyState[]>;
  /**
   * Stored keys this process cannot decrypt (sealed under another TOLLGATE_SECRET_KEY), id → providerId: a request
   * that would have used one is told the operator must act (a 500), not that its routing lists no keys (a 400).
   */
  unreadableProviderKeys: ReadonlyMap<string, string>;
  /** User-defined providers by providerId slug. */
  customProviders: ReadonlyMap<string, CustomProviderState>;
  /** Virtual models by their name lower-cased (names match whatever their case). */
  virtualModels: ReadonlyMap<string, VirtualModelState>;
  /** Firewall policies by id. */
  firewallPolicies: ReadonlyMap<string, FirewallPolicyState>;
  /** MCP servers by id. */
  mcpServers: ReadonlyMap<string, McpServerState>;
  /** Credit balance in pico-USD: grants − recorded cost (kept current in memory as usage is recorded). */
  balancePico: bigint;
}

export interface AuthenticatedKey {
  id: string;
  accountId: string;
  configurationId: string | null;
  /** Set when a Playground token (domain/playground-token.ts) stands for the key: when it expires, epoch ms. */
  expiresAt?: number;
}
