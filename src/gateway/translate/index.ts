// Which translator serves a request, if any: only when the candidate's upstream surface is not the client's
// (domain/resolve.ts picks a translated surface only when the model serves no native one).
import type { ApiFormat, ApiSurface, CatalogModel, SurfaceSpec } from '../../catalog/types.ts';
import type { Untranslatable } from '../../domain/resolve.ts';
import { AUDIO_REASON, chatViaMessages, legacyFunctionsReason, malformedChatPartReason, unplacedPartReason, unreadableFileReason } from './chat-via-messages.ts';
import { goesAsSource, unsendableChatImageReason, unsendableImageReason } from './claude-images.ts';
import { FILE_BY_URL_REASON, fileByUrl, itemParts, storedStateReason } from './stored-items.ts';
import { objects, type Json } from './json.ts';
import { num, obj } from '../formats/types.ts';
import { geminiCountedRequest } from '../../domain/gemini-fields.ts';
import { continuedThread, messagesViaChat, unsendableMediaReason } from './messages-via-chat.ts';
import { duplicateToolReason, malformedInputReason, responsesViaChat, unplacedInputReason } from './responses-via-chat.ts';
import { composed } from './composed.ts';
import { messagesViaInvoke } from './messages-via-invoke.ts';
import { converseUnsendableReason, messagesViaConverse } from './messages-via-converse.ts';
import { GEMINI_CHAT_FIELDS, geminiMalformedPartReason, geminiStreamViaChat, geminiUntranslatableReason, geminiViaChat } from './gemini-via-chat.ts';
import { geminiBatchEmbedViaOpenai, geminiEmbedModelProblem, geminiEmbedUntranslatableReason, geminiEmbedViaOpenai } from './gemini-embed-via-openai.ts';
import { CONVERSE_FIELDS, converseCountRequest, converseCountUntranslatableReason, converseStreamViaMessages, converseUntranslatableReason, converseViaMessages } from './converse-via-messages.ts';
import type { AnyTranslator, Translator } from './types.ts';
import { wrongTypeReason, writeProblem } from './client-types.ts';

export type { AnyTranslator, StreamTranslation, TranslationScope, Translator } from './types.ts';
export { withStoredItemsInline } from './stored-items.ts';
export { isTranslatedResponseId } from './responses-via-chat.ts';
export { bedrockCountedRequest, converseCountUntranslatableReason } from './converse-via-messages.ts';
// Automatic selection asks it too, to refuse a thread as a named model's resolution does (pipeline.ts).
export { continuedThread } from './messages-via-chat.ts';

/**
 * Responses → chat completions → Messages. Of the chat fields the Responses half writes, what the Messages half drops
 * is named as the client sent it: `reasoning_effort` (the client's `reasoning`, when thinking cannot go), and
 * `response_format` beside function tools (its `text`).
 */
const responsesViaMessages = composed(responsesViaChat, chatViaMessages, { reasoning_effort: 'reasoning', response_format: 'text' });

/**
 * Gemini's GenerateContent → chat completions → Messages (Claude). What the Messages half drops of the chat fields
 * the Gemini half wrote is named as the client sent it (`generationConfig.seed`, not `seed`).
 */
const geminiViaMessages = composed(geminiViaChat, chatViaMessages, GEMINI_CHAT_FIELDS);
const geminiStreamViaMessages = composed(geminiStreamViaChat, chatViaMessages, GEMINI_CHAT_FIELDS);

/**
 * Bedrock's Converse → Messages → chat completions (GPT models and other chat-only ones). What the chat half drops of
 * the Messages fields the Converse half wrote is named as the client sent it (`inferenceConfig.stopSequences`).
 */
const converseViaChat = composed(converseViaMessages, messagesViaChat, CONVERSE_FIELDS);
const converseStreamViaChat = composed(converseStreamViaMessages, messagesViaChat, CONVERSE_FIELDS);

/** Converse's two operations: the path (ConverseStream's own), not the body, says whether the answer streams. */
function converseTranslator(client: ApiSurface, upstream: ApiSurface): AnyTranslator | undefined {
  if (client !== 'converse' && client !== 'converse-stream') return undefined;
  const streaming = client === 'converse-stream';
  if (upstream === 'messages') return streaming ? converseStreamViaMessages : converseViaMessages;
  return upstream === 'chat-completions' ? (streaming ? converseStreamViaChat : converseViaChat) : undefined;
}

