// Row shapes of every table, as Kysely sees them through CamelCasePlugin. The same schema serves SQLite
// and PostgreSQL: timestamps are ISO-8601 UTC text (they sort as text), booleans are 0/1 integers, JSON
// columns are text, and money/token counters are 64-bit integers (pg returns them as strings: see int()).
import { sql, type ColumnType, type Generated } from 'kysely';

type Int64 = ColumnType<string | number | bigint, number | bigint | string, number | bigint | string>;
type Flag = ColumnType<number | boolean, number, number>;

interface Audited {
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  lastUpdatedBy: string;
}

export interface AccountsTable { id: string; name: string; createdAt: string }

export interface ApiKeysTable extends Audited {
  id: string; accountId: string; name: string | null; description: string | null; metadata: string | null;
  tokenHash: string; keyRedacted: string; lastUsed: string | null;
}

export interface AccessKeyConfigurationsTable extends Audited {
  id: string; accountId: string; name: string; description: string | null; metadata: string | null;
  /** JSON of the contract's AccessScope, or null for allow-all. */
  access: string | null;
  /** JSON of the stored Router (rules with key ids only), or null for the defaults. */
  router: string | null;
  /** The Firewall policy keys linked here enforce (an id in firewall_policies of the same account), or null. */
  firewallPolicyId: string | null;
}

export interface AccessKeysTable extends Audited {
  id: string; accountId: string; name: string | null; description: string | null; metadata: string | null;
  tokenHash: string; keyRedacted: string; configurationId: string | null; lastUsed: string | null;
}

export interface ProviderKeysTable extends Audited {
  id: string; accountId: string; providerId: string; name: string; description: string | null;
  metadata: string | null; sealedValue: string; keyRedacted: string; lastUsed: string | null;
  /** A Bedrock key's AWS region (`us-east-1`), which picks its endpoint; null for every other provider. Not a secret. */
  awsRegion: string | null;
  /**
   * A Bedrock key backed by an IAM role: the external ID its role's trust policy must require (generated, shown, not a
   * secret), and the role's ARN once set. Both null on a key holding a value; on a role key `sealedValue` is ''.
   */
  awsExternalId: string | null;
  awsRoleArn: string | null;
}

export interface ProvidersTable extends Audited {
  id: string; accountId: string; providerId: string; name: string; baseUrl: string; metadata: string | null;
  /** JSON array of SupportedAPISurface, or null when never set. */
  supportedApiSurfaces: string | null;
  /** JSON array of {id, modelId}. */
  models: string;
}

export interface VirtualModelsTable extends Audited {
  id: string; accountId: string; name: string; description: string | null;
  /** The name lower-cased: unique per account, as requests match model names whatever their case. */
  nameKey: string;
  /** JSON array of the target model addresses, in the order they are tried. */
  targets: string;
}

export interface FirewallPoliciesTable extends Audited {
  id: string; accountId: string; name: string; description: string | null;
  mode: 'enforce' | 'audit'; onError: 'block' | 'log';
  /** JSON array of the environment facts. */
  environment: string;
  /** JSON array of the rules (FirewallRule), in the order they were written. */
  rules: string;
}

export interface McpServersTable extends Audited {
  id: string; accountId: string;
  /** Lowercase by its syntax, so unique as written: no case-folded key is needed. */
  label: string;
  description: string | null; upstreamUrl: string;
  /** JSON of the McpServerAuth, read and written whole. */
  auth: string;
}

export interface GatewayConfigsTable {
  accountId: string; totalTimeout: string | null; perRequestTimeout: string | null;
  maxInputTokens: Int64 | null; maxInputTokensSet: Flag;
  maxOutputTokens: Int64 | null; maxOutputTokensSet: Flag;
  metadata: string | null; updatedAt: string;
  /** The account's all-keys Firewall policy (an id in firewall_policies of the same account), or null. */
  firewallPolicyId: string | null;
  /** Request capture on (1) or off (0); off unless the account turned it on. */
  requestCapture: Flag;
}

/** One captured request: its bodies and headers sealed under the master key, bound to the account and request. */
export interface RequestCapturesTable {
  accountId: string; requestId: string; capturedAt: string; expiresAt: string; sealed: string;
}

