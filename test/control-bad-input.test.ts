// A sweep of bad input derived from the contract itself, on both stores: for every operation with a body, query or
// path parameters, each member is sent as each wrong JSON type, at and past its limits, near-missing its enum or
// pattern, without a required member, with an unknown one; query values repeated, empty and mistyped; ids of odd
// shapes. What the contract refuses must be a 4xx in its Error shape with a catalog code naming the field, and writes
// nothing. What it allows is stored as sent (the answer and a GET show it), or refused by the handler in the same
// shape (in the domain's words: a 404 for an id that names nothing, a routing rule by its index), its member's path in
// `details.field`, with nothing written; never a 5xx. The values are drawn by a seeded generator:
// TOLLGATE_BAD_INPUT_SEED replays (or varies) a run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { contractDocument, operations, operationsById, schemaValidator, type QueryParameter } from '../src/control/contract.ts';
import { Errors } from '../src/domain/errors.ts';
import { STORE_KINDS } from './helpers/stores.ts';
import { startControl, type TestControl } from './helpers/control.ts';
import { seeded } from './helpers/seeded.ts';
import type { Store } from '../src/store/database.ts';

const SEED = Number(process.env.TOLLGATE_BAD_INPUT_SEED ?? 45);
const CATALOG_CODES: ReadonlySet<string> = new Set(Object.values(Errors).map((e) => e.code));
/** An error answer repeats at most a cut of what it was sent (errors.ts's ECHO_LIMIT), never a megabyte back. */
const MAX_ERROR_BYTES = 4_096;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json } | Raw;
type JsonObject = { [key: string]: Json };

/**
 * JSON text put in the body as written, which JSON.stringify would not write so: a number (`-0`, `1e400`,
 * `9007199254740993`), or arrays nested deeper than it can go.
 */
class Raw {
  readonly text: string;
  constructor(text: string) { this.text = text; }
}