/** Chat completions and Responses → Messages → Bedrock's InvokeModel (Claude on Bedrock): one more half after Messages. */
const chatViaInvoke = composed(chatViaMessages, messagesViaInvoke, {});
const responsesViaInvoke = composed(responsesViaMessages, messagesViaInvoke, {});
const geminiViaInvoke = composed(geminiViaMessages, messagesViaInvoke, {});
const geminiStreamViaInvoke = composed(geminiStreamViaMessages, messagesViaInvoke, {});

/**
 * Messages fields the chat half writes from a client field of another name, which Converse has no place for: named
 * as the client sent them (`user`, not `metadata`).
 */
const CHAT_MESSAGES_FIELDS: Readonly<Record<string, string>> = { metadata: 'user', thinking: 'reasoning_effort', output_config: 'response_format' };

/**
 * Chat completions, Responses and Gemini → Messages → Bedrock's Converse (Nova, Llama: Bedrock's models served on
 * Converse alone), as they reach Claude on InvokeModel.
 */
const chatViaConverse = composed(chatViaMessages, messagesViaConverse, CHAT_MESSAGES_FIELDS);
const responsesViaConverse = composed(responsesViaMessages, messagesViaConverse, CHAT_MESSAGES_FIELDS);
const geminiViaConverse = composed(geminiViaMessages, messagesViaConverse, CHAT_MESSAGES_FIELDS);
const geminiStreamViaConverse = composed(geminiStreamViaMessages, messagesViaConverse, CHAT_MESSAGES_FIELDS);

/** What Anthropic's token counting reads of a Messages request: it refuses any other member ("Extra inputs are not permitted"). */
const COUNTED_MEMBERS = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'output_config']);

/**
 * Gemini's `:countTokens` on Claude, counted by Anthropic's count_tokens: the request (its `contents`, or the whole
 * `generateContentRequest` Google takes instead) translated as GenerateContent is to Messages, less the generation
 * settings a count has no use for (the output limit, sampling: they change no count, and Anthropic refuses them
 * there); its answer, `{"input_tokens": N}`, as Google's `{"totalTokens": N}`. Never streamed.
 */
const geminiCountViaMessages: Translator = {
  request(body, plan) {
    const translated = geminiViaMessages.request(geminiCountedRequest(body), plan);
    return { ...translated, body: countedBody(translated.body) };
  },
  answer: (upstream) => ({ totalTokens: num(obj(upstream)?.input_tokens) }),
  error: geminiViaMessages.error,
  stream: geminiViaMessages.stream,
};

/** A Messages request less what count_tokens refuses. */
function countedBody(body: Json): Json {
  return Object.fromEntries(Object.entries(body).filter(([name]) => COUNTED_MEMBERS.has(name)));
}

/**
 * Bedrock's CountTokens on Claude at Anthropic, counted by Anthropic's count_tokens: the Converse request it holds
 * translated as Converse is (or Claude's InvokeModel body as it is), less what a count has no use for; the answer,
 * `{"input_tokens": N}`, as Bedrock's `{"inputTokens": N}`, errors in Bedrock's shape.
 */
const converseCountViaMessages: Translator<Uint8Array> = {
  request(body, plan) {
    const translated = converseCountRequest(body, plan);
    return { ...translated, body: countedBody(translated.body) };
  },
  answer: (upstream) => ({ inputTokens: num(obj(upstream)?.input_tokens) }),
  error: converseViaMessages.error,
  ...(converseViaMessages.errorHeaders ? { errorHeaders: converseViaMessages.errorHeaders } : {}),
  stream: converseViaMessages.stream,
};

/** Gemini's surfaces: one translator each, as the path (not the body) says whether the answer streams, counts or embeds. */
function geminiTranslator(client: ApiSurface, upstream: ApiSurface): Translator | undefined {
  // Embeddings reach OpenAI-format embedding models only (`text-embedding-3-small`): nothing else embeds.
  if (client === 'embeddings' || client === 'embed-content') return upstream === 'embeddings' ? (client === 'embeddings' ? geminiBatchEmbedViaOpenai : geminiEmbedViaOpenai) : undefined;
  if (client === 'count-tokens') return upstream === 'count-tokens' ? geminiCountViaMessages : undefined;
  const streaming = client === 'stream-generate-content';
  if (upstream === 'chat-completions') return streaming ? geminiStreamViaChat : geminiViaChat;
  if (isInvoke(upstream)) return streaming ? geminiStreamViaInvoke : geminiViaInvoke;
  if (isConverse(upstream)) return streaming ? geminiStreamViaConverse : geminiViaConverse;
  return upstream === 'messages' ? (streaming ? geminiStreamViaMessages : geminiViaMessages) : undefined;
}

