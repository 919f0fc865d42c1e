// What a translated request must hold before it is translated: the members the translators read, of the types the
// client's own API gives them. A request sent to a model of its own API goes as the client wrote it, and the provider
// judges it; a translated one is rebuilt from what the translators read, so a value of the wrong type did not reach
// the provider to be refused — it went as something else (a text part that is `true` as a message whose content is
// `true`, a tool without its name, `"temperature": "x"` under another API's name), or was dropped. It is refused
// here instead, naming the member as the client wrote it (400 ERR_NGROK_27228). So is a body a translation cannot
// write back out (`writeProblem`): a number JSON.parse could only read as ±Infinity (1e400 would have gone as null,
// "not given"), or nesting deeper than JSON.stringify follows (the answer repeats some of the request: its failure
// came after the provider had been paid). `null` is "not given" for every member, as the translators read it.
// Reasoning settings are not held here: a value the target refuses is reported removed instead (translation.md).
import type { ApiSurface } from '../../catalog/types.ts';
import { geminiCountedRequest, geminiMembers, geminiProtoName } from '../../domain/gemini-fields.ts';
import { isRecord } from '../../domain/json-value.ts';

/** A member's problem at `at` (its path as the client wrote it), or undefined. */
type Rule = (value: unknown, at: string) => string | undefined;

const given = (v: unknown): boolean => v !== undefined && v !== null;
const path = (at: string, name: string): string => (at === '' ? name : `${at}.${name}`);
const must = (at: string, what: string): string => `"${at}" must be ${what}`;

const string: Rule = (v, at) => (typeof v === 'string' ? undefined : must(at, 'a string'));
const number: Rule = (v, at) => (typeof v === 'number' ? undefined : must(at, 'a number'));
const integer: Rule = (v, at) => (Number.isInteger(v) ? undefined : must(at, 'an integer'));
const boolean: Rule = (v, at) => (typeof v === 'boolean' ? undefined : must(at, 'true or false'));
const object: Rule = (v, at) => (isRecord(v) ? undefined : must(at, 'an object'));
const oneOf = (...values: readonly string[]): Rule => (v, at) => (typeof v === 'string' && values.includes(v) ? undefined : must(at, values.map((s) => `"${s}"`).join(' or ')));

/** Each item of a list (a lone value too, where the API reads one as a list of one: `lone`). */
function list(item: Rule, lone = false): Rule {
  return (v, at) => {
    if (!Array.isArray(v)) return lone ? item(v, `${at}[0]`) : must(at, 'a list');
    for (const [i, value] of v.entries()) {
      const problem = given(value) ? item(value, `${at}[${i}]`) : must(`${at}[${i}]`, 'given');
      if (problem) return problem;
    }
    return undefined;
  };
}

/**
 * The value passes one of the rules; else the problem deeper in it of the rule that got past its type (a list of blocks
 * whose first block's text is `true`), or said as `what`.
 */
function either(what: string, ...rules: Rule[]): Rule {
  return (v, at) => {
    const problems: string[] = [];
    for (const rule of rules) {
      const problem = rule(v, at);
      if (problem === undefined) return undefined;
      problems.push(problem);
    }
    return problems.find((problem) => !problem.startsWith(`"${at}" must`)) ?? must(at, what);
  };
}

/**
 * An object whose members, when given, follow their rules (`required` ones must be given), and then `more`'s rule for
 * it (a content block's by its `type`).
 */
function members(shape: Readonly<Record<string, Rule>>, required: readonly string[] = [], more?: (o: Record<string, unknown>) => Rule | undefined): Rule {
  return (v, at) => {
    if (!isRecord(v)) return must(at, 'an object');
    for (const name of required) if (!given(v[name])) return `"${path(at, name)}" is required`;
    for (const [name, rule] of Object.entries(shape)) {
      const problem = given(v[name]) ? rule(v[name], path(at, name)) : undefined;
      if (problem) return problem;
    }
    return more?.(v)?.(v, at);
  };
}

/** `members` for a Gemini message: each member by either of Google's names (gemini-fields.ts), named as written. */
function gemini(shape: Readonly<Record<string, Rule>>, required: readonly string[] = []): Rule {
  return (v, at) => {
    if (!isRecord(v)) return must(at, 'an object');
    for (const name of required) if (geminiMembers(v, name).length === 0) return `"${path(at, name)}" is required`;
    for (const [name, rule] of Object.entries(shape)) {
      for (const spelling of new Set([name, geminiProtoName(name)])) {
        const problem = given(v[spelling]) ? rule(v[spelling], path(at, spelling)) : undefined;
        if (problem) return problem;
      }
    }
    return undefined;
  };
}

const strings = list(string);
const stringOrStrings = either('a string or a list of strings', string, strings);

