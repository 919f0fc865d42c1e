// Builds in-memory account snapshots for pure-logic tests (no store involved).
import type { FirewallPolicyState } from '../../src/domain/firewall-policy.ts';
import type { McpServerState } from '../../src/domain/mcp-server.ts';
import type { AccountSettings, AccountSnapshot, ConfigurationState, CustomProviderState, ProviderKeyState, VirtualModelState } from '../../src/state/types.ts';

export interface SnapshotInit {
  settings?: Partial<AccountSettings>;
  configurations?: ConfigurationState[];
  providerKeys?: Omit<ProviderKeyState, 'keyRedacted' | 'name'>[];
  /** Stored keys sealed under another master key: id → providerId. */
  unreadableProviderKeys?: Record<string, string>;
  customProviders?: CustomProviderState[];
  virtualModels?: VirtualModelState[];
  firewallPolicies?: FirewallPolicyState[];
  mcpServers?: McpServerState[];
  balancePico?: bigint;
}

export function snapshot(init: SnapshotInit = {}): AccountSnapshot {
  const keys: ProviderKeyState[] = (init.providerKeys ?? []).map((k) => ({ ...k, name: `key ${k.id}`, keyRedacted: '***' }));
  const byProvider = new Map<string, ProviderKeyState[]>();
  for (const k of keys) byProvider.set(k.providerId, [...(byProvider.get(k.providerId) ?? []), k]);
  return {
    accountId: 'acct_test',
    settings: { totalTimeoutMs: 120_000, totalTimeoutSet: false, perRequestTimeoutMs: 60_000, maxInputTokens: null, maxOutputTokens: null, ...init.settings },
    configurations: new Map((init.configurations ?? []).map((c) => [c.id, c])),
    providerKeys: new Map(keys.map((k) => [k.id, k])),
    providerKeysByProvider: byProvider,
    unreadableProviderKeys: new Map(Object.entries(init.unreadableProviderKeys ?? {})),
    customProviders: new Map((init.customProviders ?? []).map((p) => [p.providerId, p])),
    virtualModels: new Map((init.virtualModels ?? []).map((v) => [v.name.toLowerCase(), v])),
    firewallPolicies: new Map((init.firewallPolicies ?? []).map((p) => [p.id, p])),
    mcpServers: new Map((init.mcpServers ?? []).map((s) => [s.id, s])),
    balancePico: init.balancePico ?? 0n,
  };
}

export const ollama: CustomProviderState = {
  id: 'aigp_ollama', providerId: 'my-ollama', name: 'My Ollama', baseUrl: 'http://127.0.0.1:11434/v1',
  surfaces: [{ format: 'openai', surface: 'chat-completions' }], models: ['llama3.2', 'Qwen3:8b'],
};
