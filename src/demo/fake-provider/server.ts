// A fake LLM provider on 127.0.0.1 speaking the OpenAI and Anthropic wire formats. It serves the demo
// (no provider account needed) and the gateway tests, which script it per request:
//   credential `sk-NNN` (e.g. sk-429, sk-401, sk-500) → that HTTP status with the provider's error body
//   credential `sk-reset`                              → socket destroyed before any response
//   credential `sk-hang…`                              → the request read whole, then no answer at all (until the caller leaves)
//   credential `sk-429-ms`                             → 429 with Azure's `retry-after-ms: 2500` and no `retry-after`
//   credential `sk-429-reset`                          → 429 without `retry-after`, with OpenAI's `x-ratelimit-*` headers (requests reset in 6m0s)
//   credential `sk-429-gemini`                         → 429 as Gemini's OpenAI-compatible API answers: no `retry-after`, the wait
//                                                         only in the body (`google.rpc.RetryInfo` `retryDelay: "1.2s"`)
//   credential `sk-429-after-VALUE`                    → 429 with `retry-after: VALUE` (URI-decoded: `-1`, an HTTP-date, garbage)
//   credential `sk-tpm-small`                          → a key whose tokens-per-minute limit is below a big request's size: a request
//                                                         body over 4000 bytes gets OpenAI's 429 "Request too large for …" (no
//                                                         Retry-After); smaller ones are served
//   credential `sk-429-count`                          → 429 with `retry-after: 60` on token counting only (Anthropic limits counting
//                                                         apart from Messages); every other request is served
//   credential `sk-invalid-key`                        → 400 as Gemini's OpenAI-compatible API answers a key that is not valid:
//                                                         Google's google.rpc.Status (reason API_KEY_INVALID) in a JSON array
//   credential `sk-quota`                              → 429 `insufficient_quota`, as OpenAI answers for an account out of credit
//                                                         (Anthropic format: 400 "Your credit balance is too low…", as Anthropic answers)
//   model `fail-NNN-…`                                 → that HTTP status, whatever the key
//   model `fail-NNN-html-…`                            → that status with an HTML error page (a proxy's), not the provider's JSON
//   model `slow-…` / `slow-MS-…`                       → waits MS (default 1500) before answering
//   model `slow-MS-fail-NNN-…`                         → waits MS, then that HTTP status
//   `metadata.fake_delay_ms: "MS"` (any model)           → waits MS before answering (a catalog model kept in flight)
//   model `cut-…`                                      → answer cut mid-way (socket destroyed)
//   model `short-…`                                    → stream ended cleanly half-way (no finish, no final event)
//   model `mixedcase-…`                                → stream sent as `Text/Event-Stream`
//   model `overloaded-…`                               → 200 stream whose first event is an error (Anthropic's overloaded_error);
//                                                         Responses: the error after response.created and response.in_progress
//   model `commented-overloaded-…`                     → 200 stream: an SSE comment (`: PROCESSING`), then the error event
//   model `late-overloaded-…` (Messages)               → 200 stream: message_start, ping, then overloaded_error
//   model `ratelimited-…` (Responses)                  → 200 stream: response.created, response.in_progress, then a too_many_requests error
//                         (chat, Messages)             → 200 stream whose first event is a rate-limit error
//   model `refused-…` (chat, Messages)                 → 200 stream whose first event is the request's own fault (invalid_request_error,
//                                                         as vLLM-style servers report a prompt over the context window)
//   model `silent-MS-…`                                → stream head sent at once, first event after MS
//   model `hangup-…`                                   → stream head, then the connection drops before any event
//   model `empty-…`                                    → stream head, then a clean end with no event
//   model `unnamed-…`                                  → stream events without `event:` lines (some compatible servers)
//   model `nodone-…`                                   → stream complete but for its final event ([DONE], message_stop)
//   model `drip-…` / `drip-MS-…`                       → streamed events 150 ms (MS) apart
//   model `quiet-MS-…`                                 → stream: two events at once, then nothing for MS, then the rest
//                                                         (JSON: the first half at once, the rest after MS)
//   model `linger-MS-…`                                → stream complete at once, its connection ended only MS later
//   model `linger-MS-stray-…`                          → the same, with an error event 20 ms after the final event
//   model `nousage-…`                                  → no usage reported
//   model `think-…`, `tool-think-…` (Messages)         → a signed thinking block before the text or call (FAKE_THINKING), buffered and streamed
//                                   (chat)             → `reasoning_content` before the text or call, as DeepSeek; a later request whose
//                                                         assistant message with tool calls lacks its `reasoning_content` → 400 as DeepSeek answers
//   Messages request with thinking on continuing a turn of tool use, or a prefill, whose assistant turn does not start
//   with thinking, or any thinking block not signed FAKE_THINKING.signature → 400 as Anthropic answers
//   Responses request offering a hosted web search tool (`web_search`, `web_search_preview…`) → the answer runs
//                                                         FAKE_WEB_SEARCHES searches (`web_search_call` items) first
//   Responses request asking for reasoning (`reasoning.effort` other than `none`) → the answer opens with a reasoning
//                                                         item, with `encrypted_content` when `include` names `reasoning.encrypted_content`
//   Responses request with `store: false` sending back a reasoning item without `encrypted_content` → 404 as OpenAI answers
//                                                         (nothing was stored to find it by its id)
//   Responses request offering `code_interpreter`      → the answer first runs code in FAKE_CONTAINER_ID (a
//                                                         `code_interpreter_call` item naming it)
//   Responses request offering a hosted `shell` (`container_auto`) → the answer runs a command in FAKE_CONTAINER_ID (a
//                                                         `shell_call` item naming it in its `environment`)
//   Messages request offering `code_execution_…`       → the answer first runs a bash command in a container, and
//                                                         reports FAKE_WEB_SEARCHES searches when `web_search_…` is offered
//   Messages request offering Anthropic's advisor tool (`advisor_…` with a `model`) → its usage reports `iterations`: an
//                                                         advisor call (FAKE_ADVISOR_USAGE, on that model) beside the executor's
//   model `tool-…` (chat or Messages, tools offered)   → calls the first (or forced) tool, unless the last message is a tool result
//                                                         with `{"city":"Paris"}`, or `{"input": FAKE_TOOL_INPUT}` when the
//                                                         tool's parameters have an `input` property
//   model `tool-each-…` (chat or Messages, tools offered) → calls every offered tool in one answer, in order
//   model `tool-…-said-…` (chat)                      → a line of text before its calls ("Let me do that."), streamed first
//   model `tool-…-drip-N-…` (stream)                   → as `drip-N-`: each event its own write, N ms apart
//   a chat request asking for the `firewall_decision` structured output → the fake Firewall decision model (firewallJudgement)
//   any other request asking for JSON under a schema (`response_format`, `text.format`, `output_config.format`, `output_format`)
//                                                      → its text is JSON fitting the schema, each string the usual answer (structured-output.ts)
//   model `tool-latename-…` (chat stream)              → the call's name comes with its second argument piece, not its first
//   model `tool-cut-…` (chat)                          → the call's arguments stop halfway, finish_reason `length` (a model
//                                                         at its output limit)
//   model `tool-noargs-…` (chat)                       → the call's arguments are "" (some servers call a tool taking none so)
//   model `refusal-…` (chat)                           → the model refuses: `content` null, `refusal` FAKE_REFUSAL (streamed as
//                                                         `refusal` deltas), finish_reason `stop`, as OpenAI's structured outputs refuse
//   chat tools or calls whose names break OpenAI's rule (over 64 characters, or not [a-zA-Z0-9_-]) → 400 as OpenAI answers
//   Messages request with `tool_use` or `tool_result` blocks and no `tools` → 400 as Anthropic answers
//   Messages request with a base64 image of a type other than JPEG, PNG, GIF or WebP (`image/jpg` too) → 400 as Anthropic answers
//   Messages request with an image by URL that is not http(s) (a data URL sent as a URL) → 400, as Anthropic cannot download it
//   `tool_choice` none (chat's `"none"`, Messages' `{type: "none"}`) → no call, whatever the model
//   model `chained-…`                                  → answers with a chained gateway's Ngrok-AIG-* headers
//   model `flood-…`                                    → a 16 MB answer (fills socket buffers)
//   model `redirect-…`                                 → 307 to another host (a misconfigured base URL)
//   legacy completions: `n` choices, `echo` (the prompt before each text), `best_of` candidates billed as output
//   embeddings: a vector per input (a string or an array of token ids is one), `dimensions` floats each, written as
//                                                         base64 float32 for `encoding_format: "base64"` (the SDK's default)
//                                                         at Google's `…/v1beta/openai/embeddings`: no `usage`, as Google answers
//   model `gzip-…` (also `gzip-fail-NNN-`, `gzip-drip-`) → answer gzip-compressed whatever accept-encoding said
//                                                         (streams flushed per event)
//   model `gzip-bomb-…` (JSON)                         → the answer padded with 65 MiB of spaces, gzip-compressed (~65 KB)
// Gemini's native API (`/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`,
// `:batchEmbedContents`, `:embedContent`) and its Interactions API (`POST /interactions`): see gemini.ts.
// `/messages/count_tokens` answers `{"input_tokens": 42}` (scripted by key and model like the rest), and 400 for a
// body with `max_tokens` or `stream`, as Anthropic refuses them there.
// Every request is recorded (method, path, headers, parsed body) and whether the client went away — except as
// `tollgate fake-provider` runs it (`record: false`), which may run for days.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createGzip, gzipSync } from 'node:zlib';
import { askedSchema, sampleOf } from './structured-output.ts';
import { geminiCallOf, googleKeyInvalidError, handleGemini, handleInteractions, INVALID_GOOGLE_KEY, isInteractionsCall } from './gemini.ts';
import { COUNT_TOKENS_REFUSED, FAKE_CONTAINER_ID, FAKE_REFUSAL, FAKE_THINKING, FAKE_TOOL_INPUT, FAKE_WEB_SEARCHES, embeddingDimensions, errorBody, offeredCodeExecution, offersCodeInterpreter, offersHostedShell, offeredAdvisor, offersWebSearch, formatOf, jsonAnswer, streamEvents, surfaceOfPath, unstoredReasoningError, type AnswerSpec, type FakeSurface, type FakeToolCall } from './wire.ts';