export interface CreditTransactionsTable {
  id: string; accountId: string;
  type: 'credits' | 'usageInvoice' | 'usageInvoicePreview';
  category: 'purchase' | 'promotional' | null;
  amountCents: Int64;
  expiresAt: string | null;
  /** Idempotency reference (e.g. a Stripe Checkout session id); unique when present. */
  externalRef: string | null;
  /** JSON with the invoice fields for invoice rows. */
  details: string | null;
  createdAt: string;
}

export type PurchaseStatus = 'pending' | 'actionRequired' | 'succeeded' | 'failed';

export interface CreditPurchasesTable {
  id: string; accountId: string; amount: Int64; status: PurchaseStatus;
  declineReason: string | null; externalRef: string | null; createdAt: string; updatedAt: string;
  /** The caller's Idempotency-Key (trimmed), unique per account; null without one. */
  idempotencyKey: string | null;
}

export interface UsageEventsTable {
  id: string; accountId: string; requestId: string; accessKeyId: string;
  provider: string; providerDisplayName: string; model: string; modelDisplayName: string;
  attemptNumber: number; isFinalAttempt: Flag; statusCode: number; timedOut: Flag; isError: Flag;
  isStreaming: Flag; stopReason: string;
  inputTokens: Int64; outputTokens: Int64; cacheReadTokens: Int64; cacheWriteTokens: Int64; reasoningTokens: Int64;
  /** Part of cacheWriteTokens kept an hour; 0 on events recorded before it was stored (migration 0008). */
  cacheWrite1hTokens: Int64;
  usageEstimated: Flag; inputTokensEstimate: Int64; outputTokensEstimate: Int64;
  /** Cost in pico-USD (1e-12): model cost when managed credentials served, plus the processing fee. */
  costPico: Int64;
  /**
   * Its parts in pico-USD; web searches, which have none, are the rest. Events recorded before the parts were
   * stored (migration 0008) have 0 in each.
   */
  inputCostPico: Int64; outputCostPico: Int64; cacheReadCostPico: Int64; cacheWrite5mCostPico: Int64; cacheWrite1hCostPico: Int64;
  feePico: Int64;
  keySource: 'ngrok' | 'user'; providerKeyId: string | null; providerKeyDisplayName: string | null;
  retryAction: string; completion: string; upstreamDurationMs: number;
  eventTime: string;
  /** The virtual model the request named, by its name then; null when none (and on events before migration 0009). */
  virtualModel: string | null;
  /** Firewall's verdicts on the attempt (JSON array of FirewallVerdict); null when none (and before migration 0012). */
  firewall: string | null;
}

/** Monotonic feed of control-plane changes; gateways in other processes replay it to invalidate state. */
export interface StateChangesTable {
  seq: Generated<number>; accountId: string; kind: string; resourceId: string; createdAt: string;
}

export interface Database {
  accounts: AccountsTable;
  apiKeys: ApiKeysTable;
  accessKeyConfigurations: AccessKeyConfigurationsTable;
  accessKeys: AccessKeysTable;
  providerKeys: ProviderKeysTable;
  providers: ProvidersTable;
  virtualModels: VirtualModelsTable;
  firewallPolicies: FirewallPoliciesTable;
  mcpServers: McpServersTable;
  gatewayConfigs: GatewayConfigsTable;
  requestCaptures: RequestCapturesTable;
  creditTransactions: CreditTransactionsTable;
  creditPurchases: CreditPurchasesTable;
  usageEvents: UsageEventsTable;
  stateChanges: StateChangesTable;
  bootstrapClaims: { id: number };
}

/** pg returns int8 as string and SQLite as number: every 64-bit read goes through this. */
export function int(value: string | number | bigint | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}
export function bigint(value: string | number | bigint | null | undefined): bigint {
  return value === null || value === undefined ? 0n : BigInt(value);
}
export function flag(value: number | boolean | null | undefined): boolean {
  return value === true || value === 1;
}

/**
 * Σ of the pico-USD cost column, exact on both dialects: SQLite's SUM of integers overflows past 2^63 (USD 9.2 M,
 * an account's whole history can reach it), so it is summed as whole billions and remainders, each far from that
 * limit, and put back together in JavaScript (`picoSum`). PostgreSQL would be exact either way (numeric).
 */
export const COST_BILLIONS = sql<string | null>`cast(sum(cost_pico / 1000000000) as text)`;
export const COST_REMAINDERS = sql<string | null>`cast(sum(cost_pico % 1000000000) as text)`;

export function picoSum(billions: string | number | null | undefined, remainders: string | number | null | undefined): bigint {
  return bigint(billions) * 1_000_000_000n + bigint(remainders);
}
