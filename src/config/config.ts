// Typed server configuration from the environment (flags of the CLI map onto the same names).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseMasterKey } from '../domain/secret-box.ts';
import { TIMER_MAX_MS } from '../domain/duration.ts';
import { unsendableSecretReason } from '../domain/header-value.ts';
import { parseDatabaseUrl } from '../store/database.ts';
import { builtinProviders, isBuiltinProviderId } from '../catalog/providers.ts';
import { loadObservabilityConfig, onOff, type ObservabilityConfig } from './observability.ts';

export interface Config {
  databaseUrl: string;
  /**
   * PostgreSQL: where the gateway's LISTEN session connects when `databaseUrl` is a transaction pooler (PgBouncer),
   * through which no notification arrives: the database itself, or a session-mode pool.
   */
  databaseListenUrl?: string;
  host: string;
  gatewayPort: number;
  apiPort: number;
  masterKey: Buffer;
  /** Where the master key came from, reported at start (never the key itself). */
  masterKeySource: 'env' | 'generated' | 'file';
  masterKeyFile?: string;
  bootstrapApiKey?: string;
  /** Built-in provider base-URL overrides by provider id. */
  providerBaseUrls: Record<string, string>;
  /** Operator ("ngrok"-step) credentials by provider id. */
  managedKeys: Record<string, string>;
  allowPrivateUpstreams: boolean;
  billing: boolean;
  processingFeeMicroUsdPerMtok: bigint;
  maxBodyBytes: number;
  /** How long a stopping gateway lets open answers finish before ending them with an error (ms). */
  shutdownGraceMs: number;
  /** PostgreSQL: how long a connection in use may go without a byte before it is dropped (ms; store/database.ts). */
  databaseSilenceMs: number;
  /** Most connections the gateway keeps open to one provider origin (requests beyond wait for a free one). */
  upstreamConnections: number;
  /**
   * Both planes: how long a client may take to send its request headers, and its whole request (headers and
   * body — not the answer, which may stream for minutes). A connection that sends nothing is closed too.
   */
  clientHeadersTimeoutMs: number;
  clientRequestTimeoutMs: number;
  /** How long a provider may stay quiet once its stream reached the client (ngrok: 30 s). */
  streamIdleTimeoutMs: number;
  /** How long a streamed answer may run in all when the account set no totalTimeout of its own (ngrok: 15 min). */
  streamTimeoutMs: number;
  /** The gateway's local usage journal (docs/decisions/usage-durability.md); ':memory:' with an in-memory store. */
  journalPath: string;
  logLevel: string;
  /** Metrics, access log, traces (config/observability.ts). */
  observability: ObservabilityConfig;
  stripeSecretKey?: string;
  stripeWebhookSecret?: string;
  stripeApiBaseUrl?: string;
  publicApiUrl?: string;
  checkoutSuccessUrl: string;
  checkoutCancelUrl: string;
}

type Env = Record<string, string | undefined>;

export const DEFAULT_SQLITE_URL = 'sqlite:data/tollgate.db';

/** Provider id ↔ env suffix: upper-case, `-` → `_` (TOLLGATE_PROVIDER_INFERENCE_NET_BASE_URL). */
export function envSuffix(providerId: string): string {
  return providerId.toUpperCase().replace(/-/g, '_');
}

function collect(env: Env, prefix: string, suffix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value && name.startsWith(prefix) && name.endsWith(suffix) && name.length > prefix.length + suffix.length) {
      out[name.slice(prefix.length, name.length - suffix.length).toLowerCase().replace(/_/g, '-')] = value;
    }
  }
  return out;
}

/**
 * Operator credentials for `ngrok` routing steps, trimmed as pasted keys are (an env file with CRLF line ends leaves
 * a CR on every value). One an HTTP header cannot carry would fail every managed request: refused at start.
 */
function managedKeys(env: Env): Record<string, string> {
  const keys = collect(env, 'TOLLGATE_MANAGED_', '_API_KEY');
  for (const [provider, value] of Object.entries(keys)) {
    const trimmed = value.trim();
    const unsendable = unsendableSecretReason(trimmed);
    const name = `TOLLGATE_MANAGED_${envSuffix(provider)}_API_KEY`;
    refuseUnknownProvider(provider, name);
    if (trimmed === '') throw new Error(`${name} is empty`);
    if (unsendable) throw new Error(`${name} ${unsendable}`);
    keys[provider] = trimmed;
  }
  return keys;
}

