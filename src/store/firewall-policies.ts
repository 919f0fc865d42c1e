// Firewall policies. `rules` and `environment` are JSON columns, always read and written whole; this file parses
// them so no caller handles raw JSON. The policy's references (the gateway config's and configurations'
// `firewall_policy_id`) are looked up here for the checks a delete runs.
import type { Kysely, Selectable } from 'kysely';
import type { Database, FirewallPoliciesTable } from './schema.ts';
import type { Page } from './paging.ts';
import { pageOwned } from './owned.ts';
import type { FirewallPolicyState, FirewallRule } from '../domain/firewall-policy.ts';

export type FirewallPolicyRow = Selectable<FirewallPoliciesTable>;

export function listFirewallPolicies(db: Kysely<Database>, accountId: string, options: { beforeId?: string; limit?: number }): Promise<Page<FirewallPolicyRow>> {
  return pageOwned(db, 'firewallPolicies', accountId, options);
}

/** Whether the account holds the policy: a reference to another account's policy is one to nothing. */
export async function firewallPolicyExists(db: Kysely<Database>, accountId: string, id: string): Promise<boolean> {
  return (await db.selectFrom('firewallPolicies').select('id').where('accountId', '=', accountId).where('id', '=', id).executeTakeFirst()) !== undefined;
}

function jsonArray(text: string): unknown[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : [];
}

export function rulesOf(row: Pick<FirewallPolicyRow, 'rules'>): FirewallRule[] {
  return jsonArray(row.rules) as FirewallRule[];
}

export function environmentOf(row: Pick<FirewallPolicyRow, 'environment'>): string[] {
  return jsonArray(row.environment).filter((f): f is string => typeof f === 'string');
}

export function firewallPolicyState(row: Pick<FirewallPolicyRow, 'id' | 'name' | 'mode' | 'onError' | 'environment' | 'rules'>): FirewallPolicyState {
  return { id: row.id, name: row.name, mode: row.mode, onError: row.onError, environment: environmentOf(row), rules: rulesOf(row) };
}

/** What still names the policy: whether the gateway config does, and which configurations (by id). */
export async function firewallPolicyUsers(db: Kysely<Database>, accountId: string, id: string): Promise<{ gatewayConfig: boolean; configurations: string[] }> {
  const [config, configurations] = await Promise.all([
    db.selectFrom('gatewayConfigs').select('accountId').where('accountId', '=', accountId).where('firewallPolicyId', '=', id).executeTakeFirst(),
    db.selectFrom('accessKeyConfigurations').select('id').where('accountId', '=', accountId).where('firewallPolicyId', '=', id).orderBy('id').execute(),
  ]);
  return { gatewayConfig: config !== undefined, configurations: configurations.map((c) => c.id) };
}

/** The account's all-keys policy id (the gateway config's `firewallPolicyId`), or null. */
export async function allKeysPolicyId(db: Kysely<Database>, accountId: string): Promise<string | null> {
  const row = await db.selectFrom('gatewayConfigs').select('firewallPolicyId').where('accountId', '=', accountId).executeTakeFirst();
  return row?.firewallPolicyId ?? null;
}
