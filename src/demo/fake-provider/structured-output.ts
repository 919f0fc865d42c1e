// Structured output for the fake provider: a request asking for JSON under a schema (chat's `response_format`,
// Responses' `text.format`, Claude's `output_config.format` or the beta's `output_format`) is answered with JSON
// that fits it, as the providers' constrained decoding answers. The SDKs' parse helpers (`chat.completions.parse`,
// `responses.parse`, Anthropic's `messages.parse`) read the answer as JSON: a prose answer made them throw before
// anything the gateway did could be checked.

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : undefined);

/** The JSON schema the request asks the answer to follow, if any, where each surface puts it. */
export function askedSchema(body: Json): Json | undefined {
  const format = obj(body.response_format) ?? obj(obj(body.text)?.format) ?? obj(obj(body.output_config)?.format) ?? obj(body.output_format);
  if (format?.type !== 'json_schema') return undefined;
  // Chat nests it (`json_schema.schema`); Responses and Claude put it beside `type`.
  return obj(obj(format.json_schema)?.schema) ?? obj(format.schema);
}

/**
 * A value `schema` accepts, its strings `text` (the answer's usual words, so tests still find them): each property of
 * an object, the first of an enum, `anyOf` or `oneOf`, one item of an array. `$ref`s into `$defs` / `definitions` (zod's
 * recursive types) are followed to a depth, then left null.
 */
export function sampleOf(schema: Json, text: string, root: Json = schema, depth = 0): unknown {
  if (depth > 8) return null;
  const ref = typeof schema.$ref === 'string' ? /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref) : null;
  if (ref) {
    const target = obj(obj(root[ref[1]!])?.[ref[2]!]);
    return target ? sampleOf(target, text, root, depth + 1) : null;
  }
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const alternative = Array.isArray(schema.anyOf) ? schema.anyOf[0] : Array.isArray(schema.oneOf) ? schema.oneOf[0] : undefined;
  if (obj(alternative)) return sampleOf(alternative as Json, text, root, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') ?? 'null' : schema.type;
  switch (type) {
    case 'object': {
      const properties = obj(schema.properties) ?? {};
      return Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, sampleOf(obj(s) ?? {}, text, root, depth + 1)]));
    }
    case 'array': return [sampleOf(obj(schema.items) ?? {}, text, root, depth + 1)];
    case 'integer': case 'number': return 42;
    case 'boolean': return true;
    case 'null': return null;
    default: return text;
  }
}