/**
 * A misspelt provider id (TOLLGATE_PROVIDER_OPENIA_BASE_URL) would be ignored, and the traffic it was meant to
 * redirect would go to the real provider with the account's real keys: refused at start instead.
 */
function refuseUnknownProvider(provider: string, name: string): void {
  if (isBuiltinProviderId(provider)) return;
  throw new Error(`${name} names no built-in provider ("${provider}"); the ids are ${builtinProviders.map((p) => envSuffix(p.id)).join(', ')}`);
}

/** TOLLGATE_PROVIDER_<ID>_BASE_URL: an absolute http(s) URL for a built-in provider (custom providers carry their own). */
function providerBaseUrls(env: Env): Record<string, string> {
  const urls = collect(env, 'TOLLGATE_PROVIDER_', '_BASE_URL');
  for (const [provider, value] of Object.entries(urls)) {
    const name = `TOLLGATE_PROVIDER_${envSuffix(provider)}_BASE_URL`;
    refuseUnknownProvider(provider, name);
    const url = URL.parse(value.trim());
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      // A value with an "@" may hold credentials (`user:pass@host`, with or without a scheme): not repeated into the
      // error, nor the log that keeps it.
      const shown = value.includes('@') ? 'a value with an "@" (not repeated: it may hold a password)' : `"${value}"`;
      throw new Error(`${name} must be an absolute http(s) URL with the API's version path (as https://api.openai.com/v1), got ${shown}`);
    }
    urls[provider] = value.trim();
  }
  return urls;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(env: Env): string {
  const level = env.TOLLGATE_LOG_LEVEL;
  if (level === undefined || level === '') return 'info';
  if (!LOG_LEVELS.includes(level)) throw new Error(`TOLLGATE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!DIGITS.test(raw) || n > 65535) throw new Error(`${name} must be a port number, got ${JSON.stringify(env[name])}`);
  return n;
}

function decimalUsd(raw: string | undefined, name: string): bigint {
  if (raw === undefined || raw === '') return 0n;
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(raw.trim());
  if (!m) throw new Error(`${name} must be a decimal USD amount such as 0.05, got "${raw}"`);
  return BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/**
 * Past $2,500 per million tokens the fee is a typo (ngrok's is cents), and on an answer of the most tokens a provider
 * may report (a billion in, a billion out) it would bring an event's cost near the store's 64-bit columns, whose
 * overflow refuses every usage batch holding such an event.
 */
const MAX_FEE_MICRO_USD_PER_MTOK = 2_500_000_000n;

function processingFee(raw: string | undefined): bigint {
  const fee = decimalUsd(raw, 'TOLLGATE_PROCESSING_FEE_USD_PER_MTOK');
  if (fee > MAX_FEE_MICRO_USD_PER_MTOK) throw new Error(`TOLLGATE_PROCESSING_FEE_USD_PER_MTOK must be at most 2500 (USD per million tokens), got "${raw}"`);
  return fee;
}

function loadMasterKey(env: Env, databaseUrl: string): Pick<Config, 'masterKey' | 'masterKeySource' | 'masterKeyFile'> {
  if (env.TOLLGATE_SECRET_KEY) return { masterKey: parseMasterKey(env.TOLLGATE_SECRET_KEY), masterKeySource: 'env' };
  const parsed = parseDatabaseUrl(databaseUrl);
  if (parsed.dialect !== 'sqlite' || parsed.path === ':memory:') {
    throw new Error('TOLLGATE_SECRET_KEY is required with PostgreSQL (64 hex characters or base64 of 32 bytes)');
  }
  // Embedded default: one key generated beside the database file, readable by its owner only.
  const file = join(dirname(resolve(parsed.path)), 'secret.key');
  if (existsSync(file)) return { masterKey: parseMasterKey(readFileSync(file, 'utf8')), masterKeySource: 'file', masterKeyFile: file };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { masterKey: parseMasterKey(readFileSync(file, 'utf8')), masterKeySource: 'generated', masterKeyFile: file };
}

/** TOLLGATE_JOURNAL_PATH, else beside the SQLite database, else ./data/usage-journal.db (PostgreSQL). */
function journalPath(env: Env, databaseUrl: string): string {
  if (env.TOLLGATE_JOURNAL_PATH) return env.TOLLGATE_JOURNAL_PATH;
  const parsed = parseDatabaseUrl(databaseUrl);
  if (parsed.dialect === 'postgres') return join('data', 'usage-journal.db');
  return parsed.path === ':memory:' ? ':memory:' : join(dirname(parsed.path), 'usage-journal.db');
}

/** Plain decimal digits only: `Number()` would also take `0x1f`, `1e3` or ` 42 `. */
const DIGITS = /^\d+$/;

function positiveInteger(env: Env, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  // Trimmed: an env file written on Windows leaves a CR after the value.
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!DIGITS.test(raw) || !Number.isSafeInteger(value) || value <= 0 || value > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(env[name])}`);
  return value;
}