const isInvoke = (surface: ApiSurface): boolean => surface === 'invoke' || surface === 'invoke-stream';
const isConverse = (surface: ApiSurface): boolean => surface === 'converse' || surface === 'converse-stream';

/** The client surfaces reaching Claude on Bedrock's InvokeModel, Gemini's aside (geminiTranslator). */
const INVOKE_TRANSLATORS: Partial<Record<ApiSurface, Translator>> = { messages: messagesViaInvoke, 'chat-completions': chatViaInvoke, responses: responsesViaInvoke };
/** The client surfaces reaching Bedrock's Converse-only models, Gemini's aside. */
const CONVERSE_TRANSLATORS: Partial<Record<ApiSurface, Translator>> = { messages: messagesViaConverse, 'chat-completions': chatViaConverse, responses: responsesViaConverse };

/**
 * The translator from the client's API (its route's format and surface) to the candidate's, if they differ. Token
 * counting is one surface in two formats: Gemini's `:countTokens` reaches Claude's count_tokens by translation.
 */
export function translatorFor(client: { format: Exclude<ApiFormat, 'bedrock'>; surface: ApiSurface }, upstream: SurfaceSpec): Translator | undefined;
export function translatorFor(client: { format: ApiFormat; surface: ApiSurface }, upstream: SurfaceSpec): AnyTranslator | undefined;
export function translatorFor(client: { format: ApiFormat; surface: ApiSurface }, upstream: SurfaceSpec): AnyTranslator | undefined {
  if (upstream.surface === client.surface && upstream.format === client.format) return undefined;
  if (client.format === 'gemini') return geminiTranslator(client.surface, upstream.surface);
  // A Bedrock client's Converse reaches models that do not serve Bedrock (GPT, Claude at Anthropic); its CountTokens,
  // Claude's count_tokens.
  if (client.format === 'bedrock') {
    if (upstream.format === 'bedrock') return undefined;
    if (client.surface === 'count-tokens') return upstream.surface === 'count-tokens' ? converseCountViaMessages : undefined;
    return converseTranslator(client.surface, upstream.surface);
  }
  // Claude on Bedrock takes Anthropic's Messages body through InvokeModel (and its stream); chat completions and
  // Responses reach it through Messages. Nothing else reaches Bedrock.
  if (upstream.format === 'bedrock') return isInvoke(upstream.surface) ? INVOKE_TRANSLATORS[client.surface] : isConverse(upstream.surface) ? CONVERSE_TRANSLATORS[client.surface] : undefined;
  if (upstream.surface === 'chat-completions') return client.surface === 'messages' ? messagesViaChat : client.surface === 'responses' ? responsesViaChat : undefined;
  if (upstream.surface !== 'messages') return undefined;
  return client.surface === 'chat-completions' ? chatViaMessages : client.surface === 'responses' ? responsesViaMessages : undefined;
}

/**
 * Why a request of `client`'s surface cannot be translated faithfully to `target`, if it cannot: then only models
 * serving its surface (or another target) may answer it (domain/resolve.ts).
 */