/** What real providers say about the account behind the key (organization, project, rate limits) on every answer. */
function accountHeaders(format: 'openai' | 'anthropic'): Record<string, string> {
  return format === 'anthropic'
    ? { 'anthropic-organization-id': 'fake-org-0000', 'anthropic-ratelimit-requests-limit': '4000', 'anthropic-ratelimit-requests-remaining': '3999' }
    : { 'openai-organization': 'fake-org', 'openai-project': 'proj_fake', 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '9999' };
}

/** An overload reported inside a 200 stream, as each format's provider sends it. */
function overloadedEvent(format: 'openai' | 'anthropic'): string {
  return format === 'anthropic'
    ? 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    : 'data: {"error":{"message":"The server is overloaded.","type":"server_error","code":null}}\n\n';
}

/** What another ngrok-style gateway in front of the provider adds to its answers. */
const CHAINED_GATEWAY_HEADERS = { 'Ngrok-AIG-Request-Id': 'rq_01UPSTREAMGATEWAY000000000', 'Ngrok-AIG-Attempts': '3', 'Ngrok-AIG-Model': 'openai:gpt-4o', 'Ngrok-AIG-Rejected-Models': 'x' };

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string, without its `?` ('' when none). */
  query: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: Record<string, unknown> | undefined;
  /** The client (the gateway) closed the connection before the answer was complete. */
  aborted: boolean;
  completed: boolean;
  /** The status the fake answered with; 0 while it has not, or when it dropped the connection instead. */
  readonly status: number;
}

