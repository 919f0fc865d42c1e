// A session's credit holds (billing on), as an HTTP request's: the most a response or a transcription can cost, held
// from its admission until its usage is recorded, so concurrent work cannot spend credit the account does not have;
// and the conversation a response's hold counts, as the gateway sees it grow.
import { audioDurationPico, reservationPico } from '../../domain/cost.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import type { CatalogModel } from '../../catalog/types.ts';
import type { GatewayDeps } from '../context.ts';
import { holdCredit, type Admission } from '../pipeline.ts';
import { num, TEXT_ESTIMATE_CAP } from '../formats/types.ts';
import { outputEstimate } from '../meter.ts';
import { UNBOUNDED_OUTPUT_TOKENS } from '../../domain/params.ts';
import type { Reservation } from '../../usage/ledger.ts';
import { clientEventIdOf, member, transcriptionOf, outputLimitIn, speaksIn, type TranscriptionSetting } from './events.ts';
import type { Session } from './session.ts';

/** The user's audio, one token per 100 ms (the same page). */
const AUDIO_INPUT_TOKENS_PER_SECOND = 10;

/** A client event's content as a hold counts it: its text (as JSON, base64 audio taken out) and its audio's bytes. */
function contentOf(value: unknown): { text: string; audioBytes: number } {
  let audioBytes = 0;
  const text = JSON.stringify(value, (key, v: unknown) => {
    if (key !== 'audio' || typeof v !== 'string') return v;
    audioBytes += Buffer.byteLength(v, 'base64');
    return undefined;
  }) ?? '';
  return { text, audioBytes };
}

/** The members of `parts` that are set; undefined when none is (nothing to count, not even `{}`). */
function defined(parts: Record<string, unknown>): Record<string, unknown> | undefined {
  const set = Object.entries(parts).filter(([, v]) => v !== undefined);
  return set.length > 0 ? Object.fromEntries(set) : undefined;
}

/** Audio tokens of `bytes` of the session's input audio. */
function inputAudioTokens(s: Session, bytes: number): number {
  return (bytes / s.inputAudioBytesPerSecond) * AUDIO_INPUT_TOKENS_PER_SECOND;
}

/** `text` counted on the tokenizer thread (the first 64 KiB, scaled, as an HTTP stream's text is) into the conversation. */
function countInto(s: Session, text: string, apply: (tokens: number) => void): void {
  if (text === '') return;
  const bytes = Buffer.byteLength(text);
  // One piece is kept whole by appendText: cut here, so a large item costs the shared tokenizer thread 64 KiB, scaled.
  const facts = { text: text.length > TEXT_ESTIMATE_CAP ? text.slice(0, TEXT_ESTIMATE_CAP) : text, textChars: text.length };
  s.conversation.countingBytes += bytes;
  void outputEstimate(facts).then((tokens) => {
    s.conversation.countingBytes -= bytes;
    apply(tokens);
  });
}

/** A client event relayed (billing on): what it adds to the conversation, for later responses' holds. */
export function noteInput(s: Session, event: Record<string, unknown>): void {
  const c = s.conversation;
  if (event.type === 'input_audio_buffer.append') {
    c.audioTokens += inputAudioTokens(s, contentOf({ audio: event.audio }).audioBytes);
  } else if (event.type === 'conversation.item.create') {
    const { text, audioBytes } = contentOf(event.item);
    c.audioTokens += inputAudioTokens(s, audioBytes);
    countInto(s, text, (tokens) => { c.textTokens += tokens; });
  } else if (event.type === 'session.update') {
    const session = member(event, 'session');
    countInto(s, contentOf(defined({ instructions: session?.instructions, tools: session?.tools })).text, (tokens) => { c.instructionsTokens = Math.max(c.instructionsTokens, tokens); });
    const transcription = transcriptionOf(session);
    if (transcription !== undefined) s.askedTranscription = transcription === null ? undefined : { ...transcription, eventId: clientEventIdOf(event) };
  }
}

/**
 * The provider refused the `session.update` asking for the transcription the buffer is held at: the session has what
 * it had, and the buffer's hold is brought back to that (nothing when transcription is off), as if never asked.
 */
export function askRefused(s: Session): void {
  s.askedTranscription = undefined;
  const { buffer } = s;
  const hold = buffer.hold;
  if (hold === undefined) return;
  const bound = bufferHold(s, buffer.bytes);
  if (bound === undefined) {
    s.deps.ledger?.release(hold);
    s.buffer = { bytes: buffer.bytes, hold: undefined, fixed: 0n };
    return;
  }
  s.deps.ledger?.reduce(hold, hold.pico - bound.total);
  buffer.fixed = bound.fixed;
}

