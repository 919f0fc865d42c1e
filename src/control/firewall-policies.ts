// /firewall-policies: named rule sets (ngrok's Firewall policies) that screen what an access key's traffic sends to
// a model and the tool calls a model returns. A policy applies through the gateway config's `firewallPolicyId`
// (every key: `allKeys`) or an access key configuration's (its keys). The control plane validates and stores
// policies and announces each write; the gateway enforces them from its snapshot. Checks and writes run under the
// account's lock, so a delete and a write that names the policy cannot both pass.
import type { Kysely } from 'kysely';
import type { components } from './spec-types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { FirewallRule } from '../domain/firewall-policy.ts';
import type { Database } from '../store/schema.ts';
import * as repo from '../store/firewall-policies.ts';
import { countOwned } from '../store/owned.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { compact, listEnvelope, notFound, patchFields, requireName } from './resource.ts';
import { auditedView, createdStamp } from './audit.ts';
import { ownedResource } from './owned-resource.ts';
import { describeUsers } from './references.ts';
import { checkRules, storedRule } from './firewall-rules.ts';

type FirewallPolicy = components['schemas']['AIGatewayFirewallPolicy'];
type FirewallPolicyCreate = components['schemas']['AIGatewayFirewallPolicyCreate'];
type FirewallPolicyUpdate = components['schemas']['AIGatewayFirewallPolicyUpdate'];

const COLLECTION = '/firewall-policies';
const LABEL = 'Firewall policy';

/** Firewall policies per account: ngrok publishes no limit; 100 is the virtual models' and the page size's. */
export const FIREWALL_POLICY_LIMIT = 100;

function view(base: string, row: repo.FirewallPolicyRow, allKeysId: string | null): FirewallPolicy {
  return compact({
    ...auditedView(base, COLLECTION, row),
    name: row.name,
    description: row.description ?? undefined,
    mode: row.mode,
    onError: row.onError,
    environment: repo.environmentOf(row),
    // Parsed fresh for this answer: the domain type's readonly lists are nobody else's.
    rules: repo.rulesOf(row) as FirewallPolicy['rules'],
    allKeys: row.id === allKeysId,
  });
}

/** The rules as stored, once they pass the checks the schema cannot state. */
function rulesColumn(rules: readonly FirewallRule[], decisionModel: boolean): string {
  checkRules(rules, decisionModel);
  return JSON.stringify(rules.map(storedRule));
}

/**
 * A `firewallPolicyId` written on the gateway config or a configuration: one of the account's policies, or 404 as
 * an access key naming an unknown configuration is (another account's policy is unknown here). Run under the
 * account's lock, which a policy's delete also holds.
 */
export async function requireFirewallPolicy(trx: Kysely<Database>, accountId: string, id: string | null | undefined): Promise<void> {
  if (typeof id === 'string' && !(await repo.firewallPolicyExists(trx, accountId, id))) throw notFound(LABEL, id, 'firewallPolicyId');
}

export function firewallPolicyHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  const policies = ownedResource(deps, 'firewallPolicies', 'firewallPolicy', LABEL);
  // Decision rules are accepted where the deployment names a decision model to judge them (gateway-behaviour.md).
  const decisionModel = deps.config.firewallDecision !== undefined;

  return {
    async ListAIGatewayFirewallPolicies(call: Call) {
      const { accountId } = call.principal;
      const [page, allKeysId] = await Promise.all([
        repo.listFirewallPolicies(db, accountId, call.query as { beforeId?: string; limit?: number }),
        repo.allKeysPolicyId(db, accountId),
      ]);
      return listEnvelope(call, 'aiGatewayFirewallPolicies', page, page.items.map((r) => view(call.base, r, allKeysId)));
    },
    async CreateAIGatewayFirewallPolicy(call: Call) {
      const body = call.body as FirewallPolicyCreate;
      requireName(body.name, Errors.fieldRequired);
      const { accountId, apiKeyId } = call.principal;
      const row: repo.FirewallPolicyRow = {
        id: newId('firewallPolicy'), accountId, name: body.name, description: body.description ?? null,
        mode: body.mode ?? 'enforce', onError: body.onError ?? 'block',
        environment: JSON.stringify(body.environment ?? []), rules: rulesColumn(body.rules ?? [], decisionModel),
        ...createdStamp(apiKeyId),
      };
      await policies.insert(call, row, async (trx) => {
        if (await countOwned(trx, 'firewallPolicies', accountId) >= FIREWALL_POLICY_LIMIT) {
          throw new TollgateError(Errors.firewallPolicyLimitExceeded, { limit: String(FIREWALL_POLICY_LIMIT) });
        }
      });
      // A new policy is nobody's all-keys policy yet: the gateway config can only name a policy that exists.
      return view(call.base, row, null);
    },
    async GetAIGatewayFirewallPolicy(call: Call) {
      const [row, allKeysId] = await Promise.all([policies.existing(call), repo.allKeysPolicyId(db, call.principal.accountId)]);
      return view(call.base, row, allKeysId);
    },
    async UpdateAIGatewayFirewallPolicy(call: Call) {
      const id = call.params.id!;
      const { name, description, mode, onError, environment, rules } = patchFields<FirewallPolicyUpdate>(call.body as Record<string, unknown>,
        ['name', 'description', 'mode', 'onError', 'environment', 'rules']);
      requireName(name, Errors.fieldRequired);
      // null puts a defaulted field back to its default, and empties a list.
      const row = await policies.update(call, id, {
        ...(name !== undefined ? { name } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(mode !== undefined ? { mode: mode ?? 'enforce' } : {}),
        ...(onError !== undefined ? { onError: onError ?? 'block' } : {}),
        ...(environment !== undefined ? { environment: JSON.stringify(environment ?? []) } : {}),
        ...(rules !== undefined ? { rules: rulesColumn(rules ?? [], decisionModel) } : {}),
      });
      return view(call.base, row, await repo.allKeysPolicyId(db, call.principal.accountId));
    },
    async DeleteAIGatewayFirewallPolicy(call: Call) {
      // Refused while named, as a configuration still linked to access keys is: a key would otherwise point at a
      // policy that is gone, and enforce nothing without saying so. Checked under the lock every such write holds.
      await policies.remove(call, async (trx, row) => {
        const users = await repo.firewallPolicyUsers(trx, call.principal.accountId, row.id);
        const named = [
          ...(users.gatewayConfig ? ['the gateway config (its all-keys policy)'] : []),
          ...(users.configurations.length > 0 ? [describeUsers('access key configuration', users.configurations)] : []),
        ];
        if (named.length > 0) throw new TollgateError(Errors.inUse, { resource: LABEL, id: row.id, usedBy: named.join(' and ') });
      });
      return undefined;
    },
  };
}