/**
 * The operator's own first API key. Generated keys carry 256 random bits; a chosen one is the only token a
 * guesser could hope to find, so it must be at least as long as a 128-bit hex secret, and header-safe (a Bearer
 * token: visible ASCII, no spaces).
 */
export const MIN_BOOTSTRAP_KEY_LENGTH = 32;

function bootstrapApiKey(env: Env): string | undefined {
  const key = env.TOLLGATE_BOOTSTRAP_API_KEY;
  if (!key) return undefined;
  if (key.length < MIN_BOOTSTRAP_KEY_LENGTH) throw new Error(`TOLLGATE_BOOTSTRAP_API_KEY must be at least ${MIN_BOOTSTRAP_KEY_LENGTH} characters (try: openssl rand -hex 32)`);
  if (!/^[\x21-\x7e]+$/.test(key)) throw new Error('TOLLGATE_BOOTSTRAP_API_KEY may hold only visible ASCII characters (no spaces)');
  return key;
}

/**
 * The store's URL alone (TOLLGATE_DATABASE_URL, else the embedded default), for commands that touch only the
 * database — migrations, accounts, credits — and so need no TOLLGATE_SECRET_KEY, which decrypts provider keys.
 */
/** TOLLGATE_DATABASE_SILENCE_MS (store/database.ts), for commands that open the store without a whole Config. */
export function databaseSilenceMsFrom(env: Env = process.env): number {
  return positiveInteger(env, 'TOLLGATE_DATABASE_SILENCE_MS', 15_000, TIMER_MAX_MS);
}

/** TOLLGATE_DATABASE_LISTEN_URL: a PostgreSQL URL, and only beside a PostgreSQL database (SQLite has no LISTEN). */
function databaseListenUrl(env: Env, databaseUrl: string): string | undefined {
  const url = env.TOLLGATE_DATABASE_LISTEN_URL;
  if (!url) return undefined;
  if (parsedDatabaseUrl(url, 'TOLLGATE_DATABASE_LISTEN_URL').dialect !== 'postgres') throw new Error('TOLLGATE_DATABASE_LISTEN_URL must be a postgres:// URL (the database itself, or a session-mode pool)');
  if (parseDatabaseUrl(databaseUrl).dialect !== 'postgres') throw new Error('TOLLGATE_DATABASE_LISTEN_URL is for a PostgreSQL TOLLGATE_DATABASE_URL behind a transaction pooler; SQLite needs none');
  return url;
}