export interface FakeProvider {
  url: string;
  requests: RecordedRequest[];
  events: EventEmitter<{ request: [RecordedRequest]; aborted: [RecordedRequest] }>;
  reset(): void;
  /** Resolves when a recorded request matching `test` was aborted by its client. */
  waitForAbort(test: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function credentialOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key : '';
}

function lastUserText(body: Record<string, unknown>): string {
  const fromContent = (c: unknown): string => {
    if (typeof c === 'string') return c;
    if (Array.isArray(c)) return c.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join(' ');
    return '';
  };
  const messages = Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : undefined;
  if (messages) {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i] as { role?: unknown; content?: unknown } | undefined;
      if (m && (m.role === 'user' || m.role === undefined)) return fromContent(m.content);
    }
  }
  if (typeof body.input === 'string') return body.input;
  if (typeof body.prompt === 'string') return body.prompt;
  return '';
}

/** Usage the fake decision model reports for each judgement. */
/** What a `-said-` tool model says before its calls. */
export const FAKE_SAID = 'Let me do that.';

export const FAKE_JUDGE_USAGE = { prompt_tokens: 120, completion_tokens: 6, total_tokens: 126 };

/** A Firewall decision model's call (gateway/firewall/decision.ts): its structured output asks for a verdict. */
function isFirewallJudgement(body: Record<string, unknown>): boolean {
  const format = body.response_format as { json_schema?: { name?: unknown } } | undefined;
  return format?.json_schema?.name === 'firewall_decision';
}

/**
 * The fake decision model: it flags an item holding the text the rule quotes (`Deletes files, as "rm -rf /".` flags
 * an item saying rm -rf /, in any case). Markers in the item or the rule: FAKE-JUDGE-FAIL a 500 (undefined here),
 * FAKE-JUDGE-PROSE an answer in words, FAKE-JUDGE-SLOW-<ms> the answer after that long, FAKE-JUDGE-HANG no answer
 * until the gateway lets go (`gone`).
 */
async function firewallJudgement(model: string, body: Record<string, unknown>, gone: Promise<void>): Promise<string | undefined> {
  const messages = Array.isArray(body.messages) ? body.messages as { content?: unknown }[] : [];
  const system = typeof messages[0]?.content === 'string' ? messages[0].content : '';
  const item = typeof messages[1]?.content === 'string' ? messages[1].content : '';
  let text = '';
  try {
    text = Object.values(JSON.parse(item) as Record<string, string>).join('\n');
  } catch {
    text = item;
  }
  // The markers work in the rule too: a tool call's item is the model's own arguments.
  const both = `${system} ${text}`;
  if (both.includes('FAKE-JUDGE-FAIL')) return undefined;
  if (both.includes('FAKE-JUDGE-HANG')) {
    await gone;
    return undefined;
  }
  const slow = /FAKE-JUDGE-SLOW-(\d+)/.exec(both);
  if (slow) await sleep(Number(slow[1]));
  const quoted = /<rule>[^]*?"([^"]+)"[^]*?<\/rule>/.exec(system)?.[1];
  const flagged = quoted !== undefined && text.toLowerCase().includes(quoted.toLowerCase());
  const content = both.includes('FAKE-JUDGE-PROSE') ? 'Yes, this looks risky to me.' : JSON.stringify({ flagged });
  return JSON.stringify({
    id: 'chatcmpl-fakejudge', object: 'chat.completion', created: 0, model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: FAKE_JUDGE_USAGE,
  });
}

function answerText(model: string, body: Record<string, unknown>): string {
  const asked = lastUserText(body).replace(/\s+/g, ' ').trim().slice(0, 60);
  // flood-…: 16 MB in 256 words of 64 KB (one event each), more than socket buffers hold, so a client that
  // stops reading pushes back.
  const flood = model.startsWith('flood-') ? ` ${`${'z'.repeat(64 * 1024 - 1)} `.repeat(256)}` : '';
  const text = `Hello from the fake ${model} model! You said: "${asked}".${flood}`;
  const schema = askedSchema(body);
  return schema ? JSON.stringify(sampleOf(schema, text)) : text;
}

