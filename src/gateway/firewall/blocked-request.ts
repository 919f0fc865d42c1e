// A request a request rule blocked never reaches a model: it is answered here as ngrok's Firewall answers, "a normal
// response that tells the model what was blocked and why, so the agent can change course". The answer is written as
// a chat completion and put in the client's format by the translators that serve other models (translate/), JSON or
// a stream as the request asked: an assistant turn with the block's text, ended normally, with no usage. The formats
// no translator writes (Bedrock's, Gemini Interactions', legacy completions') are written here.
import type { ApiSurface, SurfaceSpec } from '../../catalog/types.ts';
import { blockedText, type FirewallFinding } from '../../domain/firewall.ts';
import { streamsAnswer } from '../../domain/request-shape.ts';
import { obj } from '../formats/types.ts';
import type { RequestContext } from '../context.ts';
import { baseHeaders, headerText, H_ATTEMPTS, H_MODEL, H_REJECTED, type OutHeaders } from '../headers.ts';
import { translatorFor, type TranslationScope } from '../translate/index.ts';
import { withFirewallHeader } from './index.ts';
import { recordBlockedRequest } from '../meter.ts';
import type { AttemptPlan } from '../../domain/routing.ts';
import { eventFrame } from '../formats/bedrock.ts';
import { sseAsChunks } from './event-stream.ts';

const CHAT: SurfaceSpec = { format: 'openai', surface: 'chat-completions', path: '/chat/completions' };
const MESSAGES = { format: 'anthropic', surface: 'messages' } as const;

/**
 * The answer on Bedrock's own operations, which no translator writes: Converse's message (ConverseStream's frames, its
 * metadata last, as Bedrock ends one), or for Claude's InvokeModel Messages' answer (its events in `chunk` frames).
 */
function bedrockAnswer(answer: Record<string, unknown>, text: string, streaming: boolean, scope: TranslationScope, surface: ApiSurface): Buffer {
  const usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  if (surface === 'converse') return Buffer.from(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 0 } }));
  if (surface === 'converse-stream') {
    return Buffer.concat([
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
      eventFrame('metadata', { usage, metrics: { latencyMs: 0 } }),
    ]);
  }
  const messages = translatorFor(MESSAGES, CHAT)!;
  if (!streaming) return Buffer.from(JSON.stringify(messages.answer(answer, scope)));
  const translation = messages.stream(scope);
  for (const data of chatEvents(answer, text, false)) translation.event('', data);
  return Buffer.concat(sseAsChunks(translation.take() + translation.finish()));
}

/**
 * Gemini Interactions' answer, which no translator writes: a completed Interaction of one `model_output` step, or its
 * stream's events (created, the step's start, text and stop, completed, then the SDK's `[DONE]`).
 */
function interactionAnswer(answer: Record<string, unknown>, text: string, streaming: boolean, requestId: string): string {
  const stamp = new Date().toISOString();
  const interaction = { id: `v1_fw_${requestId}`, object: 'interaction', model: answer.model, created: stamp, updated: stamp };
  const usage = { total_input_tokens: 0, total_output_tokens: 0, total_tokens: 0 };
  if (!streaming) return JSON.stringify({ ...interaction, status: 'completed', steps: [{ type: 'model_output', content: [{ type: 'text', text }] }], usage });
  const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ event_type: type, ...data })}\n\n`;
  return event('interaction.created', { interaction: { ...interaction, status: 'in_progress' } })
    + event('step.start', { index: 0, step: { type: 'model_output' } })
    + event('step.delta', { index: 0, delta: { type: 'text', text } })
    + event('step.stop', { index: 0 })
    + event('interaction.completed', { interaction: { ...interaction, status: 'completed', usage } })
    + 'data: [DONE]\n\n';
}

/** Legacy completions' answer (no translator writes one either): a text completion, or its stream's chunks. */
function completionAnswer(answer: Record<string, unknown>, text: string, streaming: boolean, includeUsage: boolean): string {
  const { id, created, model, usage } = answer;
  const completion = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ id: String(id).replace('chatcmpl-', 'cmpl-'), object: 'text_completion', created, model, choices, ...extra });
  if (!streaming) return JSON.stringify(completion([{ text, index: 0, logprobs: null, finish_reason: 'stop' }], { usage }));
  const chunks = [
    completion([{ text, index: 0, logprobs: null, finish_reason: null }]),
    completion([{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }]),
  ];
  if (includeUsage) chunks.push(completion([], { usage }));
  return [...chunks.map((c) => JSON.stringify(c)), '[DONE]'].map((data) => `data: ${data}\n\n`).join('');
}

function chatAnswer(model: string, text: string): Record<string, unknown> {
  return {
    id: `chatcmpl-${Date.now().toString(36)}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}

