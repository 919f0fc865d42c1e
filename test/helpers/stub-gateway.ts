// A gateway's state and usage sink for tests that place what they need in an account snapshot (test/helpers/snapshot.ts)
// instead of going through a store: the gateway runs on these, everything else real.
import type { GatewayStateView } from '../../src/gateway/context.ts';
import type { AccountSnapshot } from '../../src/state/types.ts';
import type { BegunAttempt, UsageEvent, UsageSink } from '../../src/usage/event.ts';

/** Answers from `account()` (read on every request, so a test may swap it); `keys`: access token → its key, of account `acct_test`. */
export function stubState(account: () => AccountSnapshot, keys: ReadonlyMap<string, { id: string; configurationId: string | null }>): GatewayStateView {
  return {
    authenticate: (token) => {
      const key = keys.get(token);
      return key ? { ...key, accountId: 'acct_test' } : null;
    },
    account,
    configuration: (key) => (key.configurationId ? account().configurations.get(key.configurationId) ?? null : null),
    reloadAccount: async () => true,
    changesArriving: () => undefined,
    markUsed: () => {},
    debit: () => {},
  };
}

/**
 * The final usage event of request `requestId` in what a collecting sink kept, waited for (up to `waitMs`): a call's
 * is recorded as its relay ends.
 */
export async function finalEvent(usage: readonly (BegunAttempt | UsageEvent)[], requestId: string, waitMs = 1000): Promise<UsageEvent> {
  for (let i = 0; i < waitMs / 10; i++) {
    const e = usage.find((u): u is UsageEvent => 'isFinalAttempt' in u && u.requestId === requestId);
    if (e) return e;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no usage event for ${requestId}`);
}

/** A sink keeping every begun attempt and usage event in `into`, in order. */
export function collectingSink(into: (BegunAttempt | UsageEvent)[]): UsageSink {
  return { begin: async (a) => { into.push(a); }, record: (e) => { into.push(e); }, flush: async () => {}, close: async () => {} };
}