/**
 * What of the account's holds a billable client event is not refused for: its input audio buffer's own — for an
 * append, the part no append adds to (its audio is checked on the rest of the balance, so no buffer's audio runs past
 * it); for a commit, which adds nothing, all of it.
 */
export function bufferAllowance(s: Session, type: string): bigint {
  const hold = s.buffer.hold;
  if (hold === undefined || !hold.open) return 0n;
  if (type === 'input_audio_buffer.append') return s.buffer.fixed;
  return type === 'input_audio_buffer.commit' ? hold.pico : 0n;
}

/**
 * Audio appended, or a commit, admitted (billing on): while transcription may be on, the buffer holds the most its
 * transcription can cost (bufferHold) — taken at its first append, or at a commit of a buffer nothing held, as a
 * `response.create`'s is (refused when other holds cover the balance); grown by each later append to the bound of all
 * the buffer's audio. Throws the credit refusal.
 */
export function holdBuffer(s: Session, ledger: NonNullable<GatewayDeps['ledger']>, event: Record<string, unknown>): void {
  const buffer = s.buffer;
  const bytes = buffer.bytes + (event.type === 'input_audio_buffer.append' ? contentOf({ audio: event.audio }).audioBytes : 0);
  const bound = bufferHold(s, bytes);
  if (bound !== undefined) {
    if (buffer.hold === undefined) buffer.hold = holdCredit(creditCheck(s), ledger, bound.total);
    else ledger.enlarge(buffer.hold, bound.total - buffer.hold.pico);
    if (bound.fixed > buffer.fixed) buffer.fixed = bound.fixed;
  }
  buffer.bytes = bytes;
}

/**
 * The hold of a transcription the provider started on audio its buffer held nothing for — appended while
 * transcription was off, or on its way as the provider committed the audio before it: it cannot be refused, so it
 * holds its bound if credit is left, and nothing when none is.
 */
export function lateHold(s: Session, setting: TranscriptionSetting, audioBytes: number): Reservation | undefined {
  return s.deps.ledger?.reserve(s.key!.accountId, transcriptionHold(s, setting, audioBytes).total);
}

/**
 * A response's reported usage: its output joins the conversation (later responses read it), and what it read, as the
 * provider counted it, raises the gateway's figure (the provider holds what the gateway never saw: its own default
 * instructions, items of an earlier connection's conversation).
 */
export function noteResponse(s: Session, usage: Record<string, unknown> | undefined): void {
  const c = s.conversation;
  const input = num(usage?.input_tokens);
  const output = num(usage?.output_tokens);
  const audioIn = Math.min(num(member(usage, 'input_token_details')?.audio_tokens), input);
  const audioOut = Math.min(num(member(usage, 'output_token_details')?.audio_tokens), output);
  c.audioTokens = Math.max(c.audioTokens + audioOut, audioIn + audioOut);
  c.textTokens = Math.max(c.textTokens + output - audioOut, input - audioIn - c.instructionsTokens + output - audioOut);
}

/**
 * The most a response can cost, held from its admission until its usage is recorded (docs/decisions/usage-durability.md,
 * "Overshoot bound"): the session's input as known (Conversation) and `create`'s own (its instructions, tools and input
 * items, a token a byte: it is held before the tokenizer could count it), no more than the model's context window, at
 * the input prices (audio at the audio one); and its output limit — the create's, else the session's, within the
 * model's maximum, else 16,384 as an HTTP request's — at the output price, the audio one when it may speak; and the
 * processing fee on all of it. Model prices on the managed key only, as an HTTP hold (cost.ts reservationPico).
 */
export function responseHold(s: Session, create: Record<string, unknown> | undefined): bigint {
  const plan = s.plan!;
  const model = plan.candidate.catalogModel;
  const c = s.conversation;
  const own = contentOf(create === undefined ? undefined : defined({ instructions: create.instructions, tools: create.tools, input: create.input }));
  let audio = Math.ceil(c.audioTokens + inputAudioTokens(s, own.audioBytes) - 1e-6);
  let text = c.textTokens + c.instructionsTokens + c.countingBytes + Buffer.byteLength(own.text);
  // The provider truncates a conversation past the context window: no response reads more (audio is the dearer).
  if (model?.contextWindow) {
    audio = Math.min(audio, model.contextWindow);
    text = Math.min(text, model.contextWindow - audio);
  }
  const limit = outputLimitIn(create) ?? s.outputLimit ?? Infinity;
  const maximum = model?.maxOutputTokens ? model.maxOutputTokens : Infinity;
  const most = Math.min(limit, maximum);
  const output = most === Infinity ? UNBOUNDED_OUTPUT_TOKENS : most;
  const audioPrice = model?.priceMicro?.audio;
  const speaks = speaksIn(create) ?? s.outputAudio;
  const outputAsAudio = speaks && (audioPrice?.output ?? 0n) > (model?.priceMicro?.output ?? 0n);
  const fee = s.deps.options.processingFeeMicroUsdPerMtok;
  const now = Date.now();
  return reservationPico(text, outputAsAudio ? 0 : output, plan, fee, 0, now, now) + reservationPico(audio, outputAsAudio ? output : 0, audioPriced(plan), fee, 0, now, now);
}