// OpenAI chat completions.
const CHAT_PART = members({ type: string }, ['type']);
const CHAT_CALL = members({ id: string, type: string, function: members({ name: string, arguments: either('a string (JSON text) or an object', string, object) }, ['name']) }, ['function']);
const CHAT = members({
  messages: list(members({
    role: oneOf('system', 'developer', 'user', 'assistant', 'tool', 'function'),
    content: either('a string or a list of content parts', string, list(CHAT_PART)),
    name: string, refusal: string, tool_call_id: string, tool_calls: list(CHAT_CALL), reasoning_details: list(object),
  }, ['role'])),
  tools: list(members({ type: string, function: members({ name: string, description: string, parameters: object, strict: boolean }, ['name']) }, ['type'],
    (tool) => (tool.type === 'function' ? members({}, ['function']) : undefined))),
  tool_choice: either('a string or an object', string, members({ type: string })),
  max_tokens: integer, max_completion_tokens: integer, temperature: number, top_p: number, stop: stringOrStrings, user: string, stream: boolean,
  stream_options: object, parallel_tool_calls: boolean, response_format: members({ type: string }, ['type']),
});

// Anthropic Messages (and its token counting).
const TEXT_BLOCK = members({ text: string }, ['text']);
const MESSAGES_BLOCKS: Readonly<Record<string, Rule>> = {
  text: TEXT_BLOCK,
  tool_use: members({ id: string, name: string, input: object }, ['id', 'name']),
  tool_result: members({ tool_use_id: string, content: either('a string or a list of content blocks', string, list(members({ type: string }, ['type']))), is_error: boolean }, ['tool_use_id']),
  thinking: members({ thinking: string, signature: string }),
  redacted_thinking: members({ data: string }),
  image: members({ source: object }, ['source']),
  document: members({ source: object, title: string }, ['source']),
};
const MESSAGES_BLOCK = members({ type: string }, ['type'], (block) => MESSAGES_BLOCKS[block.type as string]);
const MESSAGES = members({
  system: either('a string or a list of text blocks', string, list(members({ type: oneOf('text') }, ['type'], () => TEXT_BLOCK))),
  messages: list(members({ role: oneOf('user', 'assistant'), content: either('a string or a list of content blocks', string, list(MESSAGES_BLOCK)) }, ['role', 'content'])),
  tools: list(members({ type: string, name: string, description: string, input_schema: object }, [], (tool) => (!given(tool.type) || tool.type === 'custom' ? members({}, ['name']) : undefined))),
  tool_choice: members({ type: string, name: string, disable_parallel_tool_use: boolean }, ['type']),
  max_tokens: integer, temperature: number, top_p: number, top_k: integer, stop_sequences: strings, stream: boolean,
  metadata: members({ user_id: string }), output_config: object, output_format: object,
});

// OpenAI Responses.
const RESPONSES_ITEMS: Readonly<Record<string, Rule>> = {
  message: members({ role: oneOf('user', 'assistant', 'system', 'developer'), content: either('a string or a list of content parts', string, list(members({ type: string }, ['type']))) }, ['role', 'content']),
  function_call: members({ call_id: string, name: string, arguments: string }, ['call_id', 'name']),
  function_call_output: members({ call_id: string, output: either('a string or a list of content parts', string, list(object)) }, ['call_id']),
  custom_tool_call: members({ call_id: string, name: string, input: string }, ['call_id', 'name']),
  custom_tool_call_output: members({ call_id: string, output: either('a string or a list of content parts', string, list(object)) }, ['call_id']),
};
const RESPONSES_ITEM = members({ type: string }, [], (item) => RESPONSES_ITEMS[typeof item.type === 'string' ? item.type : 'message']);
const RESPONSES = members({
  input: either('a string or a list of input items', string, list(RESPONSES_ITEM)),
  instructions: string, max_output_tokens: integer, temperature: number, top_p: number, stream: boolean, parallel_tool_calls: boolean, user: string,
  tools: list(members({ type: string, name: string, description: string, parameters: object, strict: boolean }, ['type'],
    (tool) => (tool.type === 'function' || tool.type === 'custom' ? members({}, ['name']) : undefined))),
  tool_choice: either('a string or an object', string, members({ type: string }, ['type'])),
  text: members({ format: members({ type: string }, ['type']), verbosity: string }),
});

// Gemini's GenerateContent (and what its countTokens counts): lone values read as lists of one, as Google reads them.
const GEMINI_PART = gemini({ text: string, functionCall: gemini({ name: string, args: object, id: string }, ['name']), functionResponse: gemini({ name: string, response: object, id: string }, ['name']), thought: boolean });
const GEMINI_CONTENT = gemini({ role: string, parts: list(GEMINI_PART, true) });
const GEMINI = gemini({
  contents: list(GEMINI_CONTENT, true), systemInstruction: either('a Content object or a string', string, GEMINI_CONTENT),
  tools: list(gemini({ functionDeclarations: list(gemini({ name: string, description: string, parameters: object, parametersJsonSchema: object }, ['name']), true) }), true),
  toolConfig: gemini({ functionCallingConfig: gemini({ mode: string, allowedFunctionNames: list(string, true) }) }),
  generationConfig: gemini({
    maxOutputTokens: integer, temperature: number, topP: number, topK: number, candidateCount: integer, seed: integer, presencePenalty: number, frequencyPenalty: number,
    stopSequences: list(string, true), responseMimeType: string, responseSchema: object, responseJsonSchema: object,
  }),
});

