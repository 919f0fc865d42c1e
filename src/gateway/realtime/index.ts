// OpenAI's Realtime API over WebSocket: `GET /v1/realtime?model=…` upgraded on the gateway's port (HTTP/1.1 only, as
// WebSockets are), relayed frame by frame to the provider's own WebSocket (its base URL's `/realtime`, ws scheme).
// Everything is decided before the upgrade — key, scope, credits, model, the session limit, and the provider's
// handshake, failing over to the next credential on 401/403/429/5xx — so every refusal is an HTTP error in the
// gateway's shape. Once upgraded there is no failover: the provider holds the conversation; a client event that
// starts billable work is relayed only while the account has credit, else refused with an `error` event and the
// session kept open, and a response the provider starts by itself (server VAD) meanwhile is cancelled. A response
// (the client's or the provider's own) holds the most it can cost from its admission until its usage is recorded, as
// an HTTP request does, so concurrent responses cannot spend credit the account does not have. Every
// `response.done` the provider sends is metered as a usage event, priced by kind of token; a response still open when
// the session ends is cancelled and given a moment to report its usage, and recorded as failed when it does not,
// billed on an estimate of what the client was sent of it.
// Input audio transcription, which the provider bills apart at the transcription model's prices, is metered from each
// `conversation.item.input_audio_transcription.completed`, and held for from the first append of the audio it
// transcribes until then (billing on). A session ends when its access key is deleted or no longer
// allows it, when the account's provider key it runs on is deleted or rotated, and when the Playground token that
// opened it expires (docs/decisions/gateway-behaviour.md, "Realtime").
//
// The modules: upgrade.ts (the client's upgrade request), handshake.ts (the provider's), gateway.ts (RealtimeGateway:
// admission, the relay loop, metering as events pass, a session's end), session.ts (its state), events.ts (the events
// read and written), holds.ts (credit holds), metering.ts (usage events), relay.ts (frames, limits, close codes),
// ending.ts (how a session's end is told), managed-key.ts (what the managed key's sessions do not show).
export { isRealtimeUpgrade, REALTIME_PATH } from './upgrade.ts';
export { RealtimeGateway } from './gateway.ts';
export { realtimeUsage } from './metering.ts';
export { audioByteRate } from './events.ts';