function encode(body: Json): string {
  const raws: string[] = [];
  const text = JSON.stringify(body, (_key, value: unknown) => {
    if (value instanceof Raw) {
      raws.push(value.text);
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return value;
  });
  return text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}

// ---------------------------------------------------------------------------------------------------------------
// The contract's schemas as the sweep reads them.

interface Node {
  type?: string; nullable?: boolean; enum?: Json[]; format?: string; pattern?: string;
  minLength?: number; maxLength?: number; minimum?: number; maximum?: number;
  minItems?: number; maxItems?: number; uniqueItems?: boolean;
  properties?: Record<string, Node>; required?: string[]; items?: Node;
  $ref?: string; allOf?: Node[];
}

const componentSchemas = (contractDocument.components as unknown as { schemas: Record<string, Node> }).schemas;

/** A node with its `$ref` (or a lone `allOf` around one) followed, its own keywords (`nullable`) kept. */
function resolve(node: Node): Node {
  if (node.$ref) return resolve(componentSchemas[node.$ref.slice(node.$ref.lastIndexOf('/') + 1)]!);
  if (node.allOf?.length === 1) {
    const { allOf, ...own } = node;
    return { ...resolve(allOf[0]!), ...own };
  }
  return node;
}

function typeOf(node: Node): string {
  return node.type ?? (node.properties ? 'object' : 'any');
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations: a path in the body and what is put there (or the member removed).

type Segment = string | number;
const REMOVE = Symbol('remove');
interface Mutation { label: string; path: Segment[]; value: Json | typeof REMOVE }

const dotted = (path: readonly Segment[]) => path.join('.');

function applied(base: Json, m: Mutation): Json {
  const body = structuredClone(base) as JsonObject;
  if (m.path.length === 0) return m.value as Json;
  let at: Record<string | number, Json> = body as Record<string | number, Json>;
  for (const segment of m.path.slice(0, -1)) at = at[segment] as Record<string | number, Json>;
  const last = m.path[m.path.length - 1]!;
  if (m.value === REMOVE) {
    if (Array.isArray(at)) at.splice(last as number, 1);
    else delete at[last];
  } else {
    // Defined, not assigned: a member named `__proto__` is a member, as JSON.parse makes it.
    Object.defineProperty(at, last, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return body;
}

/** Text that is not plain ASCII but is text, and text with a meaning to some parser: what a name may hold. */
const TEXT_EDGES = [
  '\u{1F600}', 'e\u0301', '\u202Eevil', 'zero\u200Bwidth', '\uFEFFbom', 'non\uFFFFchar', 'ctl\u0001\u007F', 'line\u2028sep',
  '\u{10FFFF}', 'tab\there', 'quote"\\back', '   ', 'ẞ', '\u0130',
  '(', '[a-', '\\', '*', '%', '%00', '../..', '${x}', '{{x}}', "'; --", '<b>', '?key=x', '#',
];

function makeGenerator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  /** Arrays in arrays, deeper than any recursive walk of the body could follow. */
  const deep = (depth: number): Json => new Raw(`${'['.repeat(depth)}${']'.repeat(depth)}`);
  const wrongValues: Record<string, () => Json> = {
    string: () => pick(['wrong', '', '42', 'true', 'null']),
    number: () => pick([7, 1.5, -3, 0]),
    boolean: () => pick([true, false]),
    null: () => null,
    array: () => pick([[], ['x'], [{}], deep(50_000)]),
    object: () => pick<Json>([{}, { k: 'v' }]),
  };
  const accepts = (node: Node, jsonType: string): boolean => {
    const t = typeOf(node);
    if (t === 'any') return true;
    if (jsonType === 'null') return node.nullable === true;
    if (t === 'integer') return jsonType === 'number';
    return t === jsonType;
  };
  /** A near miss of a member name (`Name`, `name_`), one no schema has, or one an object inherits. */
  const unknownName = (near: readonly string[]) => {
    const name = near.length > 0 ? pick(near) : '';
    return pick([name === '' ? 'unknownField' : `${name[0]!.toUpperCase()}${name.slice(1)}`, `${name}_`, `x-${Math.floor(random() * 1e6)}`, '__proto__', 'constructor', 'toString']);
  };
  const longString = (length: number) => 'x'.repeat(length);

  function value(node: Node, current: Json | undefined, path: Segment[], out: Mutation[], partial: boolean): void {
    const t = typeOf(node);
    for (const jsonType of Object.keys(wrongValues)) {
      if (!accepts(node, jsonType)) out.push({ label: `as ${jsonType}`, path, value: wrongValues[jsonType]!() });
    }
    if (node.nullable) out.push({ label: 'null', path, value: null });
    if (node.enum) {
      const others = node.enum.filter((v) => v !== null && v !== current);
      if (others.length > 0) {
        const other = pick(others);
        out.push({ label: `enum ${String(other)}`, path, value: other });
      }
      const sample = String(pick(node.enum.filter((v) => v !== null)));
      for (const near of [sample.toUpperCase(), `${sample} `, sample.slice(0, -1), `${sample[0]!.toUpperCase()}${sample.slice(1)}`]) {
        if (!node.enum.includes(near)) out.push({ label: `enum near miss ${JSON.stringify(near)}`, path, value: near });
      }
    } else if (t === 'string') {
      const base = typeof current === 'string' && current.length > 0 ? current : 'v';
      if (node.maxLength !== undefined) {
        // Counted in characters (code points), not UTF-16 units: an emoji is one, as a letter is. Filled with emoji,
        // or with the value and one of the text edges, so a limit's text is odd text too.
        const filler = pick(['\u{1F600}', 'x']);
        const start = filler === 'x' ? `${base}${pick(TEXT_EDGES)}` : '';
        const filled = (n: number) => [...`${start}${filler.repeat(n)}`].slice(0, n).join('');
        out.push({ label: `at maxLength (${filler})`, path, value: filled(node.maxLength) });
        out.push({ label: `past maxLength (${filler})`, path, value: filled(node.maxLength + 1) });
      } else {
        // About a megabyte, within the body limit (past a maxLength, the limit is the case); in emoji after an odd
        // number of units, so a cut at an even count would fall inside one.
        out.push({ label: 'very long', path, value: random() < 0.5 ? longString(1_000_000) : `${base.length % 2 === 1 ? base : `${base}x`}${'\u{1F600}'.repeat(250_000)}` });
        out.push({ label: 'text edge', path, value: pick([`${base}${pick(TEXT_EDGES)}`, pick(TEXT_EDGES)]) });
      }
      out.push({ label: 'empty', path, value: '' });
      if (node.pattern) {
        for (const odd of [`${base} `, `${base}__x`, `${base}/`, `É${base}`, `${base}\u00a0`]) out.push({ label: `pattern ${JSON.stringify(odd)}`, path, value: odd });
      }
      if (node.format === 'date-time') out.push({ label: 'not a date-time', path, value: '2025-13-01T00:00:00Z' });
    } else if (t === 'integer' || t === 'number') {
      const lo = node.minimum ?? 1;
      const hi = node.maximum ?? Number.MAX_SAFE_INTEGER;
      for (const n of [lo - 1, lo, hi, hi + 1, 0, -1]) out.push({ label: `number ${n}`, path, value: n });
      for (const raw of ['-0', '1e308', '1e400', '-1e400', '9007199254740992', '9007199254740993', '1.5', '1.0', `${lo}.000001`, '1E2']) {
        out.push({ label: `number ${raw}`, path, value: new Raw(raw) });
      }
      out.push({ label: 'numeric string', path, value: String(lo) });
    } else if (t === 'object' && current !== null && typeof current === 'object' && !Array.isArray(current) && !(current instanceof Raw)) {
      object(node, current, path, out, partial);
    } else if (t === 'array' && Array.isArray(current)) {
      array(node, current, path, out, partial);
    }
  }

  function array(node: Node, current: Json[], path: Segment[], out: Mutation[], partial: boolean): void {
    const item = current[0];
    const filler = (n: number) => Array.from({ length: n }, (_, i) => (typeof item === 'string' ? `${item}-${i}` : structuredClone(item ?? 'x')));
    if (node.maxItems !== undefined) {
      out.push({ label: 'at maxItems', path, value: filler(node.maxItems) });
      out.push({ label: 'past maxItems', path, value: filler(node.maxItems + 1) });
    }
    out.push({ label: 'empty array', path, value: [] });
    if (item !== undefined) out.push({ label: 'duplicate items', path, value: [item, structuredClone(item)] });
    if (node.maxItems === undefined) out.push({ label: 'many items', path, value: filler(200) });
    if (node.items && item !== undefined) value(resolve(node.items), item, [...path, 0], out, partial);
  }

  /**
   * `partial`: in a PATCH, whose members left out are left as they are, no optional member is removed: its nested
   * objects are the create's schemas (a router, a scope, a rule), whose optional members the create's sweep removes.
   */
  function object(node: Node, current: JsonObject, path: Segment[], out: Mutation[], partial: boolean): void {
    const properties = Object.entries(node.properties ?? {});
    for (const [name] of properties) {
      if (!Object.hasOwn(current, name)) continue;
      if (node.required?.includes(name)) out.push({ label: 'required removed', path: [...path, name], value: REMOVE });
      else if (!partial) out.push({ label: 'optional removed', path: [...path, name], value: REMOVE });
    }
    out.push({ label: 'unknown member', path: [...path, unknownName(properties.map(([name]) => name))], value: pick(['x', 1, null, {}]) });
    for (const [name, child] of properties) value(resolve(child), current[name], [...path, name], out, partial);
  }

  return {
    mutations(schema: Node, base: JsonObject, partial: boolean): Mutation[] {
      const out: Mutation[] = [];
      object(schema, base, [], out, partial);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What the sweep asserts of an answer.

interface ErrorBody { errorCode?: string; statusCode: number; msg: string; details: Record<string, string> }

/** A 4xx in the contract's Error shape with a catalog code; returns the body. */
function refusal(res: LightMyRequestResponse, context: string, head = false): ErrorBody {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${context}: answered ${res.statusCode}, not a 4xx: ${res.body.slice(0, 500)}`);
  return errorShape(res, context, head);
}

function errorShape(res: LightMyRequestResponse, context: string, head = false): ErrorBody {
  if (head) {
    assert.equal(res.body, '', `${context}: a HEAD answer has no body`);
    return { statusCode: res.statusCode, msg: '', details: {} };
  }
  assert.ok(res.body.length <= MAX_ERROR_BYTES, `${context}: the error answer is ${res.body.length} bytes: ${res.body.slice(0, 300)}`);
  const body = res.json() as ErrorBody;
  const validate = schemaValidator('Error');
  assert.ok(validate(body), `${context}: not the contract's Error shape: ${res.body.slice(0, 500)}`);
  assert.equal(body.statusCode, res.statusCode, `${context}: statusCode in the body`);
  assert.ok(body.errorCode !== undefined && CATALOG_CODES.has(body.errorCode), `${context}: code ${body.errorCode} is not in the catalog`);
  // Text a strict JSON decoder reads: a value cut for the message keeps its emoji whole.
  for (const text of [body.msg, ...Object.values(body.details)]) assert.ok(text.isWellFormed(), `${context}: the error holds an unpaired surrogate: ${JSON.stringify(text).slice(0, 300)}`);
  return body;
}

/** The refusal names the member it is about: in `details.field`, or by its name in the message. */
function namesField(body: ErrorBody, path: readonly Segment[], context: string): void {
  const field = dotted(path);
  const name = String([...path].reverse().find((s) => typeof s === 'string') ?? '');
  const named = body.details.field === field || body.msg.includes(field) || (name !== '' && (body.msg.includes(name) || body.details.field?.endsWith(name) === true));
  assert.ok(named, `${context}: the refusal does not name "${field}": ${JSON.stringify(body)}`);
}

/**
 * A handler's refusal of a body the contract allows names the member it is about in `details.field`, as validation's
 * do: the member changed, one inside it (`targets` sent twice: `targets.1`), the object holding it when that object is
 * what is wrong (a routing key left with no id, name or value), or, inside an object, the member beside it that no
 * longer fits (`auth.type` made `oauthPassthrough`: remove `auth.in`). The message naming it is not enough: a user
 * fixing a long body needs its path (`router.rules.0.steps.0.keys.0.id`), which "provider key "x" does not exist" lacks.
 */
function namesMember(body: ErrorBody, path: readonly Segment[], context: string): void {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`);
  const member = dotted(path);
  const parent = dotted(path.slice(0, -1));
  const field = body.details.field;
  const named = field !== undefined && field !== '' && (within(field, member) || within(member, field) || (parent !== '' && within(field, parent)));
  assert.ok(named, `${context}: the refusal does not give "${member}" as details.field: ${JSON.stringify(body)}`);
}

/** Every case is sent and checked before the test fails, so one run lists all that is wrong. */
class Failures {
  readonly found: string[] = [];
  async check(assertion: () => unknown): Promise<void> {
    try {
      await assertion();
    } catch (error) {
      this.found.push((error as Error).message.split('\n')[0]!.slice(0, 600));
    }
  }
  assertNone(): void {
    assert.deepEqual(this.found, [], `${this.found.length} cases failed`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The operations whose success may be refused by the deployment rather than the body: no Stripe here (501). */
const DOCUMENTED_5XX: Record<string, { status: number; code: string }> = {
  CreateCheckoutSession: { status: 501, code: 'ERR_NGROK_27612' },
  CreateCreditPurchase: { status: 501, code: 'ERR_NGROK_27612' },
};

interface Fixtures {
  openaiKey: string; bedrockKey: string; roleKey: string; provider: string; configuration: string; accessKey: string;
  apiKey: string; virtualModel: string; firewallPolicy: string; mcpServer: string;
}

interface Case { operationId: string; url: string; body: JsonObject }

function cases(f: Fixtures): Case[] {
  const rules: Json = [
    { name: 'Force push', tier: 'hardDeny', type: 'regex', phase: 'response', pattern: 'push --force' },
    { name: 'Reads', tier: 'allow', type: 'toolNames', phase: 'request', reads: ['toolDefinitions'], toolNames: ['git_*'] },
  ];
  const configuration = (name: string): JsonObject => ({
    name, description: 'd', metadata: 'm',
    access: { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o'] }, mcpServers: { allow: ['docs'] }, mcpTools: { allow: ['docs/*'] } },
    router: { rules: [{ provider: 'openai', steps: [{ type: 'user', keys: [{ id: f.openaiKey }], keySelectionStrategy: 'ordered' }, { type: 'ngrok' }] }] },
    firewallPolicyId: f.firewallPolicy,
  });
  const provider = { name: 'Sweep', baseUrl: 'https://llm.example.com/v1', metadata: 'm',
    supportedApiSurfaces: [{ format: 'openai', surface: 'chat-completions', baseUrl: 'https://llm.example.com/v2', supportedParams: [{ name: 'temperature' }] }],
    models: [{ modelId: 'm1', providerModelId: 'm1-upstream', unsupportedParams: ['seed'] }] };
  return [
    { operationId: 'CreateAIGatewayAccessKeyConfiguration', url: '/access-key-configurations', body: configuration('sweep') },
    { operationId: 'UpdateAIGatewayAccessKeyConfiguration', url: `/access-key-configurations/${f.configuration}`, body: configuration('sweep 2') },
    { operationId: 'CreateAIGatewayAccessKey', url: '/access-keys', body: { name: 'sweep', description: 'd', metadata: 'm', accessKeyConfigurationId: f.configuration } },
    { operationId: 'UpdateAIGatewayAccessKey', url: `/access-keys/${f.accessKey}`, body: { name: 'sweep', description: 'd', metadata: 'm', accessKeyConfigurationId: f.configuration } },
    { operationId: 'CreateAIGatewayAPIKey', url: '/api-keys', body: { name: 'sweep', description: 'd', metadata: 'm' } },
    { operationId: 'UpdateAIGatewayAPIKey', url: `/api-keys/${f.apiKey}`, body: { name: 'sweep', description: 'd', metadata: 'm' } },
    { operationId: 'CreateAIGatewayProviderAPIKey', url: '/provider-keys', body: { providerId: 'openai', name: 'sweep', value: 'sk-sweep-0123456789abcdef', description: 'd', metadata: 'm' } },
    { operationId: 'CreateAIGatewayProviderAPIKey', url: '/provider-keys', body: { providerId: 'bedrock', name: 'sweep', value: 'bedrock-api-key-0123456789', aws: { region: 'us-east-1' } } },
    { operationId: 'CreateAIGatewayProviderAPIKey', url: '/provider-keys', body: { providerId: 'bedrock', name: 'sweep', aws: { region: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/ngrok-ai-gateway-sweep' } } },
    { operationId: 'UpdateAIGatewayProviderAPIKey', url: `/provider-keys/${f.openaiKey}`, body: { name: 'sweep', description: 'd', metadata: 'm' } },
    { operationId: 'UpdateAIGatewayProviderAPIKey', url: `/provider-keys/${f.roleKey}`, body: { name: 'sweep', aws: { region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/ngrok-ai-gateway-other' } } },
    { operationId: 'RotateAIGatewayProviderAPIKey', url: `/provider-keys/${f.bedrockKey}/rotate`, body: { name: 'sweep', value: 'bedrock-api-key-rotated-0123' } },
    { operationId: 'CreateAIGatewayProvider', url: '/providers', body: { providerId: 'sweep-llm', ...provider } },
    { operationId: 'UpdateAIGatewayProvider', url: `/providers/${f.provider}`, body: provider },
    { operationId: 'CreateAIGatewayVirtualModel', url: '/virtual-models', body: { name: 'sweep-vm', description: 'd', targets: ['openai/gpt-4o', 'anthropic:claude-sonnet-4-6'] } },
    { operationId: 'UpdateAIGatewayVirtualModel', url: `/virtual-models/${f.virtualModel}`, body: { name: 'fixture-vm', description: 'd', targets: ['openai/gpt-4o', 'anthropic:claude-sonnet-4-6'] } },
    { operationId: 'CreateAIGatewayFirewallPolicy', url: '/firewall-policies', body: { name: 'sweep', description: 'd', mode: 'audit', onError: 'log', environment: ['CI runner'], rules } },
    { operationId: 'UpdateAIGatewayFirewallPolicy', url: `/firewall-policies/${f.firewallPolicy}`, body: { name: 'sweep', description: 'd', mode: 'audit', onError: 'log', environment: ['CI runner'], rules } },
    { operationId: 'CreateAIGatewayMcpServer', url: '/mcp-servers', body: { label: 'sweep', description: 'd', upstreamUrl: 'https://mcp.example.com/mcp', auth: { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Bearer ' } } },
    { operationId: 'CreateAIGatewayMcpServer', url: '/mcp-servers', body: { label: 'sweep', upstreamUrl: 'https://mcp.example.com/mcp', auth: { type: 'forwardHeaders', headers: ['X-Tenant'] } } },
    { operationId: 'UpdateAIGatewayMcpServer', url: `/mcp-servers/${f.mcpServer}`, body: { label: 'fixture-mcp', description: 'd', upstreamUrl: 'https://mcp.example.com/v2', auth: { type: 'secret', in: 'query', name: 'api_key' } } },
    { operationId: 'CreateCheckoutSession', url: '/credits/checkout-session', body: { amount: 2500 } },
    { operationId: 'CreateCreditPurchase', url: '/credits/purchases', body: { amount: 2500 } },
    { operationId: 'UpdateAIGatewayConfig', url: '/gateway-config', body: { totalTimeout: '2m', perRequestTimeout: '30s', maxInputTokens: 100_000, maxOutputTokens: 50_000, metadata: 'm', firewallPolicyId: f.firewallPolicy, requestCapture: false } },
  ];
}

/** Where an accepted write can be read back, and the collection a created resource is deleted from. */
function readBack(c: Case, answer: { id?: string }): { get: string; created?: string } {
  const op = operationsById.get(c.operationId)!;
  if (op.operationId === 'RotateAIGatewayProviderAPIKey') return { get: c.url.slice(0, -'/rotate'.length) };
  if (op.method === 'POST') return { get: `${c.url}/${answer.id}`, created: `${c.url}/${answer.id}` };
  return { get: c.url };
}

/** Members accepted on write and never shown (secrets). */
const WRITE_ONLY = new Set(['value']);
/** What a member sent as null reads back as, where it is not simply left out (the documented defaults). */
const NULL_READS_AS: Record<string, Json> = { mode: 'enforce', onError: 'block', environment: [], rules: [], auth: { type: 'none' }, models: [] };

/** The differences between what was sent and what is read back, as documented: empty when it round-trips. */
function roundTripDifferences(sent: Json, got: unknown, path: string, key: string, out: string[]): void {
  if (sent === null) {
    if (!(got === undefined || got === null || (Object.hasOwn(NULL_READS_AS, key) && isDeepStrictEqual(got, NULL_READS_AS[key])))) out.push(`${path}: sent null, read ${JSON.stringify(got)}`);
    return;
  }
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) { out.push(`${path}: sent ${sent.length} items, read ${JSON.stringify(got)?.slice(0, 200)}`); return; }
    sent.forEach((item, i) => roundTripDifferences(item, got[i], `${path}.${i}`, key, out));
    return;
  }
  if (typeof sent === 'object' && !(sent instanceof Raw)) {
    if (got === null || typeof got !== 'object') { out.push(`${path}: read ${JSON.stringify(got)}`); return; }
    for (const [k, v] of Object.entries(sent)) if (!WRITE_ONLY.has(k)) roundTripDifferences(v, (got as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`, k, out);
    return;
  }
  const expected = sent instanceof Raw ? JSON.parse(sent.text) as number : sent;
  if (!Object.is(expected, got) && !(expected === 0 && got === 0)) out.push(`${path}: sent ${JSON.stringify(expected)?.slice(0, 100)}, read ${JSON.stringify(got)?.slice(0, 100)}`);
}

/**
 * The body as its resource shows it: a linked configuration is shown as a reference; a custom provider's model lists
 * each unsupported param once and no `providerModelId` that is blank or its `modelId` (decisions/control-plane-resources.md).
 */
function asShown(operationId: string, body: JsonObject): JsonObject {
  if (/AccessKey$/.test(operationId) && Object.hasOwn(body, 'accessKeyConfigurationId')) {
    const { accessKeyConfigurationId, ...rest } = body;
    return { ...rest, accessKeyConfiguration: accessKeyConfigurationId === null ? null : { id: accessKeyConfigurationId! } };
  }
  if (/AIGatewayProvider$/.test(operationId) && Array.isArray(body.models)) {
    const models = (body.models as JsonObject[]).map(({ providerModelId, unsupportedParams, ...model }) => ({
      ...model,
      ...(typeof providerModelId === 'string' && providerModelId.trim() !== '' && providerModelId !== model.modelId ? { providerModelId } : {}),
      ...(Array.isArray(unsupportedParams) ? { unsupportedParams: [...new Set(unsupportedParams)] } : {}),
    }));
    return { ...body, models };
  }
  return body;
}

// ---------------------------------------------------------------------------------------------------------------

/** The values a required query parameter takes while another is swept: the earliest start, so any end follows it. */
const REQUIRED_QUERY: Record<string, string> = { startTime: '0000-01-01T00:00:00Z' };
/** A NUL is refused for the whole URL, before any parameter is read (app.ts). */
const URL_LEVEL = '%00';

type Expected = 'refused' | 'accepted' | 'either';

/**
 * Query strings for one parameter (`name=value` pairs, undefined for the parameter left out) and what the contract
 * says of each: an empty value is no value (absent); a repeated scalar is not one. A cursor is only ever one the API
 * issued, whatever its text.
 */
function queryValues(p: QueryParameter): [string | undefined, Expected][] {
  const values = queryValuesByType(p);
  return p.name === 'cursor' ? values.map(([raw, expected]) => [raw, raw === undefined || raw === 'cursor=' ? expected : 'either']) : values;
}

function queryValuesByType(p: QueryParameter): [string | undefined, Expected][] {
  const name = p.name;
  const q = (value: string) => `${name}=${value}`;
  const common: [string | undefined, Expected][] = [
    [undefined, p.required ? 'refused' : 'accepted'],
    [q(''), p.required ? 'refused' : 'accepted'],
    [`${q('1')}&${q('2')}`, 'refused'],
    [q('%ZZ'), 'either'],
    [q(URL_LEVEL), 'refused'],
    // Emoji after an odd number of units: a cut of what is quoted back must not halve one.
    [q(`x${'%F0%9F%98%80'.repeat(200)}`), 'either'],
    [q(`2025-01-01T00:00:00${'%F0%9F%98%80'.repeat(40)}`), 'either'],
  ];
  const schema = p.schema as { type?: string; format?: string; enum?: string[]; minimum?: number; maximum?: number };
  if (schema.type === 'integer') {
    const lo = schema.minimum ?? 0;
    const hi = schema.maximum ?? Number.MAX_SAFE_INTEGER;
    return [...common,
      [q(String(lo)), 'accepted'], [q(String(hi)), 'accepted'], [q(String(lo - 1)), 'refused'], [q(String(hi + 1)), 'refused'],
      [q('-1'), 'refused'], [q('1.5'), 'refused'], [q('abc'), 'refused'], [q('1e1'), 'refused'], [q('0x10'), 'refused'],
      [q('%205'), 'refused'], [q('9007199254740993'), 'refused'], [q('%EF%BC%91'), 'refused'], [q('true'), 'refused'],
    ];
  }
  if (schema.type === 'boolean') {
    return [...common,
      [q('true'), 'accepted'], [q('false'), 'accepted'], [q('1'), 'accepted'], [q('yes'), 'refused'], [q('2'), 'refused'], [q('%20true'), 'refused'],
    ];
  }
  if (schema.enum) {
    const sample = schema.enum[0]!;
    return [...common,
      ...schema.enum.map((v) => [q(v), 'accepted'] as [string, Expected]),
      [q(sample.toUpperCase()), 'refused'], [q(`${sample}%20`), 'refused'], [q(sample.slice(0, -1)), 'refused'], [q('model'), 'refused'],
    ];
  }
  if (schema.format === 'date-time') {
    return [...common,
      // Each before now, the end of a window left open (a later start is after it: either).
      [q('2025-01-01T00:00:00Z'), 'accepted'], [q('2025-01-01T00:00:00.123456789%2B05:30'), 'accepted'], [q('2016-12-31T23:59:60Z'), 'accepted'],
      [q('0000-01-01T00:00:00Z'), 'accepted'], [q('9999-12-31T23:59:59-23:59'), 'either'],
      [q('yesterday'), 'refused'], [q('2025-13-01T00:00:00Z'), 'refused'], [q('2025-02-30T00:00:00Z'), 'refused'], [q('2025-01-01'), 'refused'],
      [q('2025-01-01T00:00:00'), 'refused'], [q('2025-01-01T00:00:00+02:00'), 'refused'], [q('%2B275760-09-13T00:00:00Z'), 'refused'],
      [q(`2025-01-01T00:00:00.${'1'.repeat(4_000)}Z`), 'either'], [q('1735689600'), 'refused'],
    ];
  }
  return [...common,
    [q('x'), 'accepted'], [q('x'.repeat(8_000)), 'either'], [q('%F0%9F%98%80'), 'either'], [q('%E2%80%AE%C3%A9'), 'either'],
    [q('%C3%28'), 'either'], [q("'%20OR%201=1--"), 'either'], [q('a%2Fb%3Fc%26d'), 'either'], [q('%2B'), 'either'],
  ];
}

/**
 * Ids no resource has, in shapes a router, a decoder or a store could trip on; `real` is some resource's id. No dot
 * segment (`.`, `..`, `%2e%2e`): a client resolves those before it sends the request (RFC 3986 §5.2.4), so they name
 * another path, not an id.
 */
function oddIds(real: string): string[] {
  return [
    'x', '-1', '...', '%2F', 'a%2Fb', '%20', `${real}%20`, `%20${real}`, real.toUpperCase() === real ? real.toLowerCase() : real.toUpperCase(),
    `${real}x`, '%C3%BC', '%C3%28', '%FF', '%ZZ', '%', '%F0%9F%98%80', '%E2%80%AE', "'%20OR%20'1'='1", 'a;b', '%3Cscript%3E', '%5C',
    'x'.repeat(8_000), '%00', 'null', '__proto__', 'constructor',
  ];
}

/** What an account holds: a refused write must leave every row of these as it was. */
const SNAPSHOT_TABLES = ['apiKeys', 'accessKeyConfigurations', 'accessKeys', 'providerKeys', 'providers', 'virtualModels', 'firewallPolicies', 'mcpServers', 'gatewayConfigs', 'creditPurchases', 'creditTransactions'] as const;
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Everything an account holds, read from the store (lastUsed, moved by a request's authentication, left out), and how
 * many changes it has announced: each write is announced in its own transaction, a refused one adds none. One round
 * trip on PostgreSQL, statements prepared once on SQLite: the sweep reads it after each request that reaches a handler.
 */
function snapshotOf(store: Store, accountId: string): () => Promise<string> {
  if (store.sqlite) {
    const tables = SNAPSHOT_TABLES.map((table) => store.sqlite!.prepare(`select * from ${snakeCase(table)} where account_id = ? order by rowid`));
    const changes = store.sqlite.prepare('select count(*) as count, max(seq) as last from state_changes where account_id = ?');
    return async () => JSON.stringify([
      ...tables.map((statement) => (statement.all(accountId) as Record<string, unknown>[]).map(({ last_used: _, ...row }) => row)),
      changes.get(accountId),
    ]);
  }
  const each = SNAPSHOT_TABLES.map((table) => sql`(select coalesce(json_agg(to_jsonb(r) - 'last_used' order by r::text), '[]') from ${sql.table(snakeCase(table))} r where account_id = ${accountId})`);
  const changes = sql`(select json_build_array(count(*), max(seq)) from state_changes where account_id = ${accountId})`;
  const query = sql<{ all: unknown }>`select json_build_array(${sql.join([...each, changes])}) as all`;
  return async () => JSON.stringify((await query.execute(store.db)).rows[0]!.all);
}

for (const kind of STORE_KINDS) {
  describe(`control-plane bad input, swept from the contract (${kind})`, () => {
    let control: TestControl;
    let fixtures: Fixtures;
    let snapshot: () => Promise<string>;

    before(async () => {
      control = await startControl(kind);
      snapshot = snapshotOf(control.store, control.accountId);
      const made = async (url: string, body: JsonObject): Promise<string> => {
        const res = await control.call('POST', url, body);
        assert.ok(res.statusCode === 201 || res.statusCode === 200, `fixture ${url}: ${res.statusCode} ${res.body}`);
        return (res.json() as { id: string }).id;
      };
      const firewallPolicy = await made('/firewall-policies', { name: 'fixture' });
      const openaiKey = await made('/provider-keys', { providerId: 'openai', name: 'fixture', value: 'sk-fixture-0123456789abcdef' });
      const configuration = await made('/access-key-configurations', { name: 'fixture' });
      fixtures = {
        openaiKey, firewallPolicy, configuration,
        bedrockKey: await made('/provider-keys', { providerId: 'bedrock', name: 'fixture', value: 'bedrock-fixture-0123456789', aws: { region: 'us-east-1' } }),
        roleKey: await made('/provider-keys', { providerId: 'bedrock', name: 'role', aws: { region: 'us-east-1' } }),
        provider: await made('/providers', { providerId: 'fixture-llm', name: 'Fixture', baseUrl: 'https://fixture.example.com/v1' }),
        accessKey: await made('/access-keys', { name: 'fixture' }),
        apiKey: await made('/api-keys', { name: 'fixture' }),
        virtualModel: await made('/virtual-models', { name: 'fixture-vm', targets: ['gpt-4o'] }),
        mcpServer: await made('/mcp-servers', { label: 'fixture-mcp', upstreamUrl: 'https://mcp.example.com/mcp' }),
      };
    });
    after(async () => { await control?.close(); });

    test('every body member mutated from the contract: refused in the Error shape naming it and nothing written, or stored as sent; never a 5xx', async () => {
      const generator = makeGenerator(seeded(SEED));
      const failures = new Failures();
      let sent = 0;
      /** A second body of one operation (another auth type, a Bedrock key) sends only what the first did not. */
      const seen = new Set<string>();
      const all = cases(fixtures);
      // A new operation with a body must be added to cases().
      assert.deepEqual(operations.filter((o) => o.requestSchema && !all.some((c) => c.operationId === o.operationId)).map((o) => o.operationId), []);
      for (const c of all) {
        const op = operationsById.get(c.operationId)!;
        const validate = schemaValidator(op.requestSchema!);
        assert.ok(validate(JSON.parse(encode(c.body))), `${c.operationId}: the sweep's base body is not valid: ${JSON.stringify(validate.errors)}`);
        const mutations = generator.mutations(resolve({ $ref: `#/components/schemas/${op.requestSchema}` }), c.body, op.method === 'PATCH');
        const refusedBySchema: { m: Mutation; payload: string }[] = [];
        const allowedBySchema: { m: Mutation; payload: string; body: JsonObject }[] = [];
        for (const m of mutations) {
          const key = `${c.operationId} ${dotted(m.path)} ${m.label}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const payload = encode(applied(c.body, m));
          const parsed = JSON.parse(payload) as JsonObject;
          if (validate(parsed)) allowedBySchema.push({ m, payload, body: parsed });
          else refusedBySchema.push({ m, payload });
        }
        const context = (m: Mutation) => `seed ${SEED}, ${op.method} ${c.url} (${c.operationId}) with "${dotted(m.path)}" ${m.label}`;

        // What the contract refuses never reaches a handler: the store is compared once for the lot.
        const before = await snapshot();
        for (const { m, payload } of refusedBySchema) {
          const res = await control.call(op.method, c.url, payload);
          sent++;
          await failures.check(() => namesField(refusal(res, context(m)), m.path, context(m)));
        }
        let current = await snapshot();
        await failures.check(() => assert.equal(current, before, `seed ${SEED}, ${c.operationId}: a body the contract refuses changed what the account holds`));

        // What it allows reaches the handler: stored as sent, or refused naming the member with nothing written.
        for (const { m, payload, body } of allowedBySchema) {
          const res = await control.call(op.method, c.url, payload);
          sent++;
          const documented = DOCUMENTED_5XX[op.operationId];
          if (res.statusCode >= 200 && res.statusCode < 300) {
            const { get, created } = readBack(c, res.json() as { id?: string });
            const shown = await control.call('GET', get);
            await failures.check(() => {
              assert.equal(shown.statusCode, 200, `${context(m)}: accepted, then GET ${get} answered ${shown.statusCode}`);
              // The write's own answer, then what a GET reads back.
              for (const [what, answer] of [['answered', res.json()], ['stored', shown.json()]] as const) {
                const differences: string[] = [];
                roundTripDifferences(asShown(op.operationId, body), answer, '', '', differences);
                assert.deepEqual(differences, [], `${context(m)}: accepted but not ${what} as sent: ${differences.join('; ')}`);
              }
            });
            if (created) await failures.check(async () => assert.equal((await control.call('DELETE', created)).statusCode, 204, `${context(m)}: DELETE ${created}`));
            current = await snapshot();
          } else if (documented && res.statusCode === documented.status) {
            await failures.check(() => assert.equal(errorShape(res, context(m)).errorCode, documented.code, context(m)));
          } else {
            await failures.check(() => namesMember(refusal(res, context(m)), m.path, context(m)));
            const now = await snapshot();
            await failures.check(() => assert.equal(now, current, `${context(m)}: refused with ${res.statusCode} but changed what the account holds: ${res.body.slice(0, 300)}`));
            current = now;
          }
        }
        // An update's last accepted value may be a megabyte: the fixture goes back to its small self.
        if (op.method !== 'POST' || op.path.endsWith('/rotate')) assert.equal((await control.call(op.method, c.url, encode(c.body))).statusCode, 200, `${c.operationId}: the base body again`);
      }
      failures.assertNone();
      assert.ok(sent > 1_000, `the sweep sent ${sent} bodies`);
    });

    test('every query parameter sent mistyped, out of range, empty, repeated or odd: a 400 naming it, or a valid answer; never a 5xx', async () => {
      const failures = new Failures();
      const before = await snapshot();
      let sent = 0;
      for (const op of operations.filter((o) => o.queryParameters.length > 0 || (o.method === 'HEAD' && !o.path.includes('{')))) {
        const twin = op.method === 'HEAD' ? operations.find((o) => o.method === 'GET' && o.path === op.path)! : op;
        if (twin.queryParameters.length === 0) continue;
        const required = twin.queryParameters.filter((p) => p.required).map((p) => `${p.name}=${REQUIRED_QUERY[p.name]}`);
        for (const p of twin.queryParameters) {
          for (const [raw, expected] of queryValues(p)) {
            const others = required.filter((r) => !r.startsWith(`${p.name}=`));
            const url = `${op.path}?${[...others, raw === undefined ? '' : raw].filter((x) => x !== '').join('&')}`;
            const context = `seed ${SEED}, ${op.method} ${url.slice(0, 200)}`;
            const res = await control.call(op.method, url);
            sent++;
            await failures.check(() => {
              assert.ok(res.statusCode < 500, `${context}: answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
              if (res.statusCode === 200) {
                assert.notEqual(expected, 'refused', `${context}: the contract refuses this value, the server took it`);
                if (op.method !== 'HEAD') {
                  const validate = schemaValidator(twin.responseSchema!);
                  assert.ok(validate(res.json()), `${context}: not ${twin.responseSchema}: ${JSON.stringify(validate.errors)}`);
                }
              } else {
                assert.notEqual(expected, 'accepted', `${context}: a value the contract allows was refused: ${res.body.slice(0, 300)}`);
                const body = refusal(res, context, op.method === 'HEAD');
                if (op.method !== 'HEAD' && !raw?.endsWith(URL_LEVEL)) namesField(body, [p.name], context);
              }
            });
          }
        }
      }
      // A window that ends before it starts, and parameters the operation does not take (ignored).
      for (const path of ['/usage', '/usage/overview']) {
        const backwards = await control.call('GET', `${path}?startTime=2025-02-01T00:00:00Z&endTime=2025-01-01T00:00:00Z`);
        await failures.check(() => namesField(refusal(backwards, `${path} backwards window`), ['startTime'], `${path} backwards window`));
      }
      for (const url of ['/access-keys?color=red&limit=2', '/api-keys?beforeId=&limit=', '/gateway-config?limit=abc']) {
        const res = await control.call('GET', url);
        await failures.check(() => assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`));
      }
      failures.assertNone();
      assert.equal(await snapshot(), before, 'a read changed what the account holds');
      assert.ok(sent > 200, `the sweep sent ${sent} queries`);
    });

    test('every path id of an odd shape is the resource\'s 404, or a 400 for a URL that cannot name one; never a 5xx, nothing written', async () => {
      const failures = new Failures();
      const before = await snapshot();
      let sent = 0;
      const bodies = new Map(cases(fixtures).map((c) => [c.operationId, c.body]));
      // Each collection's own resource, whose id the odd shapes are made from (it must not answer to them).
      const real: Record<string, string> = {
        'access-key-configurations': fixtures.configuration, 'access-keys': fixtures.accessKey, 'api-keys': fixtures.apiKey,
        'provider-keys': fixtures.openaiKey, providers: fixtures.provider, 'virtual-models': fixtures.virtualModel,
        'firewall-policies': fixtures.firewallPolicy, 'mcp-servers': fixtures.mcpServer, credits: 'aigcp_01M99EHG540RY45B0BNA2KXW4X', usage: 'rq_sweep',
      };
      for (const op of operations.filter((o) => o.path.includes('{'))) {
        const collection = op.path.split('/')[1]!;
        assert.ok(real[collection], `no resource of ${op.path} to shape ids from`);
        for (const id of oddIds(real[collection]!)) {
          const url = op.path.replace(/\{\w+\}/, id);
          const body = bodies.get(op.operationId);
          const res = await control.call(op.method, url, body === undefined ? undefined : encode(body));
          sent++;
          const context = `seed ${SEED}, ${op.method} ${url.slice(0, 200)}`;
          await failures.check(() => {
            const error = refusal(res, context, op.method === 'HEAD');
            assert.ok(res.statusCode === 404 || res.statusCode === 400, `${context}: answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
            if (op.method !== 'HEAD') assert.equal(error.errorCode, res.statusCode === 404 ? 'ERR_NGROK_27611' : 'ERR_NGROK_27606', context);
          });
        }
      }
      failures.assertNone();
      assert.equal(await snapshot(), before, 'a request naming no resource changed what the account holds');
      assert.ok(sent > 250, `the sweep sent ${sent} requests`);
    });
  });
}