/** OpenAI's rule for function names (tools and earlier calls), with its message; undefined when every name keeps it. */
function invalidChatToolName(body: Record<string, unknown>): string | undefined {
  const names: unknown[] = [];
  for (const tool of Array.isArray(body.tools) ? body.tools : []) names.push((tool as { function?: { name?: unknown } }).function?.name);
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    for (const call of Array.isArray((message as { tool_calls?: unknown }).tool_calls) ? (message as { tool_calls: { function?: { name?: unknown } }[] }).tool_calls : []) names.push(call.function?.name);
  }
  for (const name of names) {
    if (typeof name !== 'string') continue;
    if (name.length > 64) return `Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.`;
    if (!/^[a-zA-Z0-9_-]+$/.test(name)) return `Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`;
  }
  return undefined;
}

/** Anthropic's rule for tool names (tools and earlier `tool_use` blocks), with its message; undefined when every name keeps it. */
function invalidMessagesToolName(body: Record<string, unknown>): string | undefined {
  const names: [string, unknown][] = (Array.isArray(body.tools) ? body.tools : []).map((t, i) => [`tools.${i}.custom.name`, (t as { name?: unknown }).name]);
  for (const [m, message] of (Array.isArray(body.messages) ? body.messages : []).entries()) {
    const content = (message as { content?: unknown }).content;
    for (const [b, block] of (Array.isArray(content) ? content : []).entries()) {
      if ((block as { type?: unknown }).type === 'tool_use') names.push([`messages.${m}.content.${b}.tool_use.name`, (block as { name?: unknown }).name]);
    }
  }
  const bad = names.find(([, name]) => typeof name === 'string' && !/^[a-zA-Z0-9_-]{1,128}$/.test(name));
  return bad ? `${bad[0]}: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'` : undefined;
}

/** The image types Anthropic takes as base64 data; any other `media_type` is refused, with its message. */
const ANTHROPIC_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

