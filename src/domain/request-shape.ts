// What a request must hold whichever model serves it: checked before any upstream call, so the client learns the
// same thing from every candidate — a translated request would otherwise go out as something else (a `messages`
// string as an empty conversation), and the same code work on one model and fail on another.
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';
import { geminiContentsProblem, geminiCountedRequest, geminiList, geminiMember, geminiMembers, geminiSpelling } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';

/**
 * Why the request lacks what its API requires, if it does (said as the provider's own 400 would). `outputCap` is the
 * account's maxOutputTokens: when set, the gateway adds it as the limit a request leaves out (params.ts). `format`:
 * the client's, which tells Anthropic's token counting from Gemini's.
 */
export function requestShapeProblem(body: Record<string, unknown>, surface: ApiSurface, outputCap: number | null, format: ApiFormat): string | undefined {
  // The gateway relays and meters an answer as a stream only for `true`; a lenient server reads "true" or 1 as true
  // too, and its stream would then reach the client as one unmetered body (0 output tokens recorded).
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') return '"stream" must be true or false.';
  // Gemini's `:countTokens` counts `contents` (or a whole `generateContentRequest`): checked below, as generateContent's.
  if (surface === 'chat-completions' || surface === 'messages' || (surface === 'count-tokens' && format === 'anthropic')) {
    if (!Array.isArray(body.messages)) return `"messages" must be an array of messages${body.messages === undefined ? ', and is required' : ''}.`;
  }
  // Bedrock's CountTokens: a union of the two requests it counts (Bedrock's own models would refuse anything else).
  if (surface === 'count-tokens' && format === 'bedrock') {
    const input = isRecord(body.input) ? body.input : {};
    if (isRecord(input.converse) === isRecord(input.invokeModel)) return '"input" must hold one of "converse" (a Converse request\'s messages, system and toolConfig) or "invokeModel" (an InvokeModel body).';
    if (isRecord(input.converse)) return converseShapeProblem(input.converse, 'input.converse.');
  }
  if (surface === 'converse' || surface === 'converse-stream') {
    const problem = converseShapeProblem(body, '');
    if (problem) return problem;
  }
  // Google refuses these itself; an OpenAI embedding model would be sent no text (or none at all), and answer it.
  if (format === 'gemini' && (surface === 'embeddings' || surface === 'embed-content')) {
    const problem = geminiEmbedShapeProblem(body, surface === 'embeddings');
    if (problem) return problem;
  }
  // Google refuses such `contents` itself; a chat model would be sent an empty prompt, and answer it. A count the
  // gateway makes itself (a model Google does not serve, pipeline.ts `countedHere`) would read them as no prompt and
  // answer `{"totalTokens": 0}`, and Anthropic's count_tokens would be sent no message.
  if (surface === 'generate-content' || surface === 'stream-generate-content' || (surface === 'count-tokens' && format === 'gemini')) {
    const problem = geminiContentsProblem(surface === 'count-tokens' ? geminiCountedRequest(body) : body);
    if (problem) return problem;
  }
  // Anthropic requires the output limit on Messages (token counting refuses one), unless the account's cap supplies it.
  if (surface === 'messages' && (body.max_tokens === undefined || body.max_tokens === null) && !(outputCap !== null && outputCap > 0)) {
    return '"max_tokens" is required.';
  }
  return undefined;
}

const listOf = (v: unknown) => Array.isArray(v) && v.every(isRecord);
const given = (v: unknown) => v !== undefined && v !== null;

/**
 * Converse's members the gateway reads, of the types Bedrock's API gives them: Bedrock refuses others itself, and a
 * model reached by translation would be sent the conversation without them (objects of the wrong type are skipped).
 * `messages` may be absent (a Bedrock prompt resource supplies it).
 */
function converseShapeProblem(body: Record<string, unknown>, at: string): string | undefined {
  const { messages } = body;
  if (given(messages)) {
    if (!Array.isArray(messages)) return `"${at}messages" must be a list of messages ({"role": "user", "content": [{"text": "…"}]}).`;
    for (const [i, message] of messages.entries()) {
      const where = `${at}messages[${i}]`;
      if (!isRecord(message)) return `"${where}" must be a message ({"role": "user", "content": [{"text": "…"}]}).`;
      if (message.role !== 'user' && message.role !== 'assistant') return `"${where}.role" must be "user" or "assistant".`;
      if (!listOf(message.content)) return `"${where}.content" must be a list of content blocks ({"text": "…"}).`;
      for (const [j, block] of (message.content as Record<string, unknown>[]).entries()) {
        if (given(block.text) && typeof block.text !== 'string') return `"${where}.content[${j}].text" must be a string.`;
        for (const name of ['toolUse', 'toolResult']) if (given(block[name]) && !isRecord(block[name])) return `"${where}.content[${j}].${name}" must be an object.`;
      }
    }
  }
  if (given(body.system) && !listOf(body.system)) return `"${at}system" must be a list of system content blocks ({"text": "…"}).`;
  if (given(body.toolConfig) && !(isRecord(body.toolConfig) && (!given(body.toolConfig.tools) || listOf(body.toolConfig.tools)))) {
    return `"${at}toolConfig" must be an object whose "tools" is a list of tools ({"toolSpec": {…}}).`;
  }
  if (given(body.inferenceConfig) && !isRecord(body.inferenceConfig)) return `"${at}inferenceConfig" must be an object.`;
  return undefined;
}

