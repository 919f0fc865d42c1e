// JSON text read so that writing it again keeps every number as it was written: `12345678901234567890` (an id a
// client put in metadata) or `1e400` would otherwise come back as 12345678901234567000 and null. Uses JSON.parse
// source text access and JSON.rawJSON (V8, Node ≥ 21), which TypeScript's lib does not declare yet.

type SourceReviver = (key: string, value: unknown, context: { source?: string }) => unknown;
const json = JSON as unknown as { parse(text: string, reviver: SourceReviver): unknown; rawJSON(text: string): unknown };

/** `text` parsed, each number held as its source text: JSON.stringify writes it back exactly. Throws as JSON.parse does. */
export function parseNumbersExact(text: string): unknown {
  return json.parse(text, (_key, value, context) => (typeof value === 'number' && context.source !== undefined ? json.rawJSON(context.source) : value));
}