function invalidMessagesImageType(body: Record<string, unknown>): string | undefined {
  for (const [m, message] of (Array.isArray(body.messages) ? body.messages : []).entries()) {
    const content = (message as { content?: unknown }).content;
    for (const [b, block] of (Array.isArray(content) ? content : []).entries()) {
      const source = (block as { type?: unknown; source?: { type?: unknown; media_type?: unknown; url?: unknown } }).source;
      if ((block as { type?: unknown }).type !== 'image') continue;
      // Anthropic fetches an image by URL over HTTP(S) only: a data URL sent as a URL is one it cannot download.
      if (source?.type === 'url' && !/^https?:\/\//i.test(String(source.url))) return 'Unable to download the file. Please verify the URL and try again.';
      if (source?.type !== 'base64' || ANTHROPIC_IMAGE_TYPES.includes(String(source.media_type))) continue;
      return `messages.${m}.content.${b}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
    }
  }
  return undefined;
}

/** Anthropic's rule: a Messages history with tool calls or results is refused unless the request defines tools. */
function toolBlocksWithoutTools(body: Record<string, unknown>): boolean {
  if (Array.isArray(body.tools) && body.tools.length > 0) return false;
  return (Array.isArray(body.messages) ? body.messages : []).some((m) => {
    const content = (m as { content?: unknown }).content;
    return Array.isArray(content) && content.some((b) => ['tool_use', 'tool_result'].includes(String((b as { type?: unknown }).type)));
  });
}

type Block = { type?: unknown; signature?: unknown };

/**
 * Anthropic's rules for thinking in a history: with thinking on (`enabled` or `adaptive`), a request continuing a turn
 * of tool use (ending in tool results) must carry the thinking the calls came with — the last assistant turn starts
 * with a thinking or redacted thinking block, else 400 (Anthropic's message, word for word) — and so must a prefill
 * (a final assistant turn, which Claude continues: the same 400, as Aider-AI/aider#3820 quotes it); and a thinking block
 * anywhere must carry a signature Claude made (here: FAKE_THINKING's). Undefined when the history passes.
 */
function thinkingRoundTripError(body: Record<string, unknown>): string | undefined {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as { role?: unknown; content?: unknown }[];
  for (const [i, m] of messages.entries()) {
    const content = Array.isArray(m.content) ? m.content as Block[] : [];
    const forged = content.findIndex((b) => b.type === 'thinking' && b.signature !== FAKE_THINKING.signature);
    if (m.role === 'assistant' && forged >= 0) return `messages.${i}.content.${forged}: Invalid \`signature\` in \`thinking\` block`;
  }
  const type = (body.thinking as { type?: unknown } | undefined)?.type;
  if (type !== 'enabled' && type !== 'adaptive') return undefined;
  const last = messages.at(-1);
  // A prefill (the request ends with the assistant's turn, which Claude continues) is held to the same rule.
  const prefill = last?.role === 'assistant';
  if (!prefill && (last?.role !== 'user' || !Array.isArray(last.content) || !(last.content as Block[]).some((b) => b.type === 'tool_result'))) return undefined;
  const at = prefill ? messages.length - 1 : messages.length - 2;
  const content = messages[at]?.content;
  const turn = Array.isArray(content) ? content as Block[] : typeof content === 'string' ? [{ type: 'text' }] : [];
  const first = String(turn[0]?.type);
  if (!(prefill || turn.some((b) => b.type === 'tool_use')) || first === 'thinking' || first === 'redacted_thinking') return undefined;
  return `messages.${at}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`;
}

/**
 * DeepSeek's rule for a thinking model (`think-…`, `tool-think-…` on chat): an assistant message that made tool calls
 * carries its `reasoning_content` in every later request, else 400 (DeepSeek's message, as Zed's fix quotes it).
 */
function missingReasoning(model: string, body: Record<string, unknown>): string | undefined {
  if (!model.startsWith('think-') && !model.startsWith('tool-think-')) return undefined;
  const messages = (Array.isArray(body.messages) ? body.messages : []) as { role?: unknown; tool_calls?: unknown; reasoning_content?: unknown }[];
  const at = messages.findIndex((m) => m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0 && typeof m.reasoning_content !== 'string');
  return at < 0 ? undefined : `Missing \`reasoning_content\` field in the assistant message at message index ${at}`;
}

/**
 * `tool-…` with tools offered: a call to the first one (or the one `tool_choice` forces), until a tool result comes
 * back — a chat `tool` message, or a Messages user turn of `tool_result` blocks.
 */
function toolCallFor(surface: string, model: string, body: Record<string, unknown>): FakeToolCall | undefined {
  if (!model.startsWith('tool-') || !Array.isArray(body.tools) || body.tools.length === 0) return undefined;
  const messages = Array.isArray(body.messages) ? body.messages as { role?: unknown; content?: unknown }[] : [];
  const last = messages.at(-1);
  if (last?.role === 'tool') return undefined;
  if (last?.role === 'user' && Array.isArray(last.content) && last.content.some((b) => (b as { type?: unknown }).type === 'tool_result')) return undefined;
  // Responses: a tool output item last in the input is the tool's result (a custom tool's, Codex's apply_patch, too).
  const lastItem = Array.isArray(body.input) ? (body.input.at(-1) as { type?: unknown } | undefined)?.type : undefined;
  if (lastItem === 'function_call_output' || lastItem === 'custom_tool_call_output') return undefined;
  const choice = typeof body.tool_choice === 'object' && body.tool_choice !== null ? body.tool_choice as { type?: unknown; name?: unknown } : undefined;
  if (body.tool_choice === 'none' || choice?.type === 'none') return undefined;
  const first = body.tools[0] as FakeTool;
  const forced = choice?.type === 'tool' || (surface === 'responses' && choice?.type === 'function') ? choice.name : undefined;
  const name = String(forced ?? first.function?.name ?? first.name ?? 'tool');
  const called = (body.tools as FakeTool[]).find((t) => (t.function?.name ?? t.name) === name) ?? first;
  // A tool taking one `input` string (a custom tool as a translation offers it) gets FAKE_TOOL_INPUT; any other the weather question.
  const schema = called.function?.parameters ?? called.input_schema ?? called.parameters;
  const args = schema?.properties?.input !== undefined ? JSON.stringify({ input: FAKE_TOOL_INPUT }) : '{"city":"Paris"}';
  return { id: surface === 'messages' ? 'toolu_fake1' : 'call_fake1', name, arguments: args };
}

/** `tool-each-…`: a call to every tool offered, in order (the first as toolCallFor makes it), as a model calls tools in parallel. */
function everyToolCall(surface: string, body: Record<string, unknown>, first: FakeToolCall): FakeToolCall[] {
  const names = (body.tools as FakeTool[]).map((t) => String(t.function?.name ?? t.name ?? 'tool'));
  return names.map((name, i) => (i === 0 ? first : { id: `${surface === 'messages' ? 'toolu' : 'call'}_fake${i + 1}`, name, arguments: first.arguments }));
}

/** A tool as chat (`function`), Messages (`input_schema`) or Responses (`parameters`) offers it. */
interface FakeTool { name?: unknown; parameters?: FakeSchema; input_schema?: FakeSchema; function?: { name?: unknown; parameters?: FakeSchema } }
interface FakeSchema { properties?: Record<string, unknown> }

/** The path of Google's OpenAI-compatible embeddings, under its `…/v1beta/openai` base URL. */
const GOOGLE_OPENAI_EMBEDDINGS = '/v1beta/openai/embeddings';

async function handle(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
  const gemini = req.method === 'POST' ? geminiCallOf(record.path) : undefined;
  if (gemini) return handleGemini(req, res, gemini, new URLSearchParams(record.query), record.body);
  if (req.method === 'POST' && isInteractionsCall(record.path)) return handleInteractions(req, res, record.body);
  const surface = surfaceOfPath(record.path);
  const format = formatOf(surface);
  const sendError = (status: number, gzip = false, retryAfterMs = false, html = false) => {
    if (html) {
      res.writeHead(status, { 'content-type': 'text/html' }).end('<html><body><h1>400 Bad Request</h1></body></html>');
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 429) headers[retryAfterMs ? 'retry-after-ms' : 'retry-after'] = retryAfterMs ? '2500' : '1';
    if (format === 'anthropic') headers['request-id'] = 'req_fake1';
    if (gzip) headers['content-encoding'] = 'gzip';
    const text = errorBody(format, status);
    res.writeHead(status, headers).end(gzip ? gzipSync(text) : text);
  };
  if (!surface || req.method !== 'POST') return sendError(404);
  const body = record.body;
  if (!body) return sendError(400);
  if (surface === 'count-tokens' && COUNT_TOKENS_REFUSED.some((field) => field in body)) return sendError(400);
  if (surface === 'messages' && toolBlocksWithoutTools(body)) {
    res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_fake1' }).end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'Requests which include `tool_use` or `tool_result` blocks must define tools.' }, request_id: 'req_fake1' }));
    return;
  }
  const badThinking = surface === 'messages' ? thinkingRoundTripError(body) : undefined;
  const badName = badThinking ?? (surface === 'messages' ? invalidMessagesToolName(body) ?? invalidMessagesImageType(body) : undefined);
  if (badName) {
    res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_fake1' }).end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: badName }, request_id: 'req_fake1' }));
    return;
  }
  const unreasoned = surface === 'chat-completions' && typeof body.model === 'string' ? missingReasoning(body.model, body) : undefined;
  if (unreasoned) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: unreasoned, type: 'invalid_request_error', param: null, code: 'invalid_request_error' } }));
    return;
  }
  const badTool = surface === 'chat-completions' ? invalidChatToolName(body) : undefined;
  if (badTool) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: badTool, type: 'invalid_request_error', param: 'tools', code: 'string_above_max_length' } }));
    return;
  }

  const credential = credentialOf(req);
  if (credential === 'sk-reset') { req.socket.destroy(); return; }
  if (credential.startsWith('sk-hang')) return;
  if (credential === 'sk-429-ms') return sendError(429, false, true);
  if (credential.startsWith('sk-429-after-')) {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': decodeURIComponent(credential.slice('sk-429-after-'.length)) }).end(errorBody(format, 429));
    return;
  }
  if (credential === 'sk-429-count' && surface === 'count-tokens') {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' }).end(errorBody(format, 429));
    return;
  }
  if (credential === 'sk-429-reset') {
    // OpenAI's rate limit as it often comes: no Retry-After, the limits' reset times in its own duration format.
    res.writeHead(429, {
      'content-type': 'application/json', 'x-request-id': 'req_fake429',
      'x-ratelimit-limit-requests': '500', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-limit-tokens': '30000', 'x-ratelimit-remaining-tokens': '29000', 'x-ratelimit-reset-tokens': '2s',
    }).end(errorBody(format, 429));
    return;
  }
  if (credential === 'sk-429-gemini') {
    // Gemini's OpenAI-compatible endpoint: a JSON array, no Retry-After header, the delay as a protobuf duration.
    res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify([{ error: { code: 429, message: 'You exceeded your current quota, please check your plan and billing details. Please retry in 1.183s.', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.2s' }] } }]));
    return;
  }
  if (credential === INVALID_GOOGLE_KEY) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify([googleKeyInvalidError()], null, 2));
    return;
  }
  if (credential === 'sk-quota' && format === 'anthropic') {
    res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_fake1' }).end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.' }, request_id: 'req_fake1' }));
    return;
  }
  if (credential === 'sk-quota') {
    // OpenAI's exact answer: no Retry-After, told from a rate limit only by its type and code.
    res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }));
    return;
  }
  if (credential === 'sk-tpm-small' && format === 'openai' && JSON.stringify(body).length > 4000) {
    // OpenAI's answer to one request bigger than the key's whole TPM limit: a 429, told from a busy key only by its text.
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Request too large for ${model} in organization org-fake on tokens per min (TPM): Limit 1000, Requested 1500. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`, type: 'tokens', param: null, code: 'rate_limit_exceeded' } }));
    return;
  }
  const keyStatus = /^sk-(\d{3})$/.exec(credential);
  if (keyStatus) return sendError(Number(keyStatus[1]));
  const unstored = surface === 'responses' ? unstoredReasoningError(body) : undefined;
  if (unstored) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(unstored);
    return;
  }

  const model = typeof body.model === 'string' ? body.model : 'unknown';
  if (surface === 'chat-completions' && isFirewallJudgement(body)) {
    const judged = await firewallJudgement(model, body, new Promise((resolve) => res.once('close', resolve)));
    if (res.destroyed) return;
    if (judged === undefined) return sendError(500);
    res.writeHead(200, { 'content-type': 'application/json' }).end(judged);
    return;
  }
  const gzip = model.startsWith('gzip-');
  const modelStatus = /^(?:gzip-)?fail-(\d{3})-/.exec(model);
  if (modelStatus) return sendError(Number(modelStatus[1]), gzip, false, model.includes('-html-'));
  if (model.startsWith('redirect-')) {
    res.writeHead(307, { location: 'http://127.0.0.1:9/collect', 'content-type': 'text/plain' }).end('Temporary Redirect');
    return;
  }
  const slow = /^slow-(?:(\d+)-)?/.exec(model) ?? delayAsked(body);
  if (slow) {
    await sleep(slow[1] ? Number(slow[1]) : 1500);
    if (res.destroyed) return;
    const lateStatus = /^slow-\d+-fail-(\d{3})-/.exec(model);
    if (lateStatus) return sendError(Number(lateStatus[1]));
  }

  // Google's OpenAI-compatible embeddings answer `object`, `data` and `model`, no `usage` (agentgateway#2451).
  const googleEmbeddings = surface === 'embeddings' && record.path.endsWith(GOOGLE_OPENAI_EMBEDDINGS);
  const answer: AnswerSpec = { model, text: answerText(model, body), withUsage: !model.startsWith('nousage-') && !googleEmbeddings };
  const call = toolCallFor(surface, model, body);
  if (call) answer.toolCall = call;
  if (call && model.startsWith('tool-each-') && (surface === 'chat-completions' || surface === 'messages')) answer.toolCalls = everyToolCall(surface, body, call);
  if (model.startsWith('tool-latename-')) answer.lateName = true;
  if ((model.startsWith('think-') || model.startsWith('tool-think-')) && (surface === 'messages' || surface === 'chat-completions')) answer.thinking = true;
  if (call && model.includes('-said-') && surface === 'chat-completions') answer.said = FAKE_SAID;
  if (call && model.startsWith('tool-noargs-') && surface === 'chat-completions') call.arguments = '';
  if (model.startsWith('refusal-') && surface === 'chat-completions') answer.refusal = FAKE_REFUSAL;
  if (call && model.startsWith('tool-cut-') && surface === 'chat-completions') {
    call.arguments = call.arguments.slice(0, call.arguments.length >> 1);
    answer.cutArguments = true;
  }
  if (surface === 'completions') {
    if (typeof body.n === 'number' && body.n > 1) answer.choices = body.n;
    if (typeof body.best_of === 'number' && body.best_of > 1) answer.generated = body.best_of;
    if (body.echo === true && typeof body.prompt === 'string') answer.echo = body.prompt;
  }
  if (surface === 'embeddings') {
    const dimensions = embeddingDimensions(body.dimensions, 4);
    if (dimensions === undefined) return sendError(400);
    answer.embedding = { base64: body.encoding_format === 'base64', dimensions };
  }
  if (surface === 'responses' && offersWebSearch(body)) answer.searches = FAKE_WEB_SEARCHES;
  if (surface === 'responses' && offersCodeInterpreter(body)) answer.container = FAKE_CONTAINER_ID;
  if (surface === 'responses' && offersHostedShell(body)) answer.shell = FAKE_CONTAINER_ID;
  if (surface === 'responses' && asksForReasoning(body)) answer.reasoning = { encrypted: Array.isArray(body.include) && body.include.includes('reasoning.encrypted_content') };
  const advisor = surface === 'messages' ? offeredAdvisor(body) : undefined;
  if (advisor !== undefined) answer.advisor = advisor;
  const codeExecution = surface === 'messages' ? offeredCodeExecution(body) : undefined;
  if (codeExecution !== undefined) answer.codeExecution = codeExecution;
  const cut = model.startsWith('cut-');
  if (body.stream !== true || surface === 'embeddings') {
    const text = JSON.stringify(jsonAnswer(surface as FakeSurface, answer, body.input));
    if (cut) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, text.length >> 1));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      ...accountHeaders(format),
      ...(format === 'anthropic' ? { 'request-id': 'req_fake1' } : {}),
      ...(model.startsWith('chained-') ? CHAINED_GATEWAY_HEADERS : {}),
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    const quiet = /^quiet-(\d+)-/.exec(model);
    if (quiet && !gzip) {
      // The first half at once, the rest after MS (a large answer still being written).
      res.write(text.slice(0, text.length >> 1));
      await sleep(Number(quiet[1]));
      if (!res.destroyed) res.end(text.slice(text.length >> 1));
      return;
    }
    res.end(gzip ? gzipSync(model.startsWith('gzip-bomb-') ? Buffer.concat([Buffer.from(text), Buffer.alloc(65 * 1024 * 1024, ' ')]) : text) : text);
    return;
  }

  const options = body.stream_options as { include_usage?: unknown } | undefined;
  const named = streamEvents(surface as FakeSurface, answer, options?.include_usage === true);
  const unnamed = model.startsWith('unnamed-') ? named.map((e) => e.replace(/^event: [^\n]*\n/, '')) : named;
  // nodone-…: everything but the final event (`[DONE]`, `message_stop`), then a clean end, as some servers stream.
  const events = model.startsWith('nodone-') ? unnamed.slice(0, -1) : unnamed;
  if (model.startsWith('overloaded-') && surface === 'responses') {
    // Responses report a failure after their opening events, as an `error` event numbered like the others.
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...accountHeaders(format) });
    res.end(`${events.slice(0, 2).join('')}event: error\ndata: {"type":"error","sequence_number":2,"code":"server_error","message":"The server had an error while processing your request. Sorry about that!","param":null}\n\n`);
    return;
  }
  if (model.startsWith('ratelimited-') && surface === 'responses') {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...accountHeaders(format) });
    res.end(`${events.slice(0, 2).join('')}event: error\ndata: {"type":"error","sequence_number":2,"error":{"type":"too_many_requests","code":"rate_limit_exceeded","message":"Rate limit reached for requests","param":null}}\n\n`);
    return;
  }
  if (model.startsWith('ratelimited-') || model.startsWith('refused-')) {
    // The error as the stream's very first event, right after a 200 head.
    const limited = model.startsWith('ratelimited-');
    const error = format === 'anthropic'
      ? `event: error\ndata: {"type":"error","error":{"type":"${limited ? 'rate_limit_error' : 'invalid_request_error'}","message":"${limited ? 'Number of request tokens has exceeded your per-minute rate limit' : 'prompt is too long: 250000 tokens > 200000 maximum'}"}}\n\n`
      : `data: {"error":${limited ? '{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}' : '{"message":"This model\'s maximum context length is 128000 tokens. However, your messages resulted in 250000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}'}}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...accountHeaders(format) });
    res.end(error);
    return;
  }
  if (model.startsWith('commented-overloaded-')) {
    // An SSE comment first (OpenRouter's `: OPENROUTER PROCESSING` while it waits for its upstream), then the error.
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...accountHeaders(format) });
    res.write(': PROCESSING\n\n');
    await sleep(30);
    if (!res.destroyed) res.end(overloadedEvent(format));
    return;
  }
  if (model.startsWith('overloaded-') || model.startsWith('late-overloaded-')) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...accountHeaders(format) });
    const error = overloadedEvent(format);
    // late-overloaded-: after message_start and a ping, as Anthropic often reports an overload.
    res.end(model.startsWith('late-') && surface === 'messages' ? `${events[0]}event: ping\ndata: {"type": "ping"}\n\n${error}` : error);
    return;
  }
  const contentType = model.startsWith('mixedcase-') ? 'Text/Event-Stream; charset=utf-8' : 'text/event-stream; charset=utf-8';
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive', ...accountHeaders(format), ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
  if (model.startsWith('hangup-')) {
    res.flushHeaders();
    await sleep(20);
    res.socket?.destroy();
    return;
  }
  if (model.startsWith('empty-')) {
    res.end();
    return;
  }
  // gzip-…: each event compressed and flushed on its own, as a compressing proxy in front of a model server does.
  const compressor = gzip ? createGzip() : undefined;
  compressor?.pipe(res);
  const out = compressor ?? res;
  const silent = /^silent-(\d+)-/.exec(model);
  if (silent) {
    res.flushHeaders();
    await sleep(Number(silent[1]));
  }
  const drip = /^(?:gzip-)?drip-(?:(\d+)-)?/.exec(model) ?? /^tool-.*-drip-(\d+)-/.exec(model);
  const gap = drip ? Number(drip[1] ?? 150) : cut ? 20 : 0;
  const quiet = /^quiet-(\d+)-/.exec(model);
  // short-…: the first events only (role and a first piece of text), then a clean end.
  const stopAt = cut ? Math.max(2, events.length >> 1) : model.startsWith('short-') ? 2 : events.length;
  for (let i = 0; i < stopAt; i++) {
    if (res.destroyed) return;
    out.write(events[i]);
    compressor?.flush();
    if (gap) await sleep(gap);
    if (quiet && i === 1) await sleep(Number(quiet[1]));
  }
  if (cut) { res.socket?.destroy(); return; }
  // linger-MS-…: the final event is sent, the response ends later (a proxy that holds the connection a while).
  const linger = /^linger-(\d+)-/.exec(model);
  if (linger) {
    // linger-MS-stray-…: a misbehaving provider's error event in the linger, after the answer was complete.
    if (model.startsWith(`linger-${linger[1]}-stray-`)) {
      await sleep(20);
      if (res.destroyed) return;
      out.write(overloadedEvent(format));
      compressor?.flush();
    }
    // Until the gateway lets go, if it does first: no timer left holding the test process.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Number(linger[1]));
      res.once('close', () => { clearTimeout(timer); resolve(); });
    });
    if (res.destroyed) return;
  }
  out.end();
}

