// What of a request only the provider account that stored it can resolve: on a managed key that account is the
// operator's, shared by every tenant (docs/decisions/gateway-routing.md, "Stored state on a managed key"). A tenant
// continuing a response, a conversation or a container by id would read what the operator's account keeps — another
// tenant's, given the id — so the managed key serves none of it (ERR_NGROK_AI_GATEWAY_MANAGED_KEY_STORED_STATE_UNSUPPORTED).
import type { ApiSurface } from '../catalog/types.ts';
import { geminiMembers, geminiObject, geminiObjects } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';

/** The members read (a request body passes as it is). Gemini's `cachedContent` is read under both of Google's names. */
export interface StoredStateAsk {
  readonly previous_response_id?: unknown;
  readonly conversation?: unknown;
  readonly prompt?: unknown;
  readonly input?: unknown;
  readonly messages?: unknown;
  readonly container?: unknown;
  readonly contents?: unknown;
}

const isSet = (value: unknown): boolean => value !== undefined && value !== null;

/** The objects of an array (anything else is nothing). */
const records = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.filter(isRecord) : []);

/** A content part naming a file by the id the provider stored it under (OpenAI's `file_id`, chat's `file.file_id`, Anthropic's `source.file_id`). */
function storedFilePart(part: Record<string, unknown>): boolean {
  if (typeof part.file_id === 'string') return true;
  const file = part.file;
  if (isRecord(file) && typeof file.file_id === 'string') return true;
  const source = part.source;
  return isRecord(source) && source.type === 'file' && typeof source.file_id === 'string';
}

/** Whether turns (chat `messages`, Responses `input`, Messages `messages`) hold a part naming a stored file, tool results' contents included. */
function namesStoredFile(turns: unknown): boolean {
  for (const turn of records(turns)) {
    for (const part of [...records(turn.content), ...records(turn.output)]) {
      if (storedFilePart(part)) return true;
      if (records(part.content).some(storedFilePart)) return true;
    }
  }
  return false;
}

/**
 * A Responses input item referring to a stored one by id: `type` "item_reference", or left out (OpenAI's schema has it
 * optional and nullable, so `{"id": "msg_…"}` alone is a reference). An item of any other type, or a message written
 * out (`role`), carries its content itself.
 */
export function isItemReference(item: Record<string, unknown>): boolean {
  if (item.type === 'item_reference') return true;
  return (item.type === undefined || item.type === null) && item.role === undefined && typeof item.id === 'string';
}

/**
 * A Gemini file in the Files API (`fileData.fileUri` `https://generativelanguage.googleapis.com/…/files/{id}`, or the
 * name `files/{id}`): uploaded to the key's project, here the operator's (this gateway serves no upload). A YouTube
 * or other public URL is no stored state.
 */
function namesGeminiFile(body: StoredStateAsk): boolean {
  for (const content of geminiObjects(body.contents)) {
    for (const part of geminiObjects(geminiMembers(content, 'parts')[0])) {
      const uri = geminiMembers(geminiObject(part, 'fileData'), 'fileUri')[0];
      if (typeof uri !== 'string') continue;
      if (/^files\//.test(uri)) return true;
      try {
        if (new URL(uri).hostname === 'generativelanguage.googleapis.com') return true;
      } catch {
        // Not a URL: Google refuses it itself.
      }
    }
  }
  return false;
}

/**
 * The field of a request, as the client wrote it, that uses state the provider keeps between requests, if any:
 * - Responses: `previous_response_id` and `conversation` (a response or conversation stored at the provider), a
 *   stored prompt (`prompt` by id, made in the key's organisation), an `item_reference` (an item of a stored
 *   response; references to this gateway's own translated answers were written out before routing, pipeline.ts);
 * - Anthropic Messages: `container` naming one by id (a code execution container, with the files it holds);
 * - Gemini GenerateContent: `cachedContent` (a context cache kept in the key's project);
 * - every surface: a file given by the id the provider stored it under (`file_id`).
 * `store` is not here: a managed key sends `"store": false` instead (params.ts), the answer being whole without it.
 */
export function storedStateField(body: StoredStateAsk, surface: ApiSurface): string | undefined {
  if (surface === 'responses') {
    if (isSet(body.previous_response_id)) return 'previous_response_id';
    if (isSet(body.conversation)) return 'conversation';
    if (isRecord(body.prompt) && isSet(body.prompt.id)) return 'prompt';
    const reference = records(body.input).find(isItemReference);
    if (reference) return typeof reference.id === 'string' ? `item_reference ("${reference.id.slice(0, 64)}")` : 'item_reference';
    return namesStoredFile(body.input) ? 'file_id' : undefined;
  }
  if (surface === 'messages') {
    const container = body.container;
    if (typeof container === 'string' || (isRecord(container) && isSet(container.id))) return 'container';
    return namesStoredFile(body.messages) ? 'file_id' : undefined;
  }
  if (surface === 'chat-completions') return namesStoredFile(body.messages) ? 'file_id' : undefined;
  if (surface === 'generate-content' || surface === 'stream-generate-content') {
    if (geminiMembers(body, 'cachedContent').some(isSet)) return 'cachedContent';
    return namesGeminiFile(body) ? 'fileData.fileUri' : undefined;
  }
  return undefined;
}
