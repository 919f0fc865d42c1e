// Turns a contract validation failure into the documented ERR_NGROK_* code. Each resource family has its
// own codes for the same rule (a too-long name is 27501 for provider keys, 27701 for providers, 27603
// elsewhere); this table is the only place that knows which.
import { Errors, TollgateError, echoed, textPrefix, type ErrorSpec } from '../domain/errors.ts';
import { queryValidator, schemaValidator, type ContractOperation, type ErrorObject } from './contract.ts';
import { FIREWALL_MAX_ENVIRONMENT, FIREWALL_MAX_RULES } from '../domain/firewall-policy.ts';
import { ruleLabel } from './firewall-rules.ts';

interface FamilyCodes {
  maxLength?: Record<string, ErrorSpec>;
  minLength?: Record<string, ErrorSpec>;
  required?: Record<string, ErrorSpec>;
  requiredDefault?: ErrorSpec;
  /** The family's own error for a failure, when its message needs more than the schema keyword (the body it is in). */
  refine?: (e: ErrorObject, body: Record<string, unknown>) => TollgateError | undefined;
}

const generic: FamilyCodes = {
  maxLength: { name: Errors.nameTooLong, metadata: Errors.metadataTooLong },
  requiredDefault: Errors.fieldRequired,
};

const families: Record<string, FamilyCodes> = {
  'AI Gateway Provider Keys': {
    maxLength: { name: Errors.providerKeyNameTooLong, description: Errors.providerKeyDescriptionTooLong, metadata: Errors.providerKeyMetadataTooLong },
    required: { value: Errors.providerKeyValueRequired },
    requiredDefault: Errors.providerKeyFieldRequired,
  },
  'AI Gateway Providers': {
    maxLength: { name: Errors.providerNameTooLong, metadata: Errors.providerMetadataTooLong, baseUrl: Errors.providerBaseUrlTooLong, providerId: Errors.providerIdTooLong, modelId: Errors.providerModelIdTooLong },
    minLength: { name: Errors.providerNameTooLong, baseUrl: Errors.providerBaseUrlTooLong, providerId: Errors.providerIdTooLong, modelId: Errors.providerModelIdTooLong },
    requiredDefault: Errors.providerFieldRequired,
  },
  'AI Gateway Virtual Models': { refine: virtualModelError },
  'AI Gateway Firewall Policies': { refine: firewallPolicyError },
  'AI Gateway MCP Servers': { refine: mcpServerError },
  'AI Gateway Access Key Configurations': { ...generic, refine: mcpAllowError },
};

/** An MCP allow-list entry the schema's pattern refuses, said in words. */
function mcpAllowError(e: ErrorObject): TollgateError | undefined {
  const path = fieldPath(e);
  if (e.keyword !== 'pattern' || !/^access\.mcp(Servers|Tools)\.allow\.\d+$/.test(path)) return undefined;
  const reason = path.startsWith('access.mcpServers')
    ? `"${path}" must be an MCP server label: lowercase letters, digits, "-" and "_".`
    : `"${path}" must be <label>/<tool>, such as docs/search or docs/*, where "*" matches any characters.`;
  return new TollgateError(Errors.validationFailed, { field: path, reason });
}

/**
 * A label the schema's pattern refuses, said in words (the regular expression would not tell what is wrong); and an
 * auth header's `name` past its length, which is not the resource's name the generic 27603 speaks of.
 */
function mcpServerError(e: ErrorObject): TollgateError | undefined {
  const path = fieldPath(e);
  if (path === 'label' && e.keyword === 'pattern') {
    return new TollgateError(Errors.validationFailed, { field: 'label', reason: 'The label may use lowercase letters, digits, "-" and "_", and not "__", which separates a label from a tool name (<label>__<tool>).' });
  }
  if (path === 'auth.name' && e.keyword === 'maxLength') {
    return new TollgateError(Errors.validationFailed, { field: path, reason: `"${path}" must be at most ${(e.params as { limit: number }).limit} characters.` });
  }
  return undefined;
}

/**
 * A Firewall policy's limits with the figures they state, and a failure inside a rule named by the rule: its index
 * and name before what the schema says of the field (a missing field stays 27602, its path naming the rule's index).
 */