// Gemini's embeddings, for OpenAI's /v1/embeddings (request-shape.ts refused a `content` that is no Content before).
const EMBED_REQUEST = gemini({ content: gemini({ parts: list(gemini({ text: string }), true) }), outputDimensionality: integer, taskType: string, title: string, model: string });
const BATCH_EMBED = gemini({ requests: list(EMBED_REQUEST, true) });

// Bedrock's Converse (and its CountTokens' `input.converse`).
const CONVERSE_BLOCK = members({
  text: string, toolUse: members({ toolUseId: string, name: string, input: object }, ['toolUseId', 'name']),
  toolResult: members({ toolUseId: string, content: list(object), status: string }, ['toolUseId']), reasoningContent: object, image: object, document: object,
}, [], (block) => (Object.values(block).some(given) ? undefined : (_, at) => `"${at}" holds nothing: a content block gives one of "text", "image", "document", "toolUse" or "toolResult"`));
const CONVERSE = members({
  messages: list(members({ role: oneOf('user', 'assistant'), content: list(CONVERSE_BLOCK) }, ['role', 'content'])),
  system: list(members({ text: string })),
  inferenceConfig: members({ maxTokens: integer, temperature: number, topP: number, stopSequences: strings }),
  toolConfig: members({ tools: list(members({ toolSpec: members({ name: string, description: string, inputSchema: object }, ['name']) })), toolChoice: object }),
  additionalModelRequestFields: object,
});
const CONVERSE_COUNT = members({ input: members({ converse: CONVERSE }) });

/** The rules of a client surface's request, when requests of that surface are translated. */
function rulesFor(surface: ApiSurface, body: Record<string, unknown>): Rule | undefined {
  switch (surface) {
    case 'chat-completions': return CHAT;
    case 'messages': return MESSAGES;
    case 'responses': return RESPONSES;
    case 'generate-content':
    case 'stream-generate-content': return GEMINI;
    case 'embed-content': return EMBED_REQUEST;
    case 'embeddings': return BATCH_EMBED;
    case 'converse':
    case 'converse-stream': return CONVERSE;
    // One surface, three clients: Anthropic's body has `messages`, Bedrock's `input`, Google's its contents.
    case 'count-tokens': return isRecord(body.input) ? CONVERSE_COUNT : Array.isArray(body.messages) ? MESSAGES : (v) => GEMINI(geminiCountedRequest(v as Record<string, unknown>), '');
    default: return undefined;
  }
}

/** Why a request of `surface` cannot be translated as it is typed, if it cannot (said as the client named the member). */
export function wrongTypeReason(surface: ApiSurface, body: Record<string, unknown>): string | undefined {
  return rulesFor(surface, body)?.(body, '');
}

/**
 * Deeper than this, a translated body is refused: JSON.stringify (which writes it, and the answer that repeats some of
 * it) recurses, and overflows the stack a few thousand levels down. No request nests a tenth as deep.
 */
const MAX_TRANSLATED_DEPTH = 1000;

/**
 * Why the body cannot be written back out as JSON once translated, if it cannot: a number JSON.parse read as ±Infinity
 * (named by its path), or nesting past MAX_TRANSLATED_DEPTH. Walked without recursion: the client sets the depth.
 */
export function writeProblem(body: Record<string, unknown>): string | undefined {
  const open: [unknown, number][] = [[body, 0]];
  let infinite = false;
  while (open.length > 0) {
    const [value, depth] = open.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) infinite = true;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_TRANSLATED_DEPTH) return `the body is nested too deeply: more than ${MAX_TRANSLATED_DEPTH} levels, deeper than a translation to another API writes.`;
    for (const item of Array.isArray(value) ? value : Object.values(value)) open.push([item, depth + 1]);
  }
  return infinite ? `${infiniteAt(body, '') ?? 'a number'} is out of range: JSON numbers here hold at most ±1.8e308, and a translation would write this one as null ("not given").` : undefined;
}

/** The path of the first ±Infinity in `value` (the walk above found one, within MAX_TRANSLATED_DEPTH). */
function infiniteAt(value: unknown, at: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `"${at}"`;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = infiniteAt(item, Array.isArray(value) ? `${at}[${key}]` : path(at, key));
    if (found) return found;
  }
  return undefined;
}
