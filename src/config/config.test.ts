import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseSilenceMsFrom, loadConfig } from './config.ts';

const base = { TOLLGATE_DATABASE_URL: 'sqlite::memory:', TOLLGATE_SECRET_KEY: 'a'.repeat(64) };

test('a chosen bootstrap API key must be long and header-safe; a good one is taken as given', () => {
  assert.throws(() => loadConfig({ ...base, TOLLGATE_BOOTSTRAP_API_KEY: 'letmein' }), /at least 32 characters/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_BOOTSTRAP_API_KEY: `${'k'.repeat(31)}` }), /at least 32 characters/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_BOOTSTRAP_API_KEY: `${'k'.repeat(32)} x` }), /visible ASCII/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_BOOTSTRAP_API_KEY: `${'k'.repeat(32)}é` }), /visible ASCII/);
  const key = `tg_${'0123456789abcdef'.repeat(2)}`;
  assert.equal(loadConfig({ ...base, TOLLGATE_BOOTSTRAP_API_KEY: key }).bootstrapApiKey, key);
  assert.equal(loadConfig(base).bootstrapApiKey, undefined);
});

test('TOLLGATE_DATABASE_SILENCE_MS reaches the server config and the commands that open the store alone', () => {
  assert.equal(databaseSilenceMsFrom({}), 15_000);
  assert.equal(databaseSilenceMsFrom({ TOLLGATE_DATABASE_SILENCE_MS: '120000' }), 120_000);
  assert.equal(loadConfig({ TOLLGATE_DATABASE_SILENCE_MS: '120000', TOLLGATE_SECRET_KEY: 'a'.repeat(64) }).databaseSilenceMs, 120_000);
  assert.throws(() => databaseSilenceMsFrom({ TOLLGATE_DATABASE_SILENCE_MS: '0' }), /TOLLGATE_DATABASE_SILENCE_MS must be a positive integer/);
});

test('streams: quiet for at most 30 s and running at most 15 minutes by default (ngrok\'s limits), both adjustable', () => {
  const defaults = loadConfig(base);
  assert.deepEqual([defaults.streamIdleTimeoutMs, defaults.streamTimeoutMs], [30_000, 900_000]);
  const set = loadConfig({ ...base, TOLLGATE_STREAM_IDLE_TIMEOUT_MS: '90000', TOLLGATE_STREAM_TIMEOUT_MS: '3600000' });
  assert.deepEqual([set.streamIdleTimeoutMs, set.streamTimeoutMs], [90_000, 3_600_000]);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_STREAM_TIMEOUT_MS: 'forever' }), /TOLLGATE_STREAM_TIMEOUT_MS must be a positive integer/);
});

test('the processing fee is a decimal USD per million tokens, at most $2,500 (more could overflow a usage event\'s cost)', () => {
  assert.equal(loadConfig({ ...base, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '0.05' }).processingFeeMicroUsdPerMtok, 50_000n);
  assert.equal(loadConfig({ ...base, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '2500' }).processingFeeMicroUsdPerMtok, 2_500_000_000n);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '2500.000001' }), /at most 2500/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '-1' }), /decimal USD amount/);
});

test('TOLLGATE_DATABASE_LISTEN_URL: a PostgreSQL URL beside a PostgreSQL database, refused otherwise', () => {
  const pg = { TOLLGATE_DATABASE_URL: 'postgres://app@pooler:6543/db', TOLLGATE_SECRET_KEY: 'a'.repeat(64) };
  assert.equal(loadConfig(pg).databaseListenUrl, undefined);
  assert.equal(loadConfig({ ...pg, TOLLGATE_DATABASE_LISTEN_URL: 'postgres://app@db:5432/db' }).databaseListenUrl, 'postgres://app@db:5432/db');
  assert.throws(() => loadConfig({ ...pg, TOLLGATE_DATABASE_LISTEN_URL: 'sqlite:other.db' }), /must be a postgres:\/\/ URL/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_DATABASE_LISTEN_URL: 'postgres://app@db:5432/db' }), /SQLite needs none/);
});

test('managed provider keys are trimmed (a CRLF env file leaves a CR), and one no HTTP header can carry is refused at start', () => {
  assert.deepEqual(loadConfig({ ...base, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed\r', TOLLGATE_MANAGED_GOOGLE_VERTEX_API_KEY: ' key ' }).managedKeys, { openai: 'sk-managed', 'google-vertex': 'key' });
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-a\nb' }), /TOLLGATE_MANAGED_OPENAI_API_KEY holds a line break at position 5/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_ANTHROPIC_API_KEY: 'sk-ключ' }), /TOLLGATE_MANAGED_ANTHROPIC_API_KEY holds a character outside Latin-1/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_ANTHROPIC_API_KEY: '  ' }), /TOLLGATE_MANAGED_ANTHROPIC_API_KEY is empty/);
});