function firewallPolicyError(e: ErrorObject, body: Record<string, unknown>): TollgateError | undefined {
  const path = fieldPath(e);
  if (e.keyword === 'maxItems' && (path === 'rules' || path === 'environment')) {
    const [limit, what] = path === 'rules' ? [FIREWALL_MAX_RULES, 'rules'] : [FIREWALL_MAX_ENVIRONMENT, 'environment details'];
    return new TollgateError(Errors.validationFailed, { field: path, reason: `A policy holds up to ${limit} ${what}. Got ${(body[path] as unknown[]).length}.` });
  }
  const rule = /^rules\.(\d+)(\.|$)/.exec(path);
  if (!rule || e.keyword === 'required') return undefined;
  const inner = validationError('', e);
  const index = Number(rule[1]);
  return new TollgateError(Errors.validationFailed, { field: inner.details.field ?? path, reason: `${ruleLabel(index, (body.rules as unknown[])[index])}: ${inner.message}` });
}

/**
 * ngrok's named virtual-model codes for the name's and the target list's limits, with the figures they state; `field`
 * names the member, as every other refusal's does (ngrok's messages say "names" and "models", not the member).
 */
function virtualModelError(e: ErrorObject, body: Record<string, unknown>): TollgateError | undefined {
  const path = fieldPath(e);
  if (path === 'name' || (path === '' && e.keyword === 'required' && (e.params as { missingProperty: string }).missingProperty === 'name')) {
    if (e.keyword === 'maxLength') return new TollgateError(Errors.virtualModelNameTooLong, { field: 'name', limit: String((e.params as { limit: number }).limit), length: String([...String(body.name)].length) });
    if (e.keyword === 'pattern') return new TollgateError(Errors.virtualModelNameIllegalCharacter, { field: 'name' });
    if (e.keyword === 'minLength' || e.keyword === 'required') return new TollgateError(Errors.virtualModelNameRequired, { field: 'name' });
  }
  if (path === 'targets' && (e.keyword === 'minItems' || e.keyword === 'maxItems')) {
    return new TollgateError(Errors.virtualModelTargetsOutOfRange, { field: 'targets', min: '1', max: '10', count: String((body.targets as unknown[]).length) });
  }
  return undefined;
}

function fieldPath(e: ErrorObject): string {
  return e.instancePath.replace(/^\//, '').replace(/\//g, '.');
}

function lastSegment(path: string): string {
  const parts = path.split('.').filter((p) => !/^\d+$/.test(p));
  return parts[parts.length - 1] ?? '';
}

/** A nullable field's types read as words ("integer or null"), not as Ajv's list ("integer,null"). */
function typeNames(e: ErrorObject): string {
  const type = (e.params as { type: string | string[] }).type;
  return Array.isArray(type) ? type.join(' or ') : type.split(',').join(' or ');
}

/** The values an enum takes, as a client would send them (a nullable enum's null is said by "or null" elsewhere). */
function allowedValues(e: ErrorObject): string {
  return (e.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== null).join(', ');
}

export function validationError(tag: string, e: ErrorObject, body: Record<string, unknown> = {}): TollgateError {
  const codes = families[tag] ?? generic;
  const refined = codes.refine?.(e, body);
  if (refined) return refined;
  const path = fieldPath(e);
  const field = lastSegment(path);
  const where = path === '' ? 'the request body' : `"${path}"`;
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      const full = path === '' ? missing : `${path}.${missing}`;
      const spec = codes.required?.[missing] ?? codes.requiredDefault ?? Errors.fieldRequired;
      return new TollgateError(spec, { field: full });
    }
    case 'maxLength':
    case 'minLength': {
      const limit = (e.params as { limit: number }).limit;
      const reason = `${where} must be ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ${limit} characters.`;
      // "The name must be at most 255 characters." would be about the configuration's own name; an inline provider
      // key's `name` in a routing rule answers as every other router mistake does, naming where it is.
      if (path.startsWith('router.')) return new TollgateError(Errors.invalidRouter, { field: path, reason });
      const spec = (e.keyword === 'maxLength' ? codes.maxLength : codes.minLength)?.[field] ?? (e.keyword === 'maxLength' ? generic.maxLength?.[field] : undefined);
      if (spec) return new TollgateError(spec, { field: path });
      return new TollgateError(Errors.validationFailed, { field: path, reason });
    }
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const full = path === '' ? extra : `${path}.${extra}`;
      return new TollgateError(Errors.validationFailed, { field: full, reason: `Unknown field "${echoed(full)}".` });
    }
    case 'type':
      return new TollgateError(Errors.validationFailed, { field: path, reason: `${where} must be of type ${typeNames(e)}.` });
    case 'format':
      // int64 values past 2^53 cannot be read exactly from JSON (as in most JSON parsers): say the range, not "format".
      if ((e.params as { format: string }).format === 'int64') {
        return new TollgateError(Errors.validationFailed, { field: path, reason: `${where} must be an integer from -9007199254740991 to 9007199254740991 (larger JSON numbers are not read exactly).` });
      }
      return new TollgateError(Errors.validationFailed, { field: path, reason: `${where} ${e.message ?? 'is invalid'}.` });
    case 'enum':
      return new TollgateError(Errors.validationFailed, { field: path, reason: `${where} must be one of: ${allowedValues(e)}.` });
    default:
      return new TollgateError(Errors.validationFailed, { field: path, reason: `${where} ${e.message ?? 'is invalid'}.` });
  }
}