/** parseDatabaseUrl, its refusal naming where the URL came from. */
function parsedDatabaseUrl(url: string, source: string): ReturnType<typeof parseDatabaseUrl> {
  try {
    return parseDatabaseUrl(url);
  } catch (error) {
    throw new Error(`${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function databaseUrlFrom(env: Env = process.env, override?: string): string {
  const databaseUrl = override ?? env.TOLLGATE_DATABASE_URL ?? DEFAULT_SQLITE_URL;
  const parsed = parsedDatabaseUrl(databaseUrl, override !== undefined ? '--database-url' : 'TOLLGATE_DATABASE_URL');
  return parsed.dialect === 'sqlite' && parsed.path !== ':memory:' && !isAbsolute(parsed.path) ? `sqlite:${parsed.path}` : databaseUrl;
}

export function loadConfig(env: Env = process.env, overrides: Partial<Record<'databaseUrl' | 'host', string> & Record<'gatewayPort' | 'apiPort', number>> = {}): Config {
  const databaseUrl = databaseUrlFrom(env, overrides.databaseUrl);
  const config: Omit<Config, 'masterKey' | 'masterKeySource' | 'masterKeyFile'> = {
    databaseUrl,
    // Empty is unset: `TOLLGATE_HOST=` would otherwise listen on every interface.
    host: overrides.host ?? (env.TOLLGATE_HOST?.trim() || '127.0.0.1'),
    gatewayPort: overrides.gatewayPort ?? port(env, 'TOLLGATE_GATEWAY_PORT', 8080),
    apiPort: overrides.apiPort ?? port(env, 'TOLLGATE_API_PORT', 8081),
    providerBaseUrls: providerBaseUrls(env),
    managedKeys: managedKeys(env),
    allowPrivateUpstreams: onOff(env, 'TOLLGATE_ALLOW_PRIVATE_UPSTREAMS', false),
    billing: onOff(env, 'TOLLGATE_BILLING', false),
    processingFeeMicroUsdPerMtok: processingFee(env.TOLLGATE_PROCESSING_FEE_USD_PER_MTOK),
    // 32 MiB: what Anthropic's Messages API and ngrok's gateway accept (base64 images and PDFs make large bodies).
    maxBodyBytes: positiveInteger(env, 'TOLLGATE_MAX_BODY_BYTES', 32 * 1024 * 1024),
    shutdownGraceMs: positiveInteger(env, 'TOLLGATE_SHUTDOWN_GRACE_MS', 5000, TIMER_MAX_MS),
    databaseSilenceMs: databaseSilenceMsFrom(env),
    // Every open stream holds one: 1,024 per origin carries a thousand concurrent streams to one provider.
    upstreamConnections: positiveInteger(env, 'TOLLGATE_UPSTREAM_CONNECTIONS', 1024),
    clientHeadersTimeoutMs: positiveInteger(env, 'TOLLGATE_CLIENT_HEADERS_TIMEOUT_MS', 30_000, TIMER_MAX_MS),
    clientRequestTimeoutMs: positiveInteger(env, 'TOLLGATE_CLIENT_REQUEST_TIMEOUT_MS', 120_000, TIMER_MAX_MS),
    streamIdleTimeoutMs: positiveInteger(env, 'TOLLGATE_STREAM_IDLE_TIMEOUT_MS', 30_000, TIMER_MAX_MS),
    streamTimeoutMs: positiveInteger(env, 'TOLLGATE_STREAM_TIMEOUT_MS', 15 * 60_000, TIMER_MAX_MS),
    journalPath: journalPath(env, databaseUrl),
    logLevel: logLevel(env),
    observability: loadObservabilityConfig(env),
    checkoutSuccessUrl: env.TOLLGATE_CHECKOUT_SUCCESS_URL ?? 'http://127.0.0.1:8081/?checkout=success',
    checkoutCancelUrl: env.TOLLGATE_CHECKOUT_CANCEL_URL ?? 'http://127.0.0.1:8081/?checkout=cancel',
  };
  const listenUrl = databaseListenUrl(env, databaseUrl);
  if (listenUrl) config.databaseListenUrl = listenUrl;
  const bootstrap = bootstrapApiKey(env);
  if (bootstrap) config.bootstrapApiKey = bootstrap;
  if (env.TOLLGATE_STRIPE_SECRET_KEY) config.stripeSecretKey = env.TOLLGATE_STRIPE_SECRET_KEY;
  if (env.TOLLGATE_STRIPE_WEBHOOK_SECRET) config.stripeWebhookSecret = env.TOLLGATE_STRIPE_WEBHOOK_SECRET;
  if (env.TOLLGATE_STRIPE_API_BASE_URL) config.stripeApiBaseUrl = env.TOLLGATE_STRIPE_API_BASE_URL;
  if (env.TOLLGATE_PUBLIC_API_URL) config.publicApiUrl = env.TOLLGATE_PUBLIC_API_URL.replace(/\/$/, '');
  // Last: the embedded default generates secret.key, and a start refused for another variable must not leave one
  // behind (the next start would load it quietly, and the "back this file up" warning would never be seen).
  return { ...config, ...loadMasterKey(env, databaseUrl) };
}
