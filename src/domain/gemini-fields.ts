// Gemini request members as Google reads them. Its API parses proto JSON, which takes every field by its JSON name
// (lowerCamelCase, what the Gen AI SDKs send) or by its proto name (snake_case, as Google's own REST examples write
// `system_instruction`, `inline_data`, `function_declarations`), and a lone value for a repeated field as a list of
// one (its own sample sends `"contents": {"parts": {"text": …}}`). Every read of a Gemini body goes through here, so
// no rule (the input cap, the credit hold) and no translation misses a member written the other way. Only member
// names are read both ways: what a member holds as data (a function's `args` and `response`, a schema's property
// names and enum values, a JSON Schema given as one) is the client's, read as sent.

import { isRecord } from './json-value.ts';

/** `systemInstruction` → `system_instruction`. */
export function geminiProtoName(jsonName: string): string {
  return jsonName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A member name as its JSON name (`stop_sequences` → `stopSequences`); a JSON name is returned as it is. */
export function geminiJsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Whether `holder` has the member `name` (null is proto JSON's "absent"). */
function present(holder: Record<string, unknown>, name: string): boolean {
  return Object.hasOwn(holder, name) && holder[name] !== undefined && holder[name] !== null;
}

/** The values a member has under its two names: none, one, or two when sent twice. */
export function geminiMembers(holder: unknown, jsonName: string): unknown[] {
  if (!isRecord(holder)) return [];
  const values: unknown[] = [];
  for (const name of new Set([jsonName, geminiProtoName(jsonName)])) if (present(holder, name)) values.push(holder[name]);
  return values;
}

/** A member's value under its JSON name, else under its proto name. */
export function geminiMember(holder: unknown, jsonName: string): unknown {
  return geminiMembers(holder, jsonName)[0];
}

/**
 * The name the client gave a member at `path` (`generationConfig.temperature` as `generation_config.temperature`
 * when sent so), each step the name whose value geminiMember reads, else the JSON name: a field is reported as the
 * client wrote it, and a member written back replaces the one read.
 */
export function geminiSpelling(body: unknown, path: string): string {
  let at: unknown = body;
  return path.split('.').map((step) => {
    const holder = isRecord(at) ? at : undefined;
    const name = holder && !present(holder, step) && present(holder, geminiProtoName(step)) ? geminiProtoName(step) : step;
    at = holder?.[name];
    return name;
  }).join('.');
}

/** A repeated field's items: its array, or a lone value as one item (as Google reads it); none when absent. */
export function geminiList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** A repeated field's items that are objects (Contents, Parts, Tools…). */
export function geminiObjects(value: unknown): Record<string, unknown>[] {
  return geminiList(value).filter(isRecord);
}

/** A message member's value when it is an object. */
export function geminiObject(holder: unknown, jsonName: string): Record<string, unknown> | undefined {
  const value = geminiMember(holder, jsonName);
  return isRecord(value) ? value : undefined;
}

/**
 * What a `:countTokens` body counts: the whole `generateContentRequest` when it gives one (a system instruction, tools
 * and settings beside the contents, which Google counts too), else the body itself (`contents`).
 */
export function geminiCountedRequest(body: Record<string, unknown>): Record<string, unknown> {
  return geminiObject(body, 'generateContentRequest') ?? body;
}

/**
 * Why `contents` cannot be read as Google reads it, if it cannot: it must be Content objects (or one, as above).
 * A string or a number would go to another model as an empty prompt; Google refuses it, and an absent or empty one
 * ("contents is not specified").
 */
export function geminiContentsProblem(body: Record<string, unknown>): string | undefined {
  const contents = body.contents;
  if (contents === undefined || contents === null || (Array.isArray(contents) && contents.length === 0)) return '"contents" is required: a list of Content objects ({"role": "user", "parts": [{"text": "…"}]}).';
  if (!isRecord(contents) && !(Array.isArray(contents) && contents.every(isRecord))) {
    return `"contents" must be a list of Content objects ({"role": "user", "parts": [{"text": "…"}]}), got ${Array.isArray(contents) ? 'a list holding something else' : typeof contents === 'string' ? 'a string' : typeof contents}.`;
  }
  return undefined;
}
