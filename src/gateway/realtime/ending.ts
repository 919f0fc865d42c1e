// Why a session ended, as it is observed and as its client is told (an `error` event, then the close code).
import { tollgateError, type TollgateError } from '../../domain/errors.ts';
import { byteSize } from '../../domain/byte-size.ts';
import type { RealtimeLimits } from '../context.ts';
import { formatMs } from '../failure.ts';
import type { RealtimeOutcome } from '../observe/observer.ts';
import type { HeldRoom } from '../exchange.ts';
import { MAX_MESSAGE_BYTES, CLOSE_RESTART, CLOSE_UPSTREAM, CLOSE_BUSY, CLOSE_TOO_BIG } from './relay.ts';
import type { Session } from './session.ts';

/**
 * `frame-too-long`: the provider's message was over MAX_MESSAGE_BYTES; `client-frame-too-long`: the client's.
 * `client-protocol-error`: `ws` refused any other frame of the client's (invalid UTF-8, a reserved opcode; brokenFrame);
 * `provider-protocol-error`: of the provider's (upstreamFault).
 * `client-unheld`, `provider-unheld`: that side's message still arriving could not be held (UnfinishedMessage);
 * `client-unheld` too: messages waiting for either side's reader could not be (QueuedMessages).
 */
export type Ending = 'client-left' | 'upstream-closed' | 'idle' | 'duration' | 'shutdown' | 'frame-too-long' | 'client-frame-too-long' | 'client-protocol-error' | 'provider-protocol-error' | 'revoked' | 'client-unheld' | 'provider-unheld';

export const OUTCOMES: Readonly<Record<Ending, RealtimeOutcome>> = {
  'client-left': 'client_closed', 'upstream-closed': 'provider_closed', idle: 'idle_limit', duration: 'duration_limit', shutdown: 'shutdown', 'frame-too-long': 'frame_too_long', revoked: 'key_revoked',
  'client-frame-too-long': 'client_frame_too_long', 'client-protocol-error': 'client_protocol_error', 'provider-protocol-error': 'provider_protocol_error',
  'client-unheld': 'gateway_busy', 'provider-unheld': 'gateway_busy',
};

/**
 * The close code the client gets when the gateway ends its session (CLOSE_POLICY when not named: a limit, a key; the
 * one `ws` gives a client frame that breaks the protocol: brokenFrame).
 */
export const CLOSES: Readonly<Partial<Record<Ending, number>>> = {
  shutdown: CLOSE_RESTART, 'frame-too-long': CLOSE_UPSTREAM, 'provider-protocol-error': CLOSE_UPSTREAM, 'client-frame-too-long': CLOSE_TOO_BIG, 'client-unheld': CLOSE_BUSY, 'provider-unheld': CLOSE_BUSY,
};

/** Why a message could not be held, as the session's end tells it: whose message, and which room was full. */
const UNHELD: Readonly<Record<HeldRoom, string>> = {
  gateway: 'it already holds as much of messages and answers still arriving as it holds at once.',
  account: "this account's messages and answers still arriving already hold as much as one account's may at once.",
};

/** The error a session ended by the gateway tells its client, undefined when the client or the provider ended it. */
export function toldError(s: Session, why: Ending, limits: RealtimeLimits): TollgateError | undefined {
  switch (why) {
    case 'idle': return tollgateError('realtimeSessionIdleLimitExceeded', { limit: formatMs(limits.idleTimeoutMs) });
    // A Playground token's limit is whatever was left of it: named to the second.
    case 'duration': return tollgateError('realtimeSessionDurationLimitExceeded', { limit: formatMs(s.durationLimitMs === limits.maxDurationMs || s.durationLimitMs < 1000 ? s.durationLimitMs : Math.round(s.durationLimitMs / 1000) * 1000) });
    case 'revoked': return s.revokedBy;
    case 'shutdown': return tollgateError('gatewayStopping');
    case 'frame-too-long': return tollgateError('realtimeUpstreamFrameTooLong', { limit: byteSize(MAX_MESSAGE_BYTES) });
    case 'client-frame-too-long': return tollgateError('realtimeClientFrameTooLong', { limit: byteSize(MAX_MESSAGE_BYTES) });
    case 'client-protocol-error': return tollgateError('realtimeClientFrameInvalid', { reason: s.brokenFrame!.reason });
    case 'provider-protocol-error': return tollgateError('realtimeUpstreamFrameInvalid', { reason: s.brokenFrame!.reason });
    case 'client-unheld':
    case 'provider-unheld': return tollgateError('realtimeMessageUnheld', { reason: `${s.unheldWhat ?? (why === 'client-unheld' ? 'the rest of a message of this session\'s client' : 'the rest of a message the provider is sending')} could not be held: ${UNHELD[s.unheldRoom ?? 'gateway']}` });
    default: return undefined;
  }
}