/** What may not go into a log line as is: C0 and C1 controls (line breaks first of all) and Unicode's line separators. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * `record: false` (the standalone `tollgate fake-provider`): requests are answered, not kept — it may run for days.
 * `log`: told one line per answered request (method, path, model, status, whether the client left first).
 */
export async function startFakeProvider(port = 0, options: { record?: boolean; log?: (line: string) => void } = {}): Promise<FakeProvider> {
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  const events = new EventEmitter<{ request: [RecordedRequest]; aborted: [RecordedRequest] }>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = rawBody ? JSON.parse(rawBody) : undefined;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch { /* recorded as raw text */ }
      const [path = '', query = ''] = (req.url ?? '').split('?');
      const seen: RecordedRequest = {
        method: req.method ?? '', path, query, headers: req.headers, rawBody, body, aborted: false, completed: false,
        get status() { return res.headersSent ? res.statusCode : 0; },
      };
      if (record) {
        requests.push(seen);
        events.emit('request', seen);
        res.on('close', () => {
          if (res.writableFinished) { seen.completed = true; return; }
          seen.aborted = true;
          events.emit('aborted', seen);
        });
      }
      const { log } = options;
      if (log) {
        res.on('close', () => {
          // Escaped: a model name with a line break would write a line of its own (one that reads like an answer).
          const model = typeof body?.model === 'string' ? ` ${body.model.slice(0, 120).replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}` : '';
          log(`${seen.method} ${seen.path.slice(0, 200)}${model} → ${res.statusCode}${res.writableFinished ? '' : ' (client left)'}`);
        });
      }
      handle(req, res, seen).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    events,
    reset() { requests.length = 0; },
    waitForAbort(test, timeoutMs = 5000) {
      const found = requests.find((r) => r.aborted && test(r));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { events.off('aborted', on); reject(new Error('the fake provider saw no aborted request')); }, timeoutMs);
        const on = (r: RecordedRequest) => {
          if (!test(r)) return;
          clearTimeout(timer);
          events.off('aborted', on);
          resolve(r);
        };
        events.on('aborted', on);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Responses request setting a reasoning effort other than `none` (the fake's stand-in for a reasoning model reasoning). */
function asksForReasoning(body: Record<string, unknown>): boolean {
  const effort = (body.reasoning as { effort?: unknown } | null | undefined)?.effort;
  return typeof effort === 'string' && effort !== 'none';
}

/** A request's `metadata.fake_delay_ms` as a match of the `slow-MS-` model prefix (its digits in [1]). */
function delayAsked(body: Record<string, unknown>): [string, string] | null {
  const delay = (body.metadata as { fake_delay_ms?: unknown } | null | undefined)?.fake_delay_ms;
  return typeof delay === 'string' && /^\d{1,5}$/.test(delay) ? ['', delay] : null;
}