export function untranslatableReason(client: ApiSurface, body: Record<string, unknown>, upstream: ApiSurface, model?: CatalogModel): string | undefined {
  // Claude on Bedrock reads the Messages body InvokeModel carries: what Messages cannot take, it cannot either; nor
  // can Converse, reached through Messages, which takes less still (converseUnsendableReason).
  const converse = upstream === 'converse' || upstream === 'converse-stream';
  const target = upstream === 'invoke' || upstream === 'invoke-stream' || converse ? 'messages' : upstream;
  if (converse && client !== 'converse' && client !== 'converse-stream') {
    const own = untranslatableReason(client, body, 'messages', model);
    if (own !== undefined) return own;
    return client === 'messages' ? converseUnsendableReason(body) : client === 'chat-completions' ? chatMediaReason(body.messages) : client === 'responses' ? responsesMediaReason(body.input) : undefined;
  }
  if (client === 'responses') {
    return storedStateReason(body)
      ?? (target === 'chat-completions' && fileByUrl(body.input) ? FILE_BY_URL_REASON : undefined)
      ?? (target === 'messages' ? unreadableFileReason(responsesFiles(body.input)) ?? (responsesAudio(body.input) ? AUDIO_REASON : undefined) ?? responsesImageReason(body.input) : undefined)
      ?? (target === 'chat-completions' || target === 'messages' ? unplacedInputReason(body.input, target === 'messages' ? 'Anthropic Messages' : 'chat completions') : undefined);
  }
  if (client === 'chat-completions') return legacyFunctionsReason(body) ?? (target === 'messages' ? unreadableFileReason(chatFiles(body.messages)) ?? unplacedPartReason(body.messages) ?? unsendableChatImageReason(body.messages) : undefined);
  if (client === 'messages' && target === 'chat-completions') return unsendableMediaReason(body.messages);
  if (client === 'generate-content' || client === 'stream-generate-content') return geminiUntranslatableReason(body, target !== 'chat-completions');
  // Gemini's `:countTokens` and Bedrock's CountTokens are translated to a count (Anthropic's count_tokens is served
  // where Messages is). Bedrock's body is the one with `input` (Google's counts `contents`).
  if (client === 'count-tokens') return obj(body.input) ? converseCountUntranslatableReason(body) : geminiUntranslatableReason(geminiCountedRequest(body), true);
  if (client === 'converse' || client === 'converse-stream') return converseUntranslatableReason(body, target, model);
  // Only Gemini's embeddings are translated (OpenAI's `/v1/embeddings` never is: no target is listed for it).
  if (client === 'embeddings' || client === 'embed-content') return geminiEmbedUntranslatableReason(body, client === 'embeddings');
  return undefined;
}

/**
 * What resolution asks (domain/resolve.ts): `untranslatableReason`, or a refusal of its own. A Messages request
 * continuing a thread (Anthropic's message threads) is never translated, whatever the target: the thread's earlier
 * turns are held by Anthropic alone, and another model would answer the new messages without them. It is refused as
 * Anthropic refuses a thread it does not hold (404 `thread_not_found`), on which the Anthropic SDK's thread helper
 * replays the whole conversation. A Responses request offering two tools of one name is refused as invalid (400
 * ERR_NGROK_27228 naming the name): translated, the calls of the two could not be told apart. A Gemini embeddings
 * request naming another model than its path's (`pathModel`) is refused so too: translated, the batch is one call
 * with the path's model.
 */
export function untranslatable(client: ApiSurface, body: Record<string, unknown>, target: ApiSurface, model?: CatalogModel, pathModel?: string): Untranslatable | undefined {
  const thread = client === 'messages' ? continuedThread(body) : undefined;
  if (thread !== undefined) return { error: 'threadNotHeld', details: { id: thread } };
  // Not a limit of one target but the client's mistake (providers refuse duplicate tool names too): its own 400,
  // not "cannot be translated".
  const duplicate = client === 'responses' ? duplicateToolReason(body.tools) : undefined;
  if (duplicate !== undefined) return { error: 'invalidRequest', details: { reason: duplicate } };
  // So is a body a translation cannot write out, or one whose members it reads are of the wrong type
  // (client-types.ts): translated, they went as something else, where the provider would have refused them.
  const unwritten = clientProblem(client, body);
  if (unwritten !== undefined) return unwritten;
  // So is a content part of a known type missing what it is read by (an image without its URL): the provider
  // refuses it sent as it is, and translated it was left out, the model answering without it.
  const malformed = malformedPartReason(client, body);
  if (malformed !== undefined) return { error: 'invalidRequest', details: { reason: malformed } };
  const otherModel = pathModel !== undefined && (client === 'embeddings' || client === 'embed-content') ? geminiEmbedModelProblem(body, client === 'embeddings', pathModel) : undefined;
  if (otherModel !== undefined) return { error: 'invalidRequest', details: { reason: otherModel } };
  return untranslatableReason(client, body, target, model);
}

/** What clientProblem found for a body, `null` for nothing: each candidate a request would be translated for asks. */
const clientProblems = new WeakMap<Json, Untranslatable | null>();

/** A body no translation can write (400 ERR_NGROK_3801), or one typed as its API does not type it (ERR_NGROK_27228). */
function clientProblem(client: ApiSurface, body: Json): Untranslatable | undefined {
  let found = clientProblems.get(body);
  if (found === undefined) {
    const unwritable = writeProblem(body);
    const mistyped = unwritable === undefined ? wrongTypeReason(client, body) : undefined;
    found = unwritable !== undefined ? { error: 'badRequestBody', details: { reason: unwritable } } : mistyped !== undefined ? { error: 'invalidRequest', details: { reason: mistyped } } : null;
    clientProblems.set(body, found);
  }
  return found ?? undefined;
}

