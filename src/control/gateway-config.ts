// /gateway-config: account-wide timeouts, token caps, metadata, the all-keys Firewall policy and request capture. PATCH is tri-state per field; the
// merged result is validated as a whole, so a per-request timeout can never exceed the total one.
import type { components } from './spec-types.ts';
import { Errors, TollgateError, echoed } from '../domain/errors.ts';
import { parseGoDuration } from '../domain/duration.ts';
import { getGatewaySettings, writeGatewaySettings, type GatewaySettings } from '../store/gateway-config.ts';
import { withAccountLock } from '../store/account-lock.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { patchFields } from './resource.ts';
import { requireFirewallPolicy } from './firewall-policies.ts';

type GatewayConfig = components['schemas']['AIGatewayConfig'];
type GatewayConfigUpdate = components['schemas']['AIGatewayConfigUpdate'];

function invalid(field: string, reason: string): TollgateError {
  return new TollgateError(Errors.validationFailed, { field, reason });
}

function durationMs(field: string, value: string): number {
  const ms = parseGoDuration(value);
  if (ms === undefined || ms <= 0) throw invalid(field, `"${field}" must be a positive Go duration such as "30s" or "2m", got "${echoed(value)}".`);
  return ms;
}

function validate(next: GatewaySettings): void {
  const total = durationMs('totalTimeout', next.totalTimeout);
  const perRequest = durationMs('perRequestTimeout', next.perRequestTimeout);
  if (perRequest > total) throw invalid('perRequestTimeout', `"perRequestTimeout" (${echoed(next.perRequestTimeout)}) must not exceed "totalTimeout" (${echoed(next.totalTimeout)}).`);
  for (const field of ['maxInputTokens', 'maxOutputTokens'] as const) {
    const cap = next[field];
    if (cap !== null && cap < 1) throw invalid(field, `"${field}" must be at least 1, or null for no cap.`);
  }
}

function view(call: Call, s: GatewaySettings): GatewayConfig {
  return { accountId: call.principal.accountId, uri: `${call.base}/gateway-config`, ...s };
}

export function gatewayConfigHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  return {
    async GetAIGatewayConfig(call: Call) {
      return view(call, await getGatewaySettings(db, call.principal.accountId));
    },
    async UpdateAIGatewayConfig(call: Call) {
      const { accountId } = call.principal;
      const patch = patchFields<GatewayConfigUpdate & Record<string, unknown>>(call.body as Record<string, unknown>,
        ['totalTimeout', 'perRequestTimeout', 'maxInputTokens', 'maxOutputTokens', 'metadata', 'firewallPolicyId', 'requestCapture']);
      // Validated and written under the account's lock: two PATCHes each valid on their own (a shorter total, a
      // longer per-request timeout) cannot both land and leave an invalid pair.
      const [saved, announce] = await withAccountLock(deps.store, accountId, async (trx) => {
        validate({ ...(await getGatewaySettings(trx, accountId)), ...patch });
        // Under the lock a policy's delete holds: the policy named here cannot be deleted in between.
        await requireFirewallPolicy(trx, accountId, patch.firewallPolicyId);
        const written = await writeGatewaySettings(trx, accountId, patch);
        return [written, await deps.changes.recordAll(trx, [{ accountId, kind: 'gatewayConfig', resourceId: accountId }])] as const;
      });
      announce();
      return view(call, saved);
    },
  };
}