/** The chat stream of the same answer: the text, the stop, the usage chunk when asked for, `[DONE]`. */
function chatEvents(answer: Record<string, unknown>, text: string, includeUsage: boolean): string[] {
  const { id, created, model } = answer;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra });
  const events = [
    chunk([{ index: 0, delta: { role: 'assistant', content: text }, logprobs: null, finish_reason: null }]),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
  ];
  if (includeUsage) events.push(chunk([], { usage: answer.usage }));
  events.push('[DONE]');
  return events;
}

/**
 * Answers a request a request rule blocked, and records it in usage (meter.ts, recordBlockedRequest). `plan`: the
 * attempt it would have made first (its model is Ngrok-AIG-Model and the answer's `model`).
 */
export function answerBlockedRequest(ctx: RequestContext, finding: FirewallFinding, plan: AttemptPlan): void {
  const model = plan.candidate.upstreamModelId ?? plan.candidate.modelId;
  const text = blockedText(finding, 'this request');
  const answer = chatAnswer(model, text);
  const body = ctx.body!;
  const streaming = streamsAnswer(body, ctx.route.surface);
  // The client's format from chat's, as a chat-completions model's answer is translated for it.
  const surface = ctx.route.surface;
  const ownFormat = ctx.route.format === 'bedrock' || surface === 'interactions' || surface === 'completions';
  const translator = ownFormat ? undefined : translatorFor(ctx.route, CHAT);
  const scope: TranslationScope = { accountId: ctx.key!.accountId, keep: body.store !== false, includeUsage: obj(body.stream_options)?.include_usage === true, request: body, inputTokens: () => 0 };
  const headers: OutHeaders = baseHeaders(ctx.requestId);
  headers[H_ATTEMPTS] = '0';
  headers[H_MODEL] = headerText(model);
  if (ctx.rejectedModels) headers[H_REJECTED] = ctx.rejectedModels;
  headers[ctx.route.format === 'anthropic' ? 'request-id' : 'x-request-id'] = ctx.requestId;
  withFirewallHeader(ctx, headers);
  let out: string | Buffer;
  if (ctx.route.format === 'bedrock') {
    out = bedrockAnswer(answer, text, streaming, scope, ctx.route.surface);
    headers['content-type'] = streaming ? 'application/vnd.amazon.eventstream' : 'application/json';
    headers['x-amzn-requestid'] = ctx.requestId;
  } else if (ownFormat) {
    out = surface === 'interactions' ? interactionAnswer(answer, text, streaming, ctx.requestId) : completionAnswer(answer, text, streaming, scope.includeUsage);
    headers['content-type'] = streaming ? 'text/event-stream' : 'application/json';
    if (streaming) headers['cache-control'] = 'no-cache';
  } else if (streaming) {
    const events = chatEvents(answer, text, scope.includeUsage);
    if (translator) {
      const translation = translator.stream(scope);
      for (const data of events) translation.event('', data);
      out = Buffer.concat([translation.take(), translation.finish()].map((part) => Buffer.from(part)));
    } else {
      out = events.map((data) => `data: ${data}\n\n`).join('');
    }
    headers['content-type'] = 'text/event-stream';
    headers['cache-control'] = 'no-cache';
  } else {
    out = JSON.stringify(translator ? translator.answer(answer, scope) : answer);
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = Buffer.byteLength(out);
  ctx.firstByteAt = performance.now();
  ctx.res.writeHead(200, headers);
  ctx.res.end(out);
  ctx.endedAt = performance.now();
  recordBlockedRequest(ctx, plan, streaming);
  ctx.blockedPlan = plan;
  ctx.deps.observer?.answered(ctx);
}