/** `untranslatable`'s malformed parts, by the client's API. */
function malformedPartReason(client: ApiSurface, body: Json): string | undefined {
  if (client === 'responses') return malformedInputReason(body.input);
  if (client === 'chat-completions') return malformedChatPartReason(body.messages);
  if (client === 'generate-content' || client === 'stream-generate-content') return geminiMalformedPartReason(body);
  return client === 'count-tokens' && !obj(body.input) ? geminiMalformedPartReason(geminiCountedRequest(body)) : undefined;
}

/** A Responses request's `input_file` parts (in messages and tool outputs). */
function responsesFiles(input: unknown): Json[] {
  return objects(input).flatMap((i) => objects(i.content ?? i.output).filter((p) => p.type === 'input_file'));
}

/** The first Responses image given as data that Claude cannot take (`unsendableImageReason`): in messages, tool outputs, screenshots. */
function responsesImageReason(input: unknown): string | undefined {
  for (const item of objects(input)) {
    for (const part of itemParts(item)) {
      const reason = part.type === 'input_image' && typeof part.image_url === 'string' ? unsendableImageReason(part.image_url) : undefined;
      if (reason !== undefined) return reason;
    }
  }
  return undefined;
}

/** Whether a Responses request's messages hold audio (`input_audio` parts), which chat carries and Messages cannot. */
function responsesAudio(input: unknown): boolean {
  return objects(input).some((i) => objects(i.content).some((p) => p.type === 'input_audio'));
}

const IMAGE_BY_URL_FOR_CONVERSE = 'it sends an image by URL, which Bedrock\'s Converse cannot fetch; send it as a base64 data URL';
const FILE_BY_URL_FOR_CONVERSE = 'it sends a file by URL, which Bedrock\'s Converse cannot fetch; send its data';

/** Why a chat request's media cannot reach Converse, which takes images as data only (an image by URL would be left out). */
function chatMediaReason(messages: unknown): string | undefined {
  const byUrl = objects(messages).some((m) => objects(m.content).some((p) => {
    const url = typeof p.image_url === 'string' ? p.image_url : obj(p.image_url)?.url;
    return p.type === 'image_url' && typeof url === 'string' && !url.startsWith('data:');
  }));
  if (byUrl) return IMAGE_BY_URL_FOR_CONVERSE;
  if (chatFiles(messages).some((f) => typeof f.file_url === 'string')) return FILE_BY_URL_FOR_CONVERSE;
  // Messages takes a file in a tool's result; Converse's tool results take text and images alone. An SVG image goes
  // to Messages as a text document of its source (chat-via-messages.ts), so it is such a file there.
  const toolParts = objects(messages).filter((m) => m.role === 'tool').flatMap((m) => objects(m.content));
  if (toolParts.some((p) => p.type === 'file')) return 'it sends a file in a tool message, which Bedrock\'s Converse cannot take in a tool result; send its text instead';
  return toolParts.some(isSourceImage) ? 'it sends an SVG image in a tool message, which goes to Bedrock\'s Converse as its source text, a document, and Converse takes no document in a tool result; send it in a user message instead' : undefined;
}

/**
 * The same for a Responses request, in its messages and tool outputs: Messages takes an image or a file by URL, so
 * nothing refused it on the way, and Converse would be sent the turn without it.
 */
function responsesMediaReason(input: unknown): string | undefined {
  const byUrl = objects(input).some((i) => itemParts(i).some((p) => p.type === 'input_image' && typeof p.image_url === 'string' && !p.image_url.startsWith('data:')));
  return byUrl ? IMAGE_BY_URL_FOR_CONVERSE : fileByUrl(input) ? FILE_BY_URL_FOR_CONVERSE : undefined;
}

/** Whether a chat part is an image given as data that goes to Claude as its source text (SVG), not as an image. */
function isSourceImage(part: Json): boolean {
  const url = typeof part.image_url === 'string' ? part.image_url : obj(part.image_url)?.url;
  return part.type === 'image_url' && typeof url === 'string' && goesAsSource(url);
}

/** A chat request's `file` parts, as their `file` objects. */
function chatFiles(messages: unknown): Json[] {
  return objects(messages).flatMap((m) => objects(m.content).filter((p) => p.type === 'file').map((p) => obj(p.file) ?? {}));
}
