// What a translated request may ask of the model that serves it: its output limit, a reasoning effort, the usage
// chunk of a stream, its stop sequences.
//
// An output limit carried across formats, fitted to the model that will serve it: SDKs set limits for the model
// they were written for (Claude Code asks for 32,000 tokens), and a model that allows fewer refuses the whole
// request — a native request keeps its limit as sent, a translated one is fitted, since the client named a
// limit in another model's terms.
import type { AttemptPlan } from '../../domain/routing.ts';
import { num } from '../formats/types.ts';

export function fittedOutputLimit(limit: unknown, plan: AttemptPlan): unknown {
  const most = plan.candidate.catalogModel?.maxOutputTokens ?? 0;
  return typeof limit === 'number' && most > 0 && limit > most ? most : limit;
}

/**
 * Whether the model takes `reasoning_effort` on chat completions: OpenAI's reasoning models, the ones whose output
 * limit field is `max_completion_tokens` (others refuse the field); DeepSeek's V4 models (`thinkingSwitch`: an effort
 * `none` becomes their switch turned off, params.ts); and a model reached through Messages (Claude), whose half of
 * the translation makes it Claude's thinking (chat-via-messages.ts).
 */
export function acceptsReasoningEffort(plan: AttemptPlan): boolean {
  return plan.candidate.catalogModel?.chatOutputLimitField !== undefined || plan.candidate.catalogModel?.thinkingSwitch === true || overMessages(plan);
}

/**
 * Claude's thinking setting (`{type: "enabled", budget_tokens}` or `{type: "adaptive"}`) → OpenAI's reasoning effort,
 * by the budget's size: for a chat model (messages-via-chat.ts), and for Claude itself where only an effort goes
 * (chat-via-messages.ts: adaptive thinking's `output_config.effort`).
 */
export function effortFor(thinking: Record<string, unknown>): string {
  const budget = num(thinking.budget_tokens);
  if (thinking.type === 'adaptive' || budget === 0) return 'medium';
  return budget < 4096 ? 'low' : budget < 16_384 ? 'medium' : 'high';
}

/** The surfaces a chat request reaches through Messages (composed.ts, translate/index.ts). */
const OVER_MESSAGES: ReadonlySet<string> = new Set(['messages', 'invoke', 'invoke-stream']);

/** Whether the chat request a translation writes goes on to Messages (Claude), not to a chat model. */
export function overMessages(plan: AttemptPlan): boolean {
  return OVER_MESSAGES.has(plan.candidate.surface.surface);
}

/**
 * Whether a translated stream asks for the provider's usage chunk, so it is metered on the provider's counts: as
 * on a native chat stream (attempt.ts), not from a custom server, which may refuse the option.
 */
export function asksUsageChunk(body: Record<string, unknown>, plan: AttemptPlan): boolean {
  return body.stream === true && !plan.candidate.provider.custom;
}

/** The most stop sequences chat completions takes (OpenAI's `stop`: "Up to 4 sequences"). */
const MAX_CHAT_STOP = 4;

/**
 * The stop sequences a chat model gets: at most 4 (OpenAI's limit, which the hosted compatible APIs copy; Messages
 * and Gemini take more), the first 4, and the caller reports the field as not sent whole. A custom server gets them all.
 */
export function chatStops(stops: readonly unknown[], plan: AttemptPlan): readonly unknown[] {
  return plan.candidate.provider.custom || stops.length <= MAX_CHAT_STOP ? stops : stops.slice(0, MAX_CHAT_STOP);
}
