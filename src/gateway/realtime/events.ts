// The OpenAI realtime events the gateway reads, the client's and the provider's, and those it writes: a message is
// parsed only when it holds the name of an event the gateway reads (most are audio and deltas, relayed unread), and of
// a session object only what metering needs (transcription, audio formats, output limit, modalities).
import type { TollgateError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { isRecord } from '../../domain/json-value.ts';
import { editedBodyText } from '../body-edit.ts';
import type { Session } from './session.ts';

export const DONE = Buffer.from('"response.done"');
export const CREATED = Buffer.from('"response.created"');
const CREATE = Buffer.from('"response.create"');
const APPEND = Buffer.from('"input_audio_buffer.append"');
const COMMIT = Buffer.from('"input_audio_buffer.commit"');
const BILLABLE = new Set(['response.create', 'input_audio_buffer.append', 'input_audio_buffer.commit']);
/** Client events that add to the conversation a response's hold counts (billing on): read only then. */
const ITEM_CREATE = Buffer.from('"conversation.item.create"');
const SESSION_UPDATE = Buffer.from('"session.update"');
/** The provider's refusal of a `response.create` while a response of the conversation runs. */
export const BUSY = 'conversation_already_has_active_response';
export const TRANSCRIBED = Buffer.from('"conversation.item.input_audio_transcription.completed"');
export const TRANSCRIPTION_FAILED = Buffer.from('"conversation.item.input_audio_transcription.failed"');
export const COMMITTED = Buffer.from('"input_audio_buffer.committed"');
export const CLEARED = Buffer.from('"input_audio_buffer.cleared"');
/** A JSON string may spell any character as an escape (`response\u002ecreate`): no byte search can rule such a message out. */
const BACKSLASH = 0x5c;
export const SESSION_CREATED = Buffer.from('"session.created"');
const TRANSCRIPTION = Buffer.from('transcription"');
export const SESSION_UPDATED = Buffer.from('"session.updated"');
export const ERROR = Buffer.from('"error"');

/** What ends the type of each output delta, whose relayed output estimates a response that never reports (#finish). */
export const DELTA = Buffer.from('.delta"');
/**
 * The deltas of output the model generates as text, billed as text output tokens: text, function call arguments, and
 * an audio response's transcript (OpenAI reports an audio response's output as text tokens beside its audio tokens).
 * GA names, then the beta's.
 */
export const TEXT_DELTAS = new Set(['response.output_text.delta', 'response.output_audio_transcript.delta', 'response.function_call_arguments.delta', 'response.text.delta', 'response.audio_transcript.delta']);
export const AUDIO_DELTAS = new Set(['response.output_audio.delta', 'response.audio.delta']);

/** A format whose rate is not known is held as the slowest the gateway knows (G.711): the most tokens per byte. */
export const SLOWEST_AUDIO_BYTES_PER_SECOND = 8000;
/** A session's output and input audio until it says otherwise: OpenAI's default, 24 kHz 16-bit mono PCM. */
export const DEFAULT_AUDIO_BYTES_PER_SECOND = 48_000;
/** The prefix of the `event_id` the gateway gives the `response.cancel` it sends of its own (a session's own follows it). */
export const OWN_EVENT = 'event_tollgate_';
/** What follows a session's own prefix in the `event_id` given to a client's `response.create` that had none. */
export const OWN_CREATE = 'create_';
/** The same for a client's `session.update` asking for input audio transcription (billing on). */
export const OWN_UPDATE = 'update_';

/**
 * A client event that starts work the provider bills: `response.create`; audio appended — under server VAD (a
 * session's default) the provider starts a response by itself when the speech in it stops, and no other client event
 * comes first; and audio committed — OpenAI: it "will trigger input audio transcription (if enabled in session
 * configuration)", billed at the transcription model's prices. A commit is refused whether or not transcription is on:
 * the gateway learns that only from the provider's `session.updated`, which a commit sent right after the client's
 * `session.update` can overtake. Not billable: `session.update`, `conversation.item.create`, `response.cancel`, and
 * the rest. Undefined for any other event; else the event, its type and the client's `event_id`, which its refusal
 * names.
 */
export function billableEvent(event: Record<string, unknown> | undefined): Billable | undefined {
  if (event === undefined || typeof event.type !== 'string' || !BILLABLE.has(event.type)) return undefined;
  return { type: event.type, clientEventId: clientEventIdOf(event), event };
}

export interface Billable { type: string; clientEventId: string | null; event: Record<string, unknown> }

/**
 * A client event the gateway reads: a billable one (billableEvent), and with `holds` (billing on) one adding to the
 * conversation (noteInput). Only a message holding such an event's name, or an escape that could spell it, is parsed;
 * undefined for any other.
 */
export function clientEvent(data: Buffer, holds: boolean): Record<string, unknown> | typeof UNREADABLE | undefined {
  if (!data.includes(CREATE) && !data.includes(APPEND) && !data.includes(COMMIT) && !data.includes(BACKSLASH) && !(holds && (data.includes(ITEM_CREATE) || data.includes(SESSION_UPDATE)))) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(data.toString('utf8'));
  } catch {
    return UNREADABLE;
  }
  return isRecord(event) ? event : undefined;
}

