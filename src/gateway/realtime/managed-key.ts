// What a session on the operator's managed key never shows its client: the credential's rate limits, which every
// tenant's use draws on, and the operator's organization in the provider's refusals.
import { eventOf, member } from './events.ts';

/**
 * OpenAI's event at each response's start with the credential's limits and what is left of them: on the managed key,
 * the operator's, and every tenant's use of them.
 */
const RATE_LIMITS = Buffer.from('"rate_limits.updated"');
/** What OpenAI's limit refusals name the credential's organization with ("… in organization org-…: Limit 1000, Used 1000"). */
const ORGANIZATION = Buffer.from(' organization org-');

/**
 * Whether a provider message is a `rate_limits.updated` event. Only a message holding the name as a JSON string of its
 * own is parsed: text quoting it (a transcript's delta) has its quotes escaped, and OpenAI writes its event types plain.
 */
export function isRateLimitsEvent(data: Buffer): boolean {
  return data.includes(RATE_LIMITS) && eventOf(data, 'rate_limits.updated') !== undefined;
}

/**
 * An `error` event of the managed key's with the operator's organization id and its use of a limit taken out of its
 * message ("Rate limit reached for … in organization org-…: Limit 1000, Used 1000, Requested 1. Please try again in
 * 1m26.4s."): the limit named and the wait stay. Undefined when there is nothing to take out.
 */
export function withoutOperatorAccount(data: Buffer): Buffer | undefined {
  if (!data.includes(ORGANIZATION)) return undefined;
  const event = eventOf(data, 'error');
  if (!event) return undefined;
  const error = member(event, 'error');
  if (typeof error?.message !== 'string') return undefined;
  const message = error.message.replace(/ in organization org-[\w-]+/g, ' on the gateway\'s managed key').replace(/Limit [\d,.]+, Used [\d,.]+(, Requested [\d,.]+)?\. */g, '');
  return Buffer.from(JSON.stringify({ ...event, error: { ...error, message } }));
}
