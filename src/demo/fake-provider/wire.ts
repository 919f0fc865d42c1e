// Wire-format bodies of a fake OpenAI / Anthropic provider: JSON answers, SSE events and error bodies,
// shaped like the real APIs so the official SDKs (and the gateway's meters) read them unchanged.

/** Token counts every fake answer reports, so tests can compare the recorded usage exactly. */
/** `cacheWrite1h`: the part of `cacheWrite` Anthropic reports kept an hour (`cache_creation.ephemeral_1h_input_tokens`). */
export const FAKE_USAGE = { input: 17, output: 9, cacheRead: 5, cacheWrite: 3, cacheWrite1h: 1, reasoning: 2 } as const;

/** What every token count (`/messages/count_tokens`) answers: unlike FAKE_USAGE.input, so tests tell them apart. */
export const FAKE_TOKEN_COUNT = 42;
/** What a `refusal-…` chat model says instead of answering (its `refusal` field). */
export const FAKE_REFUSAL = 'I\'m sorry, I can\'t help with that.';

/** The thinking a `think-…` model answers with first (Messages: with the signature Claude would put on it; chat: as `reasoning_content`). */
export const FAKE_THINKING = { text: 'Let me think. ', more: 'Paris is sunny.', signature: 'sig-fake-EqQBCgIYAhIM' } as const;

export type WireFormat = 'openai' | 'anthropic';
export type FakeSurface = 'chat-completions' | 'responses' | 'completions' | 'embeddings' | 'messages' | 'count-tokens';

export function surfaceOfPath(path: string): FakeSurface | undefined {
  if (path.endsWith('/messages/count_tokens')) return 'count-tokens';
  if (path.endsWith('/chat/completions')) return 'chat-completions';
  if (path.endsWith('/responses')) return 'responses';
  if (path.endsWith('/completions')) return 'completions';
  if (path.endsWith('/embeddings')) return 'embeddings';
  if (path.endsWith('/messages')) return 'messages';
  return undefined;
}

export function formatOf(surface: FakeSurface | undefined): WireFormat {
  return surface === 'messages' || surface === 'count-tokens' ? 'anthropic' : 'openai';
}

