// The control-plane contract, loaded once from spec/control-plane.openapi.yaml: operations (method, path,
// parameters, success status) for the router, and compiled validators for request bodies, query strings and
// (in tests) response bodies. Nothing here repeats a schema by hand.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const CONTRACT_PATH = fileURLToPath(new URL('../../spec/control-plane.openapi.yaml', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface ContractOperation {
  readonly operationId: string;
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';
  /** Path as written in the contract, e.g. `/access-keys/{id}`. */
  readonly path: string;
  readonly tag: string;
  readonly successStatus: number;
  /** Name of the request-body component schema, if any. */
  readonly requestSchema?: string;
  /** Name of the success response component schema, if any. */
  readonly responseSchema?: string;
  readonly queryParameters: readonly QueryParameter[];
}

export interface QueryParameter { readonly name: string; readonly required: boolean; readonly schema: JsonObject }

export const contractDocument = parse(readFileSync(CONTRACT_PATH, 'utf8')) as JsonObject;

const components = contractDocument.components as JsonObject;
const componentParameters = components.parameters as Record<string, JsonObject>;

function refName(ref: Json | undefined): string | undefined {
  return typeof ref === 'string' ? ref.slice(ref.lastIndexOf('/') + 1) : undefined;
}

function jsonSchemaOf(media: Json | undefined): string | undefined {
  const schema = ((media as JsonObject | undefined)?.['application/json'] as JsonObject | undefined)?.schema as JsonObject | undefined;
  return refName(schema?.$ref);
}

function loadOperations(): ContractOperation[] {
  const ops: ContractOperation[] = [];
  for (const [path, item] of Object.entries(contractDocument.paths as Record<string, JsonObject>)) {
    const shared = (item.parameters as JsonObject[] | undefined) ?? [];
    for (const [method, raw] of Object.entries(item)) {
      if (method === 'parameters') continue;
      const op = raw as JsonObject;
      const responses = op.responses as Record<string, JsonObject>;
      const success = Object.keys(responses).find((s) => /^2\d\d$/.test(s)) ?? '200';
      const params = [...shared, ...((op.parameters as JsonObject[] | undefined) ?? [])]
        .map((p) => (p.$ref ? componentParameters[refName(p.$ref)!]! : p))
        .filter((p) => p.in === 'query')
        .map((p) => ({ name: p.name as string, required: p.required === true, schema: p.schema as JsonObject }));
      const requestSchema = jsonSchemaOf((op.requestBody as JsonObject | undefined)?.content);
      const responseSchema = jsonSchemaOf(responses[success]?.content);
      ops.push({
        operationId: op.operationId as string,
        method: method.toUpperCase() as ContractOperation['method'],
        path,
        tag: ((op.tags as string[] | undefined) ?? [''])[0]!,
        successStatus: Number(success),
        ...(requestSchema ? { requestSchema } : {}),
        ...(responseSchema ? { responseSchema } : {}),
        queryParameters: params,
      });
    }
  }
  return ops;
}

export const operations: readonly ContractOperation[] = loadOperations();
export const operationsById: ReadonlyMap<string, ContractOperation> = new Map(operations.map((o) => [o.operationId, o]));

/**
 * OpenAPI 3.0 → JSON Schema for Ajv: `nullable` becomes a `null` type (or, for a typeless `allOf`, an
 * if/else so errors inside keep their paths), and the discriminator hint is dropped (oneOf does the work).
 */
export function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'nullable' || key === 'discriminator' || key === 'example') continue;
    out[key] = key === '$ref' && typeof value === 'string' ? `spec${value}` : toJsonSchema(value);
  }
  if (node.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    } else {
      return { if: { type: 'null' }, else: out };
    }
  }
  return out;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function newAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes, useDefaults: coerceTypes });
  addFormats(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addSchema({ $id: 'spec', components: { schemas: toJsonSchema(components.schemas as Json) } });
  return ajv;
}

const bodyAjv = newAjv(false);
const queryAjv = newAjv(true);
const schemaValidators = new Map<string, ValidateFunction>();

/** The compiled validator of a component schema (e.g. `AIGatewayAccessKey`), cached. */
export function schemaValidator(name: string): ValidateFunction {
  let v = schemaValidators.get(name);
  if (!v) {
    v = bodyAjv.getSchema(`spec#/components/schemas/${name}`);
    if (!v) throw new Error(`no schema ${name} in the contract`);
    schemaValidators.set(name, v);
  }
  return v;
}

const queryValidators = new Map<string, ValidateFunction>();

/** Validates (and coerces, e.g. `limit=5` → 5, `includeRetries=true` → true) an operation's query string. */
export function queryValidator(op: ContractOperation): ValidateFunction {
  let v = queryValidators.get(op.operationId);
  if (!v) {
    const properties: JsonObject = {};
    for (const p of op.queryParameters) properties[p.name] = toJsonSchema(p.schema);
    v = queryAjv.compile({
      type: 'object',
      properties,
      required: op.queryParameters.filter((p) => p.required).map((p) => p.name),
    });
    queryValidators.set(op.operationId, v);
  }
  return v;
}

export type { ErrorObject };
