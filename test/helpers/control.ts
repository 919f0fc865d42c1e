// A control plane on a real store, driven through Fastify's inject (no socket needed).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { SecretBox } from '../../src/domain/secret-box.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createAccount } from '../../src/store/accounts.ts';
import { ChangeBus } from '../../src/state/changes.ts';
import { buildControlApp } from '../../src/control/app.ts';
import { ApiKeyUsage } from '../../src/control/api-key-usage.ts';
import { handlerFactories, routeExtensions } from '../../src/control/index.ts';
import { schemaValidator } from '../../src/control/contract.ts';
import { createTestDatabase, type StoreKind, type TestDatabase } from './stores.ts';

export interface TestControl {
  app: FastifyInstance;
  store: Store;
  config: Config;
  changes: ChangeBus;
  database: TestDatabase;
  /** API keys' lastUsed tracker: `flush()` writes what it holds now instead of at the next interval. */
  apiKeyUsage: ApiKeyUsage;
  /** First account's API key token and id. */
  token: string;
  accountId: string;
  /** A second, unrelated account for isolation checks. */
  other: { token: string; accountId: string };
  call(method: string, url: string, body?: unknown, token?: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startControl(kind: StoreKind, env: Record<string, string> = {}): Promise<TestControl> {
  const database = await createTestDatabase(kind);
  const config = loadConfig({ TOLLGATE_SECRET_KEY: randomBytes(32).toString('hex'), TOLLGATE_DATABASE_URL: database.url, TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: '1', ...env });
  const store = await openStore(config.databaseUrl);
  const changes = new ChangeBus(store.db);
  const logger = pino({ level: 'silent' });
  const apiKeyUsage = new ApiKeyUsage(store.db, logger);
  const app = await buildControlApp({ store, config, secretBox: new SecretBox(config.masterKey), changes, logger, apiKeyUsage }, handlerFactories, routeExtensions);
  const first = await createAccount(store.db, 'first');
  const second = await createAccount(store.db, 'second');
  const control: TestControl = {
    app, store, config, changes, database, apiKeyUsage,
    token: first.apiKey.token, accountId: first.account.id,
    other: { token: second.apiKey.token, accountId: second.account.id },
    call(method, url, body, token = first.apiKey.token) {
      return app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    },
    async close() {
      await app.close();
      await store.close();
      await database.drop();
    },
  };
  return control;
}

/** Asserts the status and that the JSON body matches the named contract schema; returns the body. */
export function expectSchema<T = Record<string, unknown>>(res: LightMyRequestResponse, status: number, schema: string): T {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body}`);
  const body = res.json() as T;
  const validate = schemaValidator(schema);
  assert.ok(validate(body), `response does not match ${schema}: ${JSON.stringify(validate.errors)} in ${res.body}`);
  return body;
}

/** Asserts a contract error body with the given status and ERR_NGROK code. */
export function expectError(res: LightMyRequestResponse, status: number, code: string): { msg: string; details: Record<string, string> } {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  const body = expectSchema<{ errorCode: string; statusCode: number; msg: string; details: Record<string, string> }>(res, status, 'Error');
  assert.equal(body.errorCode, code, `expected ${code}, got ${body.errorCode}: ${body.msg}`);
  assert.equal(body.statusCode, status);
  return body;
}