/** One SSE event: optional `event:` line, one `data:` line, blank line. */
export function sse(data: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${data}\n\n`;
}

const created = () => Math.floor(Date.now() / 1000);

function openaiUsage(withUsage: boolean) {
  if (!withUsage) return undefined;
  return {
    prompt_tokens: FAKE_USAGE.input, completion_tokens: FAKE_USAGE.output, total_tokens: FAKE_USAGE.input + FAKE_USAGE.output,
    prompt_tokens_details: { cached_tokens: FAKE_USAGE.cacheRead, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: FAKE_USAGE.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function responsesUsage() {
  return {
    input_tokens: FAKE_USAGE.input, input_tokens_details: { cached_tokens: FAKE_USAGE.cacheRead },
    output_tokens: FAKE_USAGE.output, output_tokens_details: { reasoning_tokens: FAKE_USAGE.reasoning },
    total_tokens: FAKE_USAGE.input + FAKE_USAGE.output,
  };
}

const CACHE_CREATION = { ephemeral_5m_input_tokens: FAKE_USAGE.cacheWrite - FAKE_USAGE.cacheWrite1h, ephemeral_1h_input_tokens: FAKE_USAGE.cacheWrite1h };

function anthropicUsage(a: AnswerSpec) {
  return {
    input_tokens: FAKE_USAGE.input, output_tokens: FAKE_USAGE.output,
    cache_read_input_tokens: FAKE_USAGE.cacheRead, cache_creation_input_tokens: FAKE_USAGE.cacheWrite,
    cache_creation: CACHE_CREATION,
    ...serverToolUse(a),
    ...advisorIterations(a),
  };
}

/** The server tools an answer ran, as Anthropic's usage counts them (code execution is not counted there). */
const serverToolUse = (a: AnswerSpec) => (a.codeExecution === undefined ? {} : { server_tool_use: { web_search_requests: a.codeExecution.searches, web_fetch_requests: 0 } });

/** The container Anthropic's code execution ran in, as its answers name it. */
const FAKE_ANTHROPIC_CONTAINER = { id: 'container_fake1', expires_at: '2026-12-07T12:00:00Z' };

/** The request offers Anthropic's code execution tool (`code_execution_…`); with it, the web searches it may run. */
export function offeredCodeExecution(body: Record<string, unknown>): { searches: number } | undefined {
  const tools = Array.isArray(body.tools) ? body.tools.map((t) => (t as { type?: unknown } | null)?.type) : [];
  if (!tools.some((type) => typeof type === 'string' && type.startsWith('code_execution'))) return undefined;
  return { searches: tools.some((type) => typeof type === 'string' && type.startsWith('web_search')) ? FAKE_WEB_SEARCHES : 0 };
}

/** A bash command run in the container and its result, as Anthropic's `code_execution_20250825` answers show them. */
const CODE_BLOCKS = [
  { type: 'server_tool_use', id: 'srvtoolu_fake1', name: 'bash_code_execution', input: { command: 'echo $((6 * 7))' } },
  { type: 'bash_code_execution_tool_result', tool_use_id: 'srvtoolu_fake1', content: { type: 'bash_code_execution_result', stdout: '42\n', stderr: '', return_code: 0, content: [] } },
];

/** What one advisor call of a fake answer reports (`advisor_message` in `usage.iterations`), as Anthropic's guide shows one. */
export const FAKE_ADVISOR_USAGE = { input: 823, output: 1612 } as const;

/** The advisor model a Messages request offers (Anthropic's `advisor_20260301` tool), if any. */
export function offeredAdvisor(body: Record<string, unknown>): string | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  for (const t of body.tools) {
    const tool = t as { type?: unknown; model?: unknown } | null;
    if (typeof tool?.type === 'string' && tool.type.startsWith('advisor_') && typeof tool.model === 'string') return tool.model;
  }
  return undefined;
}

/**
 * An answer that consulted the advisor reports its iterations as Anthropic does: the executor's (the top-level
 * counts, FAKE_USAGE) and the advisor's, which the top-level counts leave out.
 */
function advisorIterations(a: AnswerSpec) {
  if (a.advisor === undefined) return {};
  const cache = { cache_read_input_tokens: FAKE_USAGE.cacheRead, cache_creation_input_tokens: FAKE_USAGE.cacheWrite, cache_creation: CACHE_CREATION };
  return {
    iterations: [
      { type: 'advisor_message', model: a.advisor, input_tokens: FAKE_ADVISOR_USAGE.input, output_tokens: FAKE_ADVISOR_USAGE.output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      { type: 'message', model: a.model, input_tokens: FAKE_USAGE.input, output_tokens: FAKE_USAGE.output, ...cache },
    ],
  };
}

/**
 * The input a `tool-…` model gives a tool taking one `input` string (a custom tool, as the Responses translation
 * offers Codex's apply_patch): several lines, quotes and a backslash, so what unwraps it is seen to keep it whole.
 */
export const FAKE_TOOL_INPUT = '*** Begin Patch\n*** Add File: hello.txt\n+Hello, "world" \\o/\n*** End Patch';

/** A function call the answer makes instead of text (model `tool-…` with tools offered): chat, Responses or Messages. */
export interface FakeToolCall { id: string; name: string; arguments: string }

/** `searches`: hosted web searches the answer ran first (Responses `web_search_call` items; FAKE_WEB_SEARCHES when a web search tool is offered). */
/** `container`: the code interpreter container the answer ran code in (a Responses request offering `code_interpreter`). */
/** `shell`: the container the answer ran a shell command in (a Responses request offering a hosted `shell`). */
/** `codeExecution`: a Messages answer ran a bash command in Anthropic's code execution container first, and `searches` web searches (its usage's `server_tool_use`). */
/** `advisor`: the advisor model the answer consulted (a Messages request offering Anthropic's advisor tool). */
/** `toolCalls`: every call of an answer making several (chat and Messages; `toolCall` is the first). */
/** `lateName`: a streamed chat call's name comes with its second argument piece, after the first (some compatible servers). */
/** `cutArguments`: a chat answer's call stops inside its arguments, finishing with `length` (a model at its output limit). */
/** `refusal`: a chat answer refusing, in its `refusal` field (`content` null), as OpenAI's models refuse. */
/** `reasoning`: a Responses answer opens with a reasoning item (the request asked for reasoning), its `encrypted_content` included when `encrypted` (the request's `include` asked for it). */
/** `choices`: how many completions the answer holds (legacy completions' `n`); `generated`: how many the provider generated and bills (`best_of`, at least `choices`). */
/** `echo`: the prompt a legacy completion repeats before its text (`echo: true`). */
/** `embedding`: how the embeddings are written (`encoding_format`, `dimensions`), as OpenAI writes them. */
export interface AnswerSpec {
  /** `said`: text a chat answer gives before its calls. */
  model: string; text: string; withUsage: boolean; said?: string; toolCall?: FakeToolCall; toolCalls?: FakeToolCall[]; searches?: number; advisor?: string; lateName?: boolean; cutArguments?: boolean; refusal?: string; reasoning?: { encrypted: boolean }; container?: string; shell?: string; codeExecution?: { searches: number }; thinking?: boolean;
  choices?: number; generated?: number; echo?: string; embedding?: { base64: boolean; dimensions: number };
}

/** Embedding inputs as OpenAI counts them: a string or an array of token ids is one input; an array of either, one each. */
export function embeddingInputs(input: unknown): unknown[] {
  if (!Array.isArray(input)) return [input];
  return input.length > 0 && input.every((i) => typeof i === 'number') ? [input] : input;
}

/** The most dimensions an embedding model writes (OpenAI's text-embedding-3-large, Google's gemini-embedding-001). */
const MOST_DIMENSIONS = 3072;

/**
 * The dimensions a request asks for (`fallback` when it asks none), or undefined for a number the providers refuse
 * with a 400 (not a whole number from 1 to 3072): the fake must not build a vector of 1e400 floats.
 */
export function embeddingDimensions(asked: unknown, fallback: number): number | undefined {
  if (asked === undefined || asked === null) return fallback;
  return Number.isInteger(asked) && (asked as number) >= 1 && (asked as number) <= MOST_DIMENSIONS ? asked as number : undefined;
}

/** One fake embedding vector: `dimensions` floats, as a float array or base64 of little-endian float32 (OpenAI's `encoding_format: "base64"`). */
function embeddingVector(index: number, spec: { base64: boolean; dimensions: number }): number[] | string {
  const values = Array.from({ length: spec.dimensions }, (_, i) => Math.fround(((index + 1) * (i + 1)) / 1024 - 0.5));
  return spec.base64 ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values;
}

/** Legacy completions usage: every generated candidate's output is billed (`best_of` × the completion). */
function completionsUsage(a: AnswerSpec) {
  const usage = openaiUsage(a.withUsage);
  const generated = Math.max(a.generated ?? 1, a.choices ?? 1);
  if (!usage || generated === 1) return usage;
  const output = FAKE_USAGE.output * generated;
  return { ...usage, completion_tokens: output, total_tokens: FAKE_USAGE.input + output };
}

/** A legacy completion's finish reason: choice 0 stops, the others run out of tokens (the stop reason recorded is choice 0's). */
function completionFinish(index: number): string {
  return index === 0 ? 'stop' : 'length';
}

/** A reasoning chat model's thinking, as DeepSeek gives it: `reasoning_content` beside `content`. */
function chatReasoning(a: AnswerSpec): { reasoning_content?: string } {
  return a.thinking ? { reasoning_content: FAKE_THINKING.text + FAKE_THINKING.more } : {};
}

function callsOf(a: AnswerSpec): FakeToolCall[] {
  return a.toolCalls ?? (a.toolCall ? [a.toolCall] : []);
}

/** A complete (non-streamed) JSON answer for the surface. */
export function jsonAnswer(surface: FakeSurface, a: AnswerSpec, input: unknown): unknown {
  const usage = openaiUsage(a.withUsage);
  switch (surface) {
    case 'chat-completions':
      return {
        id: 'chatcmpl-fake1', object: 'chat.completion', created: created(), model: a.model, system_fingerprint: 'fp_fake',
        choices: [a.toolCall
          ? { index: 0, message: { role: 'assistant', content: a.said ?? null, refusal: null, ...chatReasoning(a), tool_calls: callsOf(a).map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }, logprobs: null, finish_reason: a.cutArguments ? 'length' : 'tool_calls' }
          : { index: 0, message: { role: 'assistant', content: a.refusal === undefined ? a.text : null, refusal: a.refusal ?? null, ...chatReasoning(a) }, logprobs: null, finish_reason: 'stop' }],
        ...(usage ? { usage } : {}),
      };
    case 'completions': {
      const completionUsage = completionsUsage(a);
      return {
        id: 'cmpl-fake1', object: 'text_completion', created: created(), model: a.model,
        choices: Array.from({ length: a.choices ?? 1 }, (_, index) => ({ index, text: `${a.echo ?? ''}${a.text}`, logprobs: null, finish_reason: completionFinish(index) })),
        ...(completionUsage ? { usage: completionUsage } : {}),
      };
    }
    case 'embeddings': {
      const spec = a.embedding ?? { base64: false, dimensions: 4 };
      return {
        object: 'list',
        data: embeddingInputs(input).map((_, index) => ({ object: 'embedding', index, embedding: embeddingVector(index, spec) })),
        model: a.model,
        ...(a.withUsage ? { usage: { prompt_tokens: FAKE_USAGE.input, total_tokens: FAKE_USAGE.input } } : {}),
      };
    }
    case 'responses':
      return responseObject(a, 'completed');
    case 'messages':
      return {
        id: 'msg_fake1', type: 'message', role: 'assistant', model: a.model,
        content: [...(a.codeExecution ? CODE_BLOCKS : []), ...(a.thinking ? [{ type: 'thinking', thinking: FAKE_THINKING.text + FAKE_THINKING.more, signature: FAKE_THINKING.signature }] : []), ...(a.toolCall ? callsOf(a).map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments) })) : [{ type: 'text', text: a.text }])],
        stop_reason: a.toolCall ? 'tool_use' : 'end_turn', stop_sequence: null,
        ...(a.codeExecution ? { container: FAKE_ANTHROPIC_CONTAINER } : {}),
        ...(a.withUsage ? { usage: anthropicUsage(a) } : {}),
      };
    case 'count-tokens':
      return { input_tokens: FAKE_TOKEN_COUNT };
  }
}

/**
 * Anthropic's token counting refuses any field that is not one of its parameters with a 400 ("Extra inputs are
 * not permitted"); these are the Messages fields a gateway could add on the way (an output cap, a stream flag).
 */
export const COUNT_TOKENS_REFUSED = ['max_tokens', 'stream'] as const;

/** The answer's one output item, as Responses gives it: a function call, or an assistant message. */
function outputItem(a: AnswerSpec, status: 'in_progress' | 'completed') {
  const done = status === 'completed';
  if (a.toolCall) return { type: 'function_call', id: 'fc_fake1', call_id: a.toolCall.id, name: a.toolCall.name, arguments: done ? a.toolCall.arguments : '', status };
  return { type: 'message', id: 'msg_fake1', status, role: 'assistant', content: done ? [outputText(a.text)] : [] };
}

const outputText = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

/** Searches a Responses answer runs when the request offers a hosted web search tool. */
export const FAKE_WEB_SEARCHES = 2;

export function offersWebSearch(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.some((t) => typeof (t as { type?: unknown } | null)?.type === 'string' && (t as { type: string }).type.startsWith('web_search'));
}

/** A hosted web search's output item, as OpenAI's `web_search` and `web_search_preview` tools both give it. */
function searchItem(index: number, status: 'in_progress' | 'completed') {
  return { type: 'web_search_call', id: `ws_fake${index}`, status, ...(status === 'completed' ? { action: { type: 'search', query: 'fake query' } } : {}) };
}
const searchIndexes = (a: AnswerSpec): number[] => Array.from({ length: a.searches ?? 0 }, (_, i) => i);

/** The container a Responses request's code interpreter runs in: OpenAI names it in each `code_interpreter_call`. */
export const FAKE_CONTAINER_ID = 'cntr_fake1';

export function offersCodeInterpreter(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.some((t) => (t as { type?: unknown } | null)?.type === 'code_interpreter');
}

/** A code interpreter call as OpenAI's Responses API gives it (the code, the container it ran in, its logs). */
function codeItem(container: string, status: 'in_progress' | 'completed') {
  const done = status === 'completed';
  return { type: 'code_interpreter_call', id: 'ci_fake1', status, container_id: container, code: done ? 'print(6 * 7)' : '', outputs: done ? [{ type: 'logs', logs: '42\n' }] : null };
}

/** A Responses request offering OpenAI's hosted shell (`shell` in a `container_auto` environment). */
export function offersHostedShell(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.some((t) => {
    const tool = t as { type?: unknown; environment?: { type?: unknown } | null } | null;
    return tool?.type === 'shell' && tool.environment?.type === 'container_auto';
  });
}

/** A hosted shell call as OpenAI's Responses API gives it: the commands, and the container they ran in. */
function shellItem(container: string, status: 'in_progress' | 'completed') {
  return { type: 'shell_call', id: 'sh_fake1', call_id: 'call_sh_fake1', status, action: { commands: ['python3 -c "print(6 * 7)"'], max_output_length: null, timeout_ms: null }, environment: { type: 'container_reference', container_id: container } };
}

const FAKE_REASONING_ID = 'rs_fake1';
const FAKE_ENCRYPTED_REASONING = 'gAAAAABfake-encrypted-reasoning==';

/**
 * A reasoning item as OpenAI's Responses API gives it: an empty summary unless one is asked, and the reasoning itself
 * only encrypted, when the request's `include` names `reasoning.encrypted_content` (what a request with `store: false`
 * sends back to carry it to the next turn).
 */
function reasoningItem(reasoning: { encrypted: boolean }) {
  return { type: 'reasoning', id: FAKE_REASONING_ID, summary: [], ...(reasoning.encrypted ? { encrypted_content: FAKE_ENCRYPTED_REASONING } : {}) };
}

/**
 * OpenAI's answer to a `store: false` request whose input holds a reasoning item by id alone (no `encrypted_content`):
 * nothing was kept to look it up in. Undefined when there is none.
 */
export function unstoredReasoningError(body: Record<string, unknown>): string | undefined {
  if (body.store !== false || !Array.isArray(body.input)) return undefined;
  const item = (body.input as unknown[]).find((i): i is { id?: unknown } => typeof i === 'object' && i !== null && (i as { type?: unknown }).type === 'reasoning' && typeof (i as { encrypted_content?: unknown }).encrypted_content !== 'string');
  if (!item) return undefined;
  return JSON.stringify({ error: { message: `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`, type: 'invalid_request_error', param: 'input', code: null } });
}

/** The items an answer opens with: its reasoning, its code interpreter call, its shell call, then its searches. */
const toolItems = (a: AnswerSpec): number => (a.reasoning ? 1 : 0) + (a.container === undefined ? 0 : 1) + (a.shell === undefined ? 0 : 1) + (a.searches ?? 0);

function responseObject(a: AnswerSpec, status: 'in_progress' | 'completed') {
  const done = status === 'completed';
  return {
    id: 'resp_fake1', object: 'response', created_at: created(), status, model: a.model, error: null, incomplete_details: null,
    output: done ? [...(a.reasoning ? [reasoningItem(a.reasoning)] : []), ...(a.container === undefined ? [] : [codeItem(a.container, 'completed')]), ...(a.shell === undefined ? [] : [shellItem(a.shell, 'completed')]), ...searchIndexes(a).map((i) => searchItem(i, 'completed')), outputItem(a, 'completed')] : [],
    usage: done && a.withUsage ? responsesUsage() : null,
  };
}

/**
 * The SSE events of a streamed answer, one string per write. `includeUsage` applies to the OpenAI chat and
 * completions surfaces (`stream_options.include_usage`); Responses and Messages always carry usage.
 */
export function streamEvents(surface: FakeSurface, a: AnswerSpec, includeUsage: boolean): string[] {
  const words = a.text.split(/(?<= )/);
  const out: string[] = [];
  if (surface === 'messages') {
    const startUsage = a.withUsage
      ? { input_tokens: FAKE_USAGE.input, output_tokens: 1, cache_read_input_tokens: FAKE_USAGE.cacheRead, cache_creation_input_tokens: FAKE_USAGE.cacheWrite, cache_creation: CACHE_CREATION }
      : undefined;
    out.push(sse(JSON.stringify({
      type: 'message_start',
      message: { id: 'msg_fake1', type: 'message', role: 'assistant', model: a.model, content: [], stop_reason: null, stop_sequence: null, ...(startUsage ? { usage: startUsage } : {}) },
    }), 'message_start'));
    // Code execution's blocks come first: the command's input as JSON pieces, the result whole.
    let ran = a.codeExecution ? CODE_BLOCKS.length : 0;
    if (a.codeExecution) {
      const [use, result] = CODE_BLOCKS;
      out.push(sse(JSON.stringify({ type: 'content_block_start', index: 0, content_block: { ...use, input: {} } }), 'content_block_start'));
      out.push(sse(JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(use!.input) } }), 'content_block_delta'));
      out.push(sse(JSON.stringify({ type: 'content_block_stop', index: 0 }), 'content_block_stop'));
      out.push(sse(JSON.stringify({ type: 'content_block_start', index: 1, content_block: result }), 'content_block_start'));
      out.push(sse(JSON.stringify({ type: 'content_block_stop', index: 1 }), 'content_block_stop'));
    }
    // Extended thinking, as Claude streams it: the text in pieces, then the block's signature in one delta.
    if (a.thinking) {
      out.push(sse(JSON.stringify({ type: 'content_block_start', index: ran, content_block: { type: 'thinking', thinking: '', signature: '' } }), 'content_block_start'));
      for (const piece of [FAKE_THINKING.text, FAKE_THINKING.more]) out.push(sse(JSON.stringify({ type: 'content_block_delta', index: ran, delta: { type: 'thinking_delta', thinking: piece } }), 'content_block_delta'));
      out.push(sse(JSON.stringify({ type: 'content_block_delta', index: ran, delta: { type: 'signature_delta', signature: FAKE_THINKING.signature } }), 'content_block_delta'));
      out.push(sse(JSON.stringify({ type: 'content_block_stop', index: ran }), 'content_block_stop'));
      ran += 1;
    }
    if (a.toolCall) {
      // As Anthropic streams a call: the block opens with an empty input, which then comes as JSON pieces.
      for (const [at, { id, name, arguments: args }] of callsOf(a).entries()) {
        const index = ran + at;
        const half = args.length >> 1;
        out.push(sse(JSON.stringify({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }), 'content_block_start'));
        for (const piece of [args.slice(0, half), args.slice(half)]) out.push(sse(JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }), 'content_block_delta'));
        out.push(sse(JSON.stringify({ type: 'content_block_stop', index }), 'content_block_stop'));
      }
    } else {
      out.push(sse(JSON.stringify({ type: 'content_block_start', index: ran, content_block: { type: 'text', text: '' } }), 'content_block_start'));
      out.push(sse(JSON.stringify({ type: 'ping' }), 'ping'));
      for (const w of words) out.push(sse(JSON.stringify({ type: 'content_block_delta', index: ran, delta: { type: 'text_delta', text: w } }), 'content_block_delta'));
      out.push(sse(JSON.stringify({ type: 'content_block_stop', index: ran }), 'content_block_stop'));
    }
    out.push(sse(JSON.stringify({
      // Every field of Anthropic's delta (the SDK types them nullable, not optional): set only for a refusal or a container tool.
      type: 'message_delta', delta: { stop_reason: a.toolCall ? 'tool_use' : 'end_turn', stop_sequence: null, stop_details: null, container: a.codeExecution ? FAKE_ANTHROPIC_CONTAINER : null },
      // As Anthropic sends it now: the input and cache counts restated (cumulative) beside the output's.
      ...(a.withUsage ? { usage: { input_tokens: FAKE_USAGE.input, cache_creation_input_tokens: FAKE_USAGE.cacheWrite, cache_read_input_tokens: FAKE_USAGE.cacheRead, output_tokens: FAKE_USAGE.output, ...serverToolUse(a), ...advisorIterations(a) } } : {}),
    }), 'message_delta'));
    out.push(sse(JSON.stringify({ type: 'message_stop' }), 'message_stop'));
    return out;
  }
  if (surface === 'responses') {
    // OpenAI's full event sequence: the item and its content part open, deltas, then each closes before completion.
    let seq = 0;
    const event = (type: string, fields: Record<string, unknown>) => out.push(sse(JSON.stringify({ type, sequence_number: seq++, ...fields }), type));
    event('response.created', { response: responseObject(a, 'in_progress') });
    event('response.in_progress', { response: responseObject(a, 'in_progress') });
    const thought = a.reasoning ? 1 : 0;
    if (a.reasoning) {
      event('response.output_item.added', { output_index: 0, item: { type: 'reasoning', id: FAKE_REASONING_ID, summary: [] } });
      event('response.output_item.done', { output_index: 0, item: reasoningItem(a.reasoning) });
    }
    const coded = thought + (a.container === undefined ? 0 : 1);
    const ran = coded + (a.shell === undefined ? 0 : 1);
    if (a.container !== undefined) {
      event('response.output_item.added', { output_index: thought, item: codeItem(a.container, 'in_progress') });
      for (const phase of ['in_progress', 'interpreting']) event(`response.code_interpreter_call.${phase}`, { output_index: thought, item_id: 'ci_fake1' });
      event('response.code_interpreter_call_code.done', { output_index: thought, item_id: 'ci_fake1', code: 'print(6 * 7)' });
      event('response.code_interpreter_call.completed', { output_index: thought, item_id: 'ci_fake1' });
      event('response.output_item.done', { output_index: thought, item: codeItem(a.container, 'completed') });
    }
    if (a.shell !== undefined) {
      event('response.output_item.added', { output_index: coded, item: shellItem(a.shell, 'in_progress') });
      event('response.output_item.done', { output_index: coded, item: shellItem(a.shell, 'completed') });
    }
    for (const i of searchIndexes(a)) {
      event('response.output_item.added', { output_index: ran + i, item: searchItem(i, 'in_progress') });
      for (const phase of ['in_progress', 'searching', 'completed']) event(`response.web_search_call.${phase}`, { output_index: ran + i, item_id: `ws_fake${i}` });
      event('response.output_item.done', { output_index: ran + i, item: searchItem(i, 'completed') });
    }
    const at = toolItems(a);
    event('response.output_item.added', { output_index: at, item: outputItem(a, 'in_progress') });
    if (a.toolCall) {
      const args = a.toolCall.arguments;
      const half = args.length >> 1;
      for (const delta of [args.slice(0, half), args.slice(half)]) event('response.function_call_arguments.delta', { item_id: 'fc_fake1', output_index: at, delta });
      event('response.function_call_arguments.done', { item_id: 'fc_fake1', output_index: at, name: a.toolCall.name, arguments: args });
    } else {
      const part = { item_id: 'msg_fake1', output_index: at, content_index: 0 };
      event('response.content_part.added', { ...part, part: outputText('') });
      for (const w of words) event('response.output_text.delta', { ...part, delta: w, logprobs: [] });
      event('response.output_text.done', { ...part, text: a.text, logprobs: [] });
      event('response.content_part.done', { ...part, part: outputText(a.text) });
    }
    event('response.output_item.done', { output_index: at, item: outputItem(a, 'completed') });
    event('response.completed', { response: responseObject(a, 'completed') });
    return out;
  }
  const usageField = includeUsage && a.withUsage ? { usage: null } : {};
  const chunk = (choice: Record<string, unknown>) => JSON.stringify({ id: 'chatcmpl-fake1', object: 'chat.completion.chunk', created: created(), model: a.model, system_fingerprint: 'fp_fake', choices: [{ index: 0, logprobs: null, ...choice }], ...usageField });
  if (surface === 'chat-completions') out.push(sse(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null })));
  // DeepSeek streams its thinking before the answer, in `reasoning_content` deltas.
  if (surface === 'chat-completions' && a.thinking) for (const piece of [FAKE_THINKING.text, FAKE_THINKING.more]) out.push(sse(chunk({ delta: { reasoning_content: piece }, finish_reason: null })));
  if (surface === 'chat-completions' && a.toolCall && a.said) out.push(sse(chunk({ delta: { content: a.said }, finish_reason: null })));
  if (surface === 'chat-completions' && a.toolCall) {
    // As OpenAI streams a call: id and name first, then the arguments in pieces; parallel calls one after another.
    for (const [index, { id, name, arguments: args }] of callsOf(a).entries()) {
      const half = args.length >> 1;
      if (a.lateName) {
        out.push(sse(chunk({ delta: { tool_calls: [{ index, id, type: 'function', function: { arguments: args.slice(0, half) } }] }, finish_reason: null })));
        out.push(sse(chunk({ delta: { tool_calls: [{ index, function: { name, arguments: args.slice(half) } }] }, finish_reason: null })));
      } else {
        out.push(sse(chunk({ delta: { tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] }, finish_reason: null })));
        for (const piece of [args.slice(0, half), args.slice(half)]) out.push(sse(chunk({ delta: { tool_calls: [{ index, function: { arguments: piece } }] }, finish_reason: null })));
      }
    }
    out.push(sse(chunk({ delta: {}, finish_reason: a.cutArguments ? 'length' : 'tool_calls' })));
    if (includeUsage && a.withUsage) out.push(sse(JSON.stringify({ id: 'chatcmpl-fake1', object: 'chat.completion.chunk', created: created(), model: a.model, choices: [], usage: openaiUsage(true) })));
    out.push(sse('[DONE]'));
    return out;
  }
  if (surface === 'completions') {
    // Each choice's pieces come in chunks of their own, told apart by `index` (OpenAI interleaves them, `text`
    // before `index`); an echoed prompt comes first. The choices finish last to first, so the first to finish is
    // not choice 0.
    const choices = a.choices ?? 1;
    const completion = (index: number, text: string, finish: string | null) => JSON.stringify({ id: 'cmpl-fake1', object: 'text_completion', created: created(), model: a.model, choices: [{ text, index, logprobs: null, finish_reason: finish }], ...usageField });
    if (a.echo) for (let i = 0; i < choices; i++) out.push(sse(completion(i, a.echo, null)));
    for (const w of words) for (let i = 0; i < choices; i++) out.push(sse(completion(i, w, null)));
    for (let i = choices - 1; i >= 0; i--) out.push(sse(completion(i, '', completionFinish(i))));
    if (includeUsage && a.withUsage) out.push(sse(JSON.stringify({ id: 'cmpl-fake1', object: 'text_completion', created: created(), model: a.model, choices: [], usage: completionsUsage(a) })));
    out.push(sse('[DONE]'));
    return out;
  }
  // A refusal streams in its own field, as OpenAI streams one.
  if (surface === 'chat-completions' && a.refusal !== undefined) for (const w of a.refusal.split(/(?<= )/)) out.push(sse(chunk({ delta: { refusal: w }, finish_reason: null })));
  else for (const w of words) out.push(sse(chunk({ delta: { content: w }, finish_reason: null })));
  out.push(sse(chunk({ delta: {}, finish_reason: 'stop' })));
  if (includeUsage && a.withUsage) out.push(sse(JSON.stringify({ id: 'chatcmpl-fake1', object: 'chat.completion.chunk', created: created(), model: a.model, choices: [], usage: openaiUsage(true) })));
  out.push(sse('[DONE]'));
  return out;
}

const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: 'invalid_value', message: 'Invalid value for \'messages\': the fake provider rejects this request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported.' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist or you do not have access to it.' },
  422: { type: 'invalid_request_error', code: null, message: 'Unprocessable request.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again in 1s.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later.' },
};

const ANTHROPIC_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'messages: the fake provider rejects this request' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'model: not found' },
  422: { type: 'invalid_request_error', message: 'Unprocessable request.' },
  429: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  500: { type: 'api_error', message: 'Internal server error' },
  503: { type: 'overloaded_error', message: 'Overloaded' },
  // Anthropic's own overload status (its SDK's OverloadedError).
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

/** The provider's own error body for a status, in its format. */
export function errorBody(format: WireFormat, status: number): string {
  if (format === 'anthropic') {
    const e = ANTHROPIC_ERRORS[status] ?? ANTHROPIC_ERRORS[500]!;
    return JSON.stringify({ type: 'error', error: e, request_id: 'req_fake1' });
  }
  const e = OPENAI_ERRORS[status] ?? OPENAI_ERRORS[500]!;
  return JSON.stringify({ error: { message: e.message, type: e.type, param: null, code: e.code } });
}