/**
 * A message that may name billable work (clientEvent's filter) and is no JSON text: a byte order mark before it, a
 * parser's leniency (a trailing comma, a comment). Relayed, it would pass the credit check unread, and
 * whether the provider's parser reads it is not the gateway's to guess: with billing on it is refused instead.
 */
export const UNREADABLE = Symbol('unreadable');

/** A client event's own `event_id`, which an `error` event answering it names; null when it gave none. */
export function clientEventIdOf(event: Record<string, unknown>): string | null {
  return typeof event.event_id === 'string' ? event.event_id : null;
}

/**
 * The transcription model a client's `session.update` turns on (transcriptionOf), with the client's `event_id`;
 * undefined for any other event, or one that turns none on. Only a message naming a transcription, or holding an
 * escape that could spell one, is parsed.
 */
export function transcriptionAsked(data: Buffer): { model: string; clientEventId: string | null } | undefined {
  if (!data.includes(TRANSCRIPTION) && !data.includes(BACKSLASH)) return undefined;
  const event = eventOf(data, 'session.update');
  if (!event) return undefined;
  const model = transcriptionOf(member(event, 'session'))?.model;
  return model !== undefined ? { model, clientEventId: clientEventIdOf(event) } : undefined;
}

/** A message as the event of `type` it is; undefined when it is not JSON or another event. */
export function eventOf(data: Buffer, type: string): Record<string, unknown> | undefined {
  let event: unknown;
  try {
    event = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  return isRecord(event) && event.type === type ? event : undefined;
}

export function member(value: unknown, name: string): Record<string, unknown> | undefined {
  const v = isRecord(value) ? value[name] : undefined;
  return isRecord(v) ? v : undefined;
}

/** Input audio transcription as a session turns it on: its model, and its prompt's bytes (a transcription reads it). */
export interface TranscriptionSetting { model: string; promptBytes: number }

/** The one a client's `session.update` asks for, and that update's `event_id`, which the provider's refusal names. */
export interface AskedTranscription extends TranscriptionSetting { eventId: string | null }

/**
 * The input audio transcription a session's configuration turns on, as the provider reports it (`session.created`,
 * `session.updated`) or a client's `session.update` asks: GA's `audio.input.transcription`, the beta's
 * `input_audio_transcription`. Null when it turns transcription off; undefined when the session object says neither
 * (the last one stands).
 */
export function transcriptionOf(session: Record<string, unknown> | undefined): TranscriptionSetting | null | undefined {
  const input = member(member(session, 'audio'), 'input');
  let config: unknown;
  if (input !== undefined && 'transcription' in input) config = input.transcription;
  else if (session !== undefined && 'input_audio_transcription' in session) config = session.input_audio_transcription;
  else return undefined;
  if (!isRecord(config) || typeof config.model !== 'string' || config.model === '') return null;
  return { model: config.model, promptBytes: typeof config.prompt === 'string' ? Buffer.byteLength(config.prompt) : 0 };
}

/**
 * Bytes a second of the output (or input) audio format a session object names (GA's `audio.output.format`, the beta's
 * `output_audio_format`; `audio.input.format`, `input_audio_format`): PCM 16-bit mono at its rate (24 kHz unless said),
 * G.711 a byte a sample at 8 kHz. Null for a format it does not know (its audio is not estimated); undefined when the
 * object names none (the last one stands).
 */
export function audioByteRate(session: Record<string, unknown> | undefined, direction: 'input' | 'output' = 'output'): number | null | undefined {
  const side = member(member(session, 'audio'), direction);
  const format = side !== undefined && 'format' in side ? side.format : session?.[`${direction}_audio_format`];
  if (format === undefined) return undefined;
  const type = isRecord(format) ? format.type : format;
  if (type === 'audio/pcm' || type === 'pcm16') {
    const rate = isRecord(format) ? format.rate : undefined;
    return 2 * (typeof rate === 'number' && Number.isInteger(rate) && rate > 0 ? rate : 24_000);
  }
  return type === 'audio/pcmu' || type === 'audio/pcma' || type === 'g711_ulaw' || type === 'g711_alaw' ? 8000 : null;
}

/**
 * `data` given an `event_id` of the session's own (`kind` after its prefix), and that id, when its `event` names none
 * — absent, or null — for the provider's refusal of it to name; undefined otherwise. A null member is replaced where
 * it stands (eventIdReplaced): a second member would leave the provider to pick one. An `event_id` of another type is
 * left as the client sent it, for the same reason.
 */
export function ownNamed(s: Session, data: Buffer, event: Record<string, unknown>, kind: string): [Buffer, string] | undefined {
  if ('event_id' in event && event.event_id !== null) return undefined;
  const eventId = `${s.ownEvent}${kind}${++s.ownNamed}`;
  const named = 'event_id' in event ? eventIdReplaced(data, event, eventId) : withEventId(data, eventId);
  return named === undefined ? undefined : [named, eventId];
}

/**
 * `data` (a JSON object, as parsed) with `eventId` as its `event_id`, every other member as the client wrote it
 * (body-edit.ts, as an HTTP body's edits): written again from the event as parsed, a number past 2^53 (an id in
 * `metadata`) or past a double's range would reach the provider changed. Of duplicate members the last is the one
 * parsed and the only one written: the provider reads the gateway's.
 */
function eventIdReplaced(data: Buffer, event: Record<string, unknown>, eventId: string): Buffer {
  return Buffer.from(editedBodyText(data.toString('utf8'), event, { ...event, event_id: eventId }));
}

/**
 * `data` (a JSON object, as parsed) with an `event_id` member first; undefined when its text does not open with the
 * object (no JSON text the gateway parsed as one does not).
 */
function withEventId(data: Buffer, eventId: string): Buffer | undefined {
  let at = 0;
  while (at < data.length && (data[at] === 0x20 || data[at] === 0x09 || data[at] === 0x0a || data[at] === 0x0d)) at++;
  if (data[at] !== 0x7b) return undefined;
  // The object has its `type` at least: a comma after the new member is always followed by another.
  return Buffer.concat([data.subarray(0, at + 1), Buffer.from(`"event_id":${JSON.stringify(eventId)},`), data.subarray(at + 1)]);
}

/**
 * A session's or a response's output limit (GA `max_output_tokens`, beta `max_response_output_tokens`) as OpenAI takes
 * it: a positive integer, or "inf" (Infinity); undefined when unsaid, or anything else.
 */
export function outputLimitIn(config: Record<string, unknown> | undefined): number | undefined {
  const value = config?.max_output_tokens ?? config?.max_response_output_tokens;
  if (value === 'inf') return Infinity;
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

/** Whether a session or a response's output may be audio (GA `output_modalities`, beta `modalities`); undefined: unsaid. */
export function speaksIn(config: Record<string, unknown> | undefined): boolean | undefined {
  const modalities = config?.output_modalities ?? config?.modalities;
  return Array.isArray(modalities) ? modalities.includes('audio') : undefined;
}

/**
 * OpenAI's `error` server event, which the SDK raises as an error: the code and message are the gateway's, and
 * `error.event_id` the client event it refuses (null when none, or when none is refused).
 */
export function errorEvent(error: TollgateError, clientEventId: string | null = null): Record<string, unknown> {
  return {
    type: 'error', event_id: `event_${newId('request').slice(3)}`,
    error: { type: error.spec.type ?? 'api_error', code: error.code, message: error.message, param: null, event_id: clientEventId },
  };
}