/** Validates a request body against the operation's contract schema; throws the mapped error. */
export function validateBody<T>(op: ContractOperation, body: unknown): T {
  if (!op.requestSchema) return body as T;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new TollgateError(Errors.validationFailed, { reason: 'The request body must be a JSON object.' });
  }
  const validate = schemaValidator(op.requestSchema);
  if (!validate(body)) throw validationError(op.tag, validate.errors![0]!, body as Record<string, unknown>);
  return body as T;
}

const DECIMAL_INTEGER = /^-?\d+$/;
/**
 * The spellings ngrok's API (Go's strconv.ParseBool) reads as a boolean: scripts written against it send
 * `includeRetries=1` or `=True`, which Ajv's coercion (only "true" / "false") refused.
 */
const QUERY_BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'true', 'TRUE', 'True'].map((s) => [s, true] as const),
  ...['0', 'f', 'F', 'false', 'FALSE', 'False'].map((s) => [s, false] as const),
]);

/**
 * A script's `startTime=$(date -Iseconds)` sends `…T10:00:00+02:00` unencoded, and a query string reads `+` as a
 * space: the value that arrived is not the one the user wrote, so "must match format" alone would mislead.
 */
function dateTimeReason(name: string, value: string): string {
  const shown = value.length > 64 ? `${textPrefix(value, 64)}…` : value;
  const reason = `The query parameter "${name}" must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z; got "${shown}".`;
  return value.includes(' ') ? `${reason} A "+" in a query string reads as a space: write a "+02:00" offset as "%2B02:00", or give the time in UTC with "Z".` : reason;
}

/**
 * Validates and coerces the query string. Unknown parameters are ignored, as most HTTP APIs do, and left out of
 * what the handlers see (so list envelopes do not echo them into `uri` / `nextPageUri`).
 */
export function validateQuery<T>(op: ContractOperation, query: Record<string, unknown>): T {
  const copy: Record<string, unknown> = {};
  for (const p of op.queryParameters) {
    const value = query[p.name];
    // An empty value is no value (`?accessKeyId=` from a script's unset variable): never a filter matching nothing.
    if (value === undefined || value === '') continue;
    // Ajv coerces whatever `+value` reads as a number (`0x10`, `1e1`, ` 5 `): an integer is written in decimal.
    if (p.schema.type === 'integer' && typeof value === 'string' && !DECIMAL_INTEGER.test(value)) {
      throw new TollgateError(Errors.validationFailed, { field: p.name, reason: `The query parameter "${p.name}" must be integer.` });
    }
    if (p.schema.type === 'boolean' && typeof value === 'string') {
      const read = QUERY_BOOLEANS.get(value);
      if (read === undefined) throw new TollgateError(Errors.validationFailed, { field: p.name, reason: `The query parameter "${p.name}" must be true or false; got "${textPrefix(value, 64)}".` });
      copy[p.name] = read;
      continue;
    }
    copy[p.name] = value;
  }
  const validate = queryValidator(op);
  if (!validate(copy)) {
    const e = validate.errors![0]!;
    const name = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : fieldPath(e);
    const reason = e.keyword === 'required'
      ? `The query parameter "${name}" is required.`
      : e.keyword === 'format' && (e.params as { format: string }).format === 'date-time'
        ? dateTimeReason(name, String(copy[name]))
        : e.keyword === 'enum'
          ? `The query parameter "${name}" must be one of: ${allowedValues(e)}.`
          : `The query parameter "${name}" ${e.message ?? 'is invalid'}.`;
    throw new TollgateError(e.keyword === 'required' ? Errors.fieldRequired : Errors.validationFailed, { field: name, reason });
  }
  return copy as T;
}