/** `plan` priced at its model's audio prices (`CatalogPricing.audio`), as cost.ts prices an audio iteration; else as it is. */
function audioPriced(plan: AttemptPlan): AttemptPlan {
  const model = plan.candidate.catalogModel;
  const audio = model?.priceMicro?.audio;
  return model && audio ? { ...plan, candidate: { ...plan.candidate, catalogModel: { ...model, priceMicro: audio } } } : plan;
}

/** The session's credential serving a transcription by `model`, priced as the catalog prices it (unpriced when unknown). */
export function transcriptionPlan(s: Session, model: string): AttemptPlan {
  const plan = s.plan!;
  const served = plan.candidate;
  const catalogModel: CatalogModel | undefined = s.deps.catalog.model(served.provider.id, model);
  return { ...plan, candidate: { ...served, modelId: model, displayName: catalogModel?.displayName ?? model, catalogModel } };
}

/**
 * The most a transcription by `setting` of `audioBytes` of the session's input audio can cost, as the provider bills
 * it (metering.ts recordTranscription): by the audio's length at a per-minute price — no tokens, no fee — or by tokens: the
 * audio at OpenAI's 10 tokens a second of user audio at the audio input price, the prompt a token a byte at the text
 * input price, and the model's output limit (else 16,384, as an HTTP request's) at the output price, with the fee on
 * those tokens. The audio's part is priced on the whole buffer's length, never summed from rounded appends. `fixed`:
 * the part the audio does not change (the prompt and the output), which a buffer holds from its first append. Model
 * prices on the managed key only, as every hold (cost.ts reservationPico).
 */
function transcriptionHold(s: Session, setting: TranscriptionSetting, audioBytes: number): { fixed: bigint; total: bigint } {
  const plan = transcriptionPlan(s, setting.model);
  const model = plan.candidate.catalogModel;
  const seconds = audioBytes / s.inputAudioBytesPerSecond;
  const perMinute = model?.priceMicro?.audioMinutePico;
  if (perMinute !== undefined) {
    if (plan.keySource !== 'ngrok') return { fixed: 0n, total: 0n };
    return { fixed: 0n, total: audioDurationPico(seconds * 1000, perMinute) };
  }
  const fee = s.deps.options.processingFeeMicroUsdPerMtok;
  const now = Date.now();
  const output = model?.maxOutputTokens ? model.maxOutputTokens : UNBOUNDED_OUTPUT_TOKENS;
  const fixed = reservationPico(setting.promptBytes, output, plan, fee, 0, now, now);
  const audio = Math.max(0, Math.ceil(seconds * AUDIO_INPUT_TOKENS_PER_SECOND - 1e-6));
  return { fixed, total: fixed + reservationPico(audio, 0, audioPriced(plan), fee, 0, now, now) };
}

/**
 * The hold of a transcription of `audioBytes` of the buffer by whichever model may transcribe it — the one the provider
 * last reported, or the one the client's `session.update` relayed since asks — the dearer; undefined when
 * transcription is off.
 */
function bufferHold(s: Session, audioBytes: number): { fixed: bigint; total: bigint } | undefined {
  let most: { fixed: bigint; total: bigint } | undefined;
  for (const setting of [s.transcription, s.askedTranscription]) {
    if (setting === undefined) continue;
    const hold = transcriptionHold(s, setting, audioBytes);
    if (most === undefined || hold.total > most.total) most = hold;
  }
  return most;
}

/**
 * The session's credit check as an HTTP request's, on the account's current snapshot: the ledger reads the balance
 * again when the snapshot changed (a grant), and a stale one would make it read on every check.
 */
export function creditCheck(s: Session): Admission {
  const key = s.key!;
  let account = s.account!;
  try {
    account = s.deps.state.account(key.accountId);
  } catch {
    // The account is no longer loaded here (deleted): the session's own snapshot decides.
  }
  return { deps: s.deps, key, account };
}