/**
 * An EmbedContentRequest's `content` (each of a batch's `requests`): one Content whose parts are objects. A repeated
 * field's lone value is read as one item, as Google reads it (gemini-fields.ts).
 */
function geminiEmbedShapeProblem(body: Record<string, unknown>, batch: boolean): string | undefined {
  const requests = batch ? geminiList(geminiMember(body, 'requests')) : [body];
  if (batch && requests.length === 0) return '"requests" is required: a list of EmbedContentRequest objects ({"content": {"parts": [{"text": "…"}]}}).';
  for (const [i, request] of requests.entries()) {
    const where = batch ? `${geminiSpelling(body, 'requests')}[${i}]` : '';
    if (!isRecord(request)) return `"${where}" must be an EmbedContentRequest object ({"content": {"parts": [{"text": "…"}]}}).`;
    const content = geminiMember(request, 'content');
    const named = `${where === '' ? '' : `${where}.`}content`;
    if (!isRecord(content)) return `"${named}" is required: one Content object ({"parts": [{"text": "…"}]}).`;
    const parts = geminiList(content.parts);
    if (parts.length === 0 || !parts.every(isRecord)) return `"${named}.parts" must be a list of Part objects ({"text": "…"}), at least one.`;
  }
  return undefined;
}

/**
 * Whether the answer is streamed: `stream: true`, except where the API answers in one JSON body whatever it says;
 * Gemini's by its path alone (`:streamGenerateContent`), never by its body.
 */
export function streamsAnswer(body: Record<string, unknown> | undefined, surface: ApiSurface): boolean {
  // Gemini's and Bedrock's streaming are operations of their own, whatever the body says.
  if (surface === 'stream-generate-content' || surface === 'converse-stream' || surface === 'invoke-stream') return true;
  if (surface === 'converse' || surface === 'invoke') return false;
  return body?.stream === true && surface !== 'embeddings' && surface !== 'embed-content' && surface !== 'count-tokens' && surface !== 'generate-content';
}

/** What the refusals below tell a client that wants more of Interactions than ngrok serves. */
const STATELESS = 'ngrok\'s AI Gateway serves Gemini Interactions statelessly: every request goes to Google with "store": false, so no interaction is kept to continue, read or resume';

/**
 * Why a Gemini Interactions request asks for what ngrok's gateway does not serve, if it does (gateway.md §3): state
 * kept at Google (`store: true`, `previous_interaction_id`, `background: true`, whose answer is read later), and
 * agents with their environments, and webhooks. Said before any upstream call, on every key: BYOK too. Each member
 * under both of Google's names (gemini-fields.ts), named as the client spelled it: Interactions documents the
 * snake_case ones, and a camelCase one Google might read as GenerateContent's would otherwise pass.
 */
export function interactionsProblem(body: Record<string, unknown>): string | undefined {
  const isSet = (jsonName: string) => geminiMembers(body, jsonName).length > 0;
  const named = (jsonName: string) => geminiSpelling(body, jsonName);
  if (body.store === true) return `"store": true is not supported: ${STATELESS}. Omit "store" (or send false) and send the whole conversation in "input".`;
  if (isSet('previousInteractionId')) return `"${named('previousInteractionId')}" is not supported: ${STATELESS}. Send the whole conversation in "input".`;
  // Any value but false: a lenient parser reads "true" (a string) as true, as protobuf's JSON parsers do for a bool,
  // and a managed key would then pay for an answer no usage event counts.
  if (body.background !== undefined && body.background !== null && body.background !== false) {
    return `"background": ${JSON.stringify(body.background).slice(0, 40)} is not supported: ${STATELESS}, and a background interaction's answer is only read later. Omit "background".`;
  }
  for (const field of ['agent', 'agentConfig', 'environment']) {
    if (isSet(field)) return `"${named(field)}" is not supported: Gemini agents and their environments are not served through ngrok's AI Gateway. Name a model in "model".`;
  }
  if (isSet('webhookConfig')) return `"${named('webhookConfig')}" is not supported: ngrok's AI Gateway answers Gemini Interactions in the response (JSON, or server-sent events with "stream": true), never by webhook.`;
  return undefined;
}
