// What a provider's error object (a failed stream's event, a mid-stream `{"error": …}`) says happened, read from its
// `type`, `code` and status, never from its free text (a `response.failed` repeats the request's instructions). One
// reading for the stream opening's failover verdict (stream-opening.ts) and for the error type a translation gives
// its client (translate/), so a failure the gateway relays as the request's own fault is named so to the client too.

/**
 * `client-fault`: the request's own, which another key or model would refuse too. `quota`: the key's account is out
 * of credit. `rate-limited`, `overloaded`: passing, which SDKs and agents retry after a wait. `failed`: anything else.
 */
export type ProviderErrorKind = 'client-fault' | 'quota' | 'rate-limited' | 'overloaded' | 'failed';

/** Provider error types and codes, lowercased (OpenAI's, Anthropic's, and the compatible servers' copies of them). */
const KIND_BY_NAME: ReadonlyMap<string, ProviderErrorKind> = new Map([
  ['invalid_request_error', 'client-fault'], ['invalid_prompt', 'client-fault'], ['context_length_exceeded', 'client-fault'],
  ['content_filter', 'client-fault'], ['content_policy_violation', 'client-fault'], ['request_too_large', 'client-fault'],
  ['insufficient_quota', 'quota'],
  // OpenAI's rate-limit type names what ran out (`requests`, `tokens`), its code says it is a limit.
  ['rate_limit_error', 'rate-limited'], ['rate_limit_exceeded', 'rate-limited'], ['too_many_requests', 'rate-limited'],
  ['tokens_exceeded', 'rate-limited'], ['requests', 'rate-limited'],
  ['overloaded_error', 'overloaded'], ['engine_overloaded', 'overloaded'],
]);

/** Statuses named instead of a type. 404 is no client fault: another model may exist. Anthropic's 529 is its overload. */
const KIND_BY_STATUS: ReadonlyMap<number, ProviderErrorKind> = new Map([
  [400, 'client-fault'], [413, 'client-fault'], [422, 'client-fault'], [429, 'rate-limited'], [503, 'overloaded'], [529, 'overloaded'],
]);

/** When names disagree (`invalid_request_error` with `rate_limit_exceeded`), the first kind named wins. */
const PRECEDENCE: readonly ProviderErrorKind[] = ['client-fault', 'quota', 'rate-limited', 'overloaded'];

/**
 * The HTTP status a provider's error object names instead of (or beside) a type: OpenRouter's numeric `code`
 * (`"code": 429`), vLLM's (`"code": 400`), a `status`, or the same as three digits in a string.
 */
export function errorStatusOf(error: Record<string, unknown> | undefined): number | undefined {
  for (const v of [error?.code, error?.status]) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** The kind of a provider's error object; `alsoNamed`: names the event carries beside it (a Responses event's `code`). */
export function providerErrorKind(error: Record<string, unknown> | undefined, ...alsoNamed: unknown[]): ProviderErrorKind {
  const kinds = new Set<ProviderErrorKind>();
  for (const name of [error?.type, error?.code, ...alsoNamed]) {
    const kind = typeof name === 'string' ? KIND_BY_NAME.get(name.toLowerCase()) : undefined;
    if (kind) kinds.add(kind);
  }
  const status = errorStatusOf(error);
  const byStatus = status === undefined ? undefined : KIND_BY_STATUS.get(status);
  if (byStatus) kinds.add(byStatus);
  return PRECEDENCE.find((k) => kinds.has(k)) ?? 'failed';
}
