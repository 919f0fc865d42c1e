// Rate-limited provider keys wait their turn (docs/decisions/gateway-routing.md, "Cooling keys"). A key a provider
// answered 429 for a model is cooling until the wait it was given: meanwhile its attempts at that model go after the
// model's ready keys, so each request no longer pays a round trip to a key that said it needs time. Per node and in
// memory: no store is read or written, and a node that never saw the 429 tries the key in the configured order.
import type { AttemptPlan } from '../domain/routing.ts';
import type { ProviderKeyState } from '../state/types.ts';
import { credentialOf } from './key-credential.ts';

/** The longest a key is held back, whatever its provider said (OpenAI's limits may reset in an hour). */
export const MAX_COOL_MS = 5 * 60_000;
/**
 * The wait of a 429 that says none the gateway can read (an error event in a stream, a quota answer): short, as the
 * SDKs' own first retry is — long enough that the next requests of a burst go to another key first.
 */
export const DEFAULT_COOL_MS = 2000;
/** Keys × models cooling at once on this node; beyond it the entry cooling longest ago goes first. */
const MAX_ENTRIES = 10_000;

/**
 * The key as the cooldown knows it: its stored id (never its secret), or the operator's managed key of that provider.
 * Per model too: providers limit a key per model (OpenAI, Google) or model class (Anthropic), so a key refused for one
 * model may serve another at once. Token counting apart: Anthropic limits it apart from message creation ("usage of one
 * does not count against the limits of the other"), so a key refused a count may still generate, and the reverse. A
 * custom provider called without any key has nothing to cool.
 */
function cooldownKey(plan: AttemptPlan): string | undefined {
  const key = plan.keySource === 'ngrok' ? `ngrok:${plan.candidate.provider.id}` : plan.providerKey?.id;
  if (key === undefined) return undefined;
  const counting = plan.candidate.surface.surface === 'count-tokens' ? '\ncount-tokens' : '';
  return `${key}\n${plan.candidate.provider.id}:${plan.candidate.upstreamModelId ?? plan.candidate.modelId}${counting}`;
}

/** The key part of a cooldownKey. */
function keyIdOf(entry: string): string {
  return entry.slice(0, entry.indexOf('\n'));
}

export interface CooledOrder {
  readonly attempts: readonly AttemptPlan[];
  /** The cooling attempts an attempt the plan had after them now goes before (a ready key, or a key ready sooner). */
  readonly deferred: readonly AttemptPlan[];
}

export class KeyCooldowns {
  /** When each cooling key is ready again, on `now`'s clock; in the order the entries were set. */
  readonly #readyAt = new Map<string, number>();
  readonly #now: () => number;

  /** `now`: a monotonic clock in milliseconds (a test's own, to make time pass without waiting). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** The key of this attempt was rate limited: held back for `waitMs` (undefined: DEFAULT_COOL_MS), at most MAX_COOL_MS. */
  cool(plan: AttemptPlan, waitMs: number | undefined): void {
    const key = cooldownKey(plan);
    const wait = Math.min(waitMs ?? DEFAULT_COOL_MS, MAX_COOL_MS);
    // A provider that says "now" (Retry-After: 0) asks for nothing to wait.
    if (key === undefined || !(wait > 0)) return;
    const now = this.#now();
    this.#readyAt.delete(key);
    if (this.#readyAt.size >= MAX_ENTRIES) this.#evict(now);
    this.#readyAt.set(key, now + wait);
  }

  /** The key served an answer: it is ready, whatever it said before. */
  served(plan: AttemptPlan): void {
    if (this.#readyAt.size === 0) return;
    const key = cooldownKey(plan);
    if (key !== undefined) this.#readyAt.delete(key);
  }

  /**
   * An account's provider keys were read again (GatewayState.onReload: on the node that changed them at once, on the
   * others when their poll reads the change). A key whose credential changed (key-credential.ts) — rotated, usually because it was exhausted
   * or limited — is another key to its provider: its old secret's limits say nothing of it, so it is ready at once.
   */
  providerKeysReloaded(before: ReadonlyMap<string, ProviderKeyState>, now: ReadonlyMap<string, ProviderKeyState>): void {
    if (this.#readyAt.size === 0) return;
    let rotated: Set<string> | undefined;
    for (const [id, key] of now) {
      const was = before.get(id);
      if (was !== undefined && credentialOf(was) !== credentialOf(key)) (rotated ??= new Set()).add(id);
    }
    if (!rotated) return;
    for (const entry of this.#readyAt.keys()) if (rotated.has(keyIdOf(entry))) this.#readyAt.delete(entry);
  }

  /**
   * The attempts with each model's cooling keys after its ready ones (in the configured order), those soonest ready
   * first. Never across models: the client's and the configuration's model order is a choice of answer, not of key.
   */
  order(attempts: readonly AttemptPlan[]): CooledOrder {
    if (this.#readyAt.size === 0) return { attempts, deferred: [] };
    const now = this.#now();
    let ordered: AttemptPlan[] | undefined;
    const deferred: AttemptPlan[] = [];
    for (let start = 0; start < attempts.length;) {
      let end = start + 1;
      while (end < attempts.length && attempts[end]!.candidate === attempts[start]!.candidate) end++;
      const ready: AttemptPlan[] = [];
      const cooling: { plan: AttemptPlan; at: number; readyAt: number }[] = [];
      // Where in the plan the last ready key was: a cooling key before it is overtaken by it.
      let lastReady = -1;
      for (let i = start; i < end; i++) {
        const plan = attempts[i]!;
        const readyAt = this.#readyAtOf(plan, now);
        if (readyAt === undefined) {
          ready.push(plan);
          lastReady = i;
        } else {
          cooling.push({ plan, at: i, readyAt });
        }
      }
      if (cooling.length > 0) {
        // Array.prototype.sort is stable: keys ready at the same time keep the configured order.
        cooling.sort((a, b) => a.readyAt - b.readyAt);
        ordered ??= attempts.slice(0, start);
        for (const plan of ready) ordered.push(plan);
        // Deferred: overtaken by an attempt the plan had after it (a ready key, or a key ready sooner).
        let latest = lastReady;
        for (const c of cooling) {
          if (latest > c.at) deferred.push(c.plan);
          else latest = c.at;
          ordered.push(c.plan);
        }
      } else if (ordered) {
        for (let i = start; i < end; i++) ordered.push(attempts[i]!);
      }
      start = end;
    }
    return { attempts: ordered ?? attempts, deferred };
  }

  /** Keys cooling now (the gauge's figure): the expired entries are dropped on the way. */
  cooling(): number {
    this.#dropReady(this.#now());
    return this.#readyAt.size;
  }

  #readyAtOf(plan: AttemptPlan, now: number): number | undefined {
    const key = cooldownKey(plan);
    if (key === undefined) return undefined;
    const readyAt = this.#readyAt.get(key);
    if (readyAt === undefined) return undefined;
    if (readyAt > now) return readyAt;
    this.#readyAt.delete(key);
    return undefined;
  }

  /** Drops the entries of keys ready again by `now`. */
  #dropReady(now: number): void {
    for (const [key, readyAt] of this.#readyAt) if (readyAt <= now) this.#readyAt.delete(key);
  }

  /** Room for one more: the expired entries go, then (all still cooling) the one set longest ago. */
  #evict(now: number): void {
    this.#dropReady(now);
    if (this.#readyAt.size < MAX_ENTRIES) return;
    const oldest = this.#readyAt.keys().next();
    if (!oldest.done) this.#readyAt.delete(oldest.value);
  }
}
