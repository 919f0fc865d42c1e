// Typed server configuration from the environment (flags of the CLI map onto the same names).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseMasterKey } from '../domain/secret-box.ts';
import { TIMER_MAX_MS } from '../domain/duration.ts';
import { DEFAULT_CAPTURE_MAX_BYTES, DEFAULT_CAPTURE_RETENTION_MS } from '../domain/request-capture.ts';
import { unsendableSecretReason } from '../domain/header-value.ts';
import { parseDatabaseUrl } from '../store/database.ts';
import { unusableFileError } from '../store/private-file.ts';
import { editDistance } from '../domain/suggest.ts';
import { builtinProviders, isBuiltinProviderId } from '../catalog/providers.ts';
import { createCatalog, ownChatSurface } from '../catalog/index.ts';
import { httpUrl, loadObservabilityConfig, onOff, shownUrl, type ObservabilityConfig } from './observability.ts';

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
  /**
   * TOLLGATE_FIREWALL_DECISION_MODEL (and _TIMEOUT_MS): the model that judges Firewall's decision rules, called with
   * the operator's managed key for its provider; absent, decision rules are refused.
   */
  firewallDecision?: FirewallDecisionModel;
  allowPrivateUpstreams: boolean;
  billing: boolean;
  processingFeeMicroUsdPerMtok: bigint;
  /** TOLLGATE_MCP_FEE_USD_PER_CALL: what each MCP tools/call a server answered costs (default 0). */
  mcpCallFeeMicroUsd: bigint;
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
  /** Realtime sessions (gateway/realtime/): open at once per account, and how long one may go without a data frame / last in all (ms). */
  realtimeMaxSessions: number;
  realtimeIdleTimeoutMs: number;
  realtimeMaxDurationMs: number;
  /** Request capture: each body's first bytes kept (TOLLGATE_REQUEST_CAPTURE_MAX_BYTES). */
  requestCaptureMaxBytes: number;
  /** Request capture: how long a capture is kept (TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS, in ms). */
  requestCaptureRetentionMs: number;
  /** The gateway's local usage journal (docs/decisions/usage-durability.md); ':memory:' with an in-memory store. */
  journalPath: string;
  logLevel: string;
  /** Metrics, access log, traces (config/observability.ts). */
  observability: ObservabilityConfig;
  stripeSecretKey?: string;
  stripeWebhookSecret?: string;
  stripeApiBaseUrl?: string;
  /** Bedrock keys backed by an IAM role: TOLLGATE_AWS_STS_ENDPOINT and TOLLGATE_AWS_STS_REGION (gateway/bedrock-role.ts). */
  awsStsEndpoint?: string;
  awsStsRegion?: string;
  publicApiUrl?: string;
  /** TOLLGATE_PUBLIC_GATEWAY_URL: where the console's Playground sends requests (default: the console's host, gateway port). */
  publicGatewayUrl?: string;
  /** Where Stripe Checkout sends the buyer back: TOLLGATE_CHECKOUT_*_URL, else the console (checkoutReturnBase). */
  checkoutSuccessUrl: string;
  checkoutCancelUrl: string;
  /**
   * What the host and port settings are called where they were given: the flag when one was, else the variable. A
   * server that cannot listen names what the operator typed, not a variable left unset.
   */
  listenSettingNames: { host: string; gatewayPort: string; apiPort: string };
  /**
   * What the environment set that does nothing (a misspelt name, a managed key no routing step uses): logged as
   * warnings at start. Names only, never a value (they may be secrets).
   */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

/** The decision model: a built-in provider served with managed keys, a model of its catalog, and how long a judgement may take. */
export interface FirewallDecisionModel { provider: string; model: string; timeoutMs: number }

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
    if (unsendable) throw new Error(`${name} ${unsendable}`);
    keys[provider] = trimmed;
  }
  return keys;
}

/**
 * TOLLGATE_FIREWALL_DECISION_MODEL=<provider>:<model> (gateway-behaviour.md "Decision rules"). Everything a judgement
 * needs is checked here, so a deployment that accepts decision rules can run them: the provider served with managed
 * keys and its key set (the operator pays, never a tenant), a chat completions API of its own that honours
 * `response_format` (Anthropic's compatibility layer ignores it), and a model its catalog lists (a typo would
 * otherwise fail every judgement, each one then decided by its policy's onError).
 */
function firewallDecision(env: Env, managed: Record<string, string>): FirewallDecisionModel | undefined {
  const name = 'TOLLGATE_FIREWALL_DECISION_MODEL';
  const timeoutMs = positiveInteger(env, 'TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS', 5000, 120_000);
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const colon = raw.indexOf(':');
  if (colon <= 0 || colon === raw.length - 1) throw new Error(`${name} must be <provider>:<model> (as openai:gpt-4o-mini), got ${JSON.stringify(raw.slice(0, 80))}`);
  const providerId = raw.slice(0, colon);
  const modelId = raw.slice(colon + 1);
  const served = builtinProviders.filter((p) => p.managed).map((p) => p.id).join(', ');
  const provider = builtinProviders.find((p) => p.id === providerId);
  if (!provider || !provider.managed) throw new Error(`${name} names ${provider ? `${provider.displayName}, which is not served with managed keys` : `no built-in provider ("${providerId.slice(0, 40)}")`}; the decision model is called with the operator's managed key, so its provider is one of ${served}`);
  if (!ownChatSurface(provider)) {
    throw new Error(`${name} names ${provider.displayName}, whose chat completions API is a compatibility layer that ignores response_format; choose a model of another provider (as openai:gpt-4o-mini)`);
  }
  const model = createCatalog().model(providerId, modelId);
  if (!model) throw new Error(`${name} names ${JSON.stringify(modelId.slice(0, 80))}, a model ${provider.displayName}'s catalog does not list (GET /v1/models on the gateway lists them)`);
  if (!managed[providerId]) throw new Error(`${name} names the ${provider.displayName} model ${JSON.stringify(modelId)}, and TOLLGATE_MANAGED_${envSuffix(providerId)}_API_KEY is not set: the decision model is called with the operator's managed key, never a tenant's`);
  return { provider: providerId, model: model.id, timeoutMs };
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
    httpUrl(value, name, "an absolute http(s) URL with the API's version path (as https://api.openai.com/v1)");
    urls[provider] = value.trim();
  }
  return urls;
}

/**
 * TOLLGATE_PUBLIC_API_URL: the control plane as clients reach it (behind a proxy or TLS terminator). Answers' `uri`s and
 * `nextPageUri`s are built on it, so credentials, a query or a fragment would be copied into every link: refused.
 * TOLLGATE_PUBLIC_GATEWAY_URL: the gateway as browsers reach it (the console's Playground calls it), read alike.
 */
function publicBaseUrl(env: Env, name: 'TOLLGATE_PUBLIC_API_URL' | 'TOLLGATE_PUBLIC_GATEWAY_URL', example: string, what: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const url = httpUrl(raw, name, `the absolute http(s) URL ${what} (as ${example})`);
  if (url.username || url.password || url.search || url.hash) throw new Error(`${name} must be a base URL without credentials, query or fragment (as ${example}), got ${shownUrl(raw)}`);
  // Normalised (`HTTPS://` → `https://`): the console's cookies are made Secure when it starts with https:.
  return url.href.replace(/\/+$/, '');
}

/** TOLLGATE_STRIPE_API_BASE_URL: another Stripe API host (stripe-mock, a test's fake). */
function stripeApiBaseUrl(env: Env): string | undefined {
  const name = 'TOLLGATE_STRIPE_API_BASE_URL';
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const url = httpUrl(raw, name, 'an absolute http(s) URL of a Stripe-compatible API (as http://127.0.0.1:12111)');
  // The SDK is given a protocol, host and port only: a path (`…/v1`) or anything else would be dropped without a word.
  if (url.pathname !== '/' || url.username || url.password || url.search || url.hash) throw new Error(`${name} must be a scheme, host and port only (as http://127.0.0.1:12111; the Stripe SDK adds /v1/… itself), got ${shownUrl(raw)}`);
  return raw;
}

/**
 * Where Stripe Checkout sends the buyer back by default: the web console (the control plane's `/`) as a browser
 * reaches it — TOLLGATE_PUBLIC_API_URL, else the API port on this host (a wildcard listen address is no address a
 * browser can open: loopback reaches the same listener).
 */
function checkoutReturnBase(publicUrl: string | undefined, host: string, apiPort: number): string {
  if (publicUrl) return publicUrl;
  const local = host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
  return `http://${local.includes(':') && !local.startsWith('[') ? `[${local}]` : local}:${apiPort}`;
}

function checkoutUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  httpUrl(raw, name, 'an absolute http(s) URL (Stripe Checkout sends the buyer back there)');
  return raw;
}

/** TOLLGATE_AWS_STS_ENDPOINT: where AssumeRole goes for Bedrock role keys instead of the region's STS (a VPC endpoint, a test's fake). */
function awsStsEndpoint(env: Env): string | undefined {
  const raw = env.TOLLGATE_AWS_STS_ENDPOINT?.trim();
  if (!raw) return undefined;
  httpUrl(raw, 'TOLLGATE_AWS_STS_ENDPOINT', 'an absolute http(s) URL of an AWS STS endpoint (as https://sts.us-east-1.amazonaws.com)');
  return raw;
}

/** TOLLGATE_AWS_STS_REGION: one STS region for every Bedrock role key (default: each key's own region). */
function awsStsRegion(env: Env): string | undefined {
  const raw = env.TOLLGATE_AWS_STS_REGION?.trim();
  if (!raw) return undefined;
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(raw)) throw new Error(`TOLLGATE_AWS_STS_REGION must be an AWS region name (as us-east-1), got ${JSON.stringify(raw.slice(0, 40))}`);
  return raw;
}

/**
 * Every TOLLGATE_* variable a part of Tollgate reads, besides the per-provider TOLLGATE_PROVIDER_<ID>_BASE_URL and
 * TOLLGATE_MANAGED_<ID>_API_KEY (checked where they are read). README.md lists them all (config.test.ts checks it).
 */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set([
  'TOLLGATE_DATABASE_URL', 'TOLLGATE_DATABASE_LISTEN_URL', 'TOLLGATE_DATABASE_SILENCE_MS', 'TOLLGATE_HOST', 'TOLLGATE_GATEWAY_PORT',
  'TOLLGATE_API_PORT', 'TOLLGATE_SECRET_KEY', 'TOLLGATE_BOOTSTRAP_API_KEY', 'TOLLGATE_ALLOW_PRIVATE_UPSTREAMS', 'TOLLGATE_BILLING',
  'TOLLGATE_PROCESSING_FEE_USD_PER_MTOK', 'TOLLGATE_MCP_FEE_USD_PER_CALL', 'TOLLGATE_MAX_BODY_BYTES', 'TOLLGATE_SHUTDOWN_GRACE_MS', 'TOLLGATE_UPSTREAM_CONNECTIONS',
  'TOLLGATE_CLIENT_HEADERS_TIMEOUT_MS', 'TOLLGATE_CLIENT_REQUEST_TIMEOUT_MS', 'TOLLGATE_STREAM_IDLE_TIMEOUT_MS', 'TOLLGATE_STREAM_TIMEOUT_MS',
  'TOLLGATE_REALTIME_MAX_SESSIONS', 'TOLLGATE_REALTIME_IDLE_TIMEOUT_MS', 'TOLLGATE_REALTIME_MAX_DURATION_MS',
  'TOLLGATE_JOURNAL_PATH', 'TOLLGATE_LOG_LEVEL', 'TOLLGATE_STRIPE_SECRET_KEY', 'TOLLGATE_STRIPE_WEBHOOK_SECRET', 'TOLLGATE_STRIPE_API_BASE_URL',
  'TOLLGATE_AWS_STS_ENDPOINT', 'TOLLGATE_AWS_STS_REGION',
  'TOLLGATE_PUBLIC_API_URL', 'TOLLGATE_PUBLIC_GATEWAY_URL', 'TOLLGATE_CHECKOUT_SUCCESS_URL', 'TOLLGATE_CHECKOUT_CANCEL_URL',
  'TOLLGATE_METRICS_ON_GATEWAY', 'TOLLGATE_METRICS_ACCESS_KEY_LABEL', 'TOLLGATE_METRICS_BALANCE_ACCOUNTS', 'TOLLGATE_METRICS_TOKEN',
  'TOLLGATE_ACCESS_LOG', 'TOLLGATE_LOG_BODIES', 'TOLLGATE_REQUEST_CAPTURE_MAX_BYTES', 'TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS',
  'TOLLGATE_FIREWALL_DECISION_MODEL', 'TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS',
  // Read by `tollgate rotate-secret` and by the test suite (scripts/test.ts, the console test): set around a server, not wrong.
  'TOLLGATE_SECRET_KEY_NEW', 'TOLLGATE_TEST_PG_URL', 'TOLLGATE_UPDATE_SCREENSHOTS',
]);

/** The OpenTelemetry variables Tollgate reads (observability.ts), the SDK's own names. */
const OTEL_VARIABLES: ReadonlySet<string> = new Set(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SERVICE_NAME']);

/** A TOLLGATE_* name Tollgate reads: a known one, or a per-provider base URL or managed key (their ids checked where read). */
function isTollgateVariable(name: string): boolean {
  return KNOWN_VARIABLES.has(name) || /^TOLLGATE_PROVIDER_.+_BASE_URL$/.test(name) || /^TOLLGATE_MANAGED_.+_API_KEY$/.test(name);
}

/**
 * One rule for every variable: empty is unset, and a value of spaces, tabs or a lone CR (an empty line of an env file
 * written on Windows) is refused at start. Read as given it would be a metrics token of " " or a journal path of " ";
 * trimmed to unset it would quietly drop a setting the operator meant to make.
 */
function refuseBlankValues(env: Env, names: Iterable<string>): void {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '' && value.trim() === '') {
      throw new Error(`${name} holds only whitespace (${JSON.stringify(value)}); give it a value, or leave it empty or unset for the default`);
    }
  }
}

/**
 * Variables set that change nothing: a misspelt TOLLGATE_BILING leaves billing off without a word, and a managed key
 * of a provider not served with managed keys is never used. Not refused (a stale name in a shared env file should not
 * stop a start), but said. Names only: the values may be secrets.
 */
function ignoredVariables(env: Env, managed: Record<string, string>): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('TOLLGATE_') || isTollgateVariable(name)) continue;
    const near = [...KNOWN_VARIABLES].map((known) => ({ known, d: editDistance(name, known, 4) })).sort((x, y) => x.d - y.d)[0];
    const hint = near && near.d <= 3 ? ` (did you mean ${near.known}?)` : '';
    warnings.push(`${name} is not a Tollgate setting and is ignored${hint}; README.md lists the settings`);
  }
  const served = builtinProviders.filter((p) => p.managed).map((p) => p.displayName).join(', ');
  for (const id of Object.keys(managed)) {
    const provider = builtinProviders.find((p) => p.id === id);
    if (provider && !provider.managed) warnings.push(`TOLLGATE_MANAGED_${envSuffix(id)}_API_KEY is ignored: ${provider.displayName} is not served with managed keys (routing steps of type ngrok reach ${served})`);
  }
  return warnings;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** In any case (`WARN`, `Debug`), as the on/off settings are read: the level names are pino's, in lower case. */
function logLevel(env: Env): string {
  const given = env.TOLLGATE_LOG_LEVEL;
  if (given === undefined || given === '') return 'info';
  const level = given.toLowerCase();
  if (!LOG_LEVELS.includes(level)) throw new Error(`TOLLGATE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${given}"`);
  return level;
}

/**
 * A TCP port to listen on, as plain decimal digits from 0 to 65535; 0 lets the system pick a free one (tests, several
 * processes on one host). `Number()` would also take `0x50`, `1e3` or ` 80`, and `parseInt` `12ab`.
 */
export function parsePort(raw: string, name: string, given = raw): number {
  const n = Number(raw);
  if (!DIGITS.test(raw) || n > 65535) throw new Error(`${name} must be a port number from 0 to 65535 (0: any free port), got ${JSON.stringify(given)}`);
  return n;
}

function port(env: Env, name: string, fallback: number): number {
  // Trimmed: an env file written on Windows leaves a CR after the value (a refusal shows the value as given).
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  return parsePort(raw, name, env[name]);
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

/** Past $10 a call the fee is a typo (ngrok bills MCP operations at a price it does not publish, surely cents or less). */
const MAX_MCP_FEE_MICRO_USD = 10_000_000n;

function mcpCallFee(raw: string | undefined): bigint {
  const fee = decimalUsd(raw, 'TOLLGATE_MCP_FEE_USD_PER_CALL');
  if (fee > MAX_MCP_FEE_MICRO_USD) throw new Error(`TOLLGATE_MCP_FEE_USD_PER_CALL must be at most 10 (USD per call), got "${raw}"`);
  return fee;
}

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
  try {
    if (existsSync(file)) return { masterKey: parseMasterKey(readFileSync(file, 'utf8')), masterKeySource: 'file', masterKeyFile: file };
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return { masterKey: parseMasterKey(readFileSync(file, 'utf8')), masterKeySource: 'generated', masterKeyFile: file };
  } catch (error) {
    throw unusableFileError(error, 'the master key file (TOLLGATE_SECRET_KEY unset)', file, 'set TOLLGATE_SECRET_KEY, or check TOLLGATE_DATABASE_URL (or --database-url): the key is kept beside the database, in a directory this user can write');
  }
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

function positiveInteger(env: Env, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  // Trimmed: an env file written on Windows leaves a CR after the value.
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!DIGITS.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(env[name])}`);
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

/** TOLLGATE_DATABASE_SILENCE_MS (store/database.ts), for commands that open the store without a whole Config. */
export function databaseSilenceMsFrom(env: Env = process.env): number {
  refuseBlankValues(env, ['TOLLGATE_DATABASE_SILENCE_MS']);
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

/**
 * The store's URL alone (TOLLGATE_DATABASE_URL, else the embedded default), for commands that touch only the
 * database — migrations, accounts, credits — and so need no TOLLGATE_SECRET_KEY, which decrypts provider keys.
 */
export function databaseUrlFrom(env: Env = process.env, override?: string): string {
  // " " would otherwise be a SQLite file of that name in the working directory.
  if (override === undefined) refuseBlankValues(env, ['TOLLGATE_DATABASE_URL']);
  const databaseUrl = override ?? env.TOLLGATE_DATABASE_URL ?? DEFAULT_SQLITE_URL;
  const parsed = parsedDatabaseUrl(databaseUrl, override !== undefined ? '--database-url' : 'TOLLGATE_DATABASE_URL');
  return parsed.dialect === 'sqlite' && parsed.path !== ':memory:' && !isAbsolute(parsed.path) ? `sqlite:${parsed.path}` : databaseUrl;
}

export function loadConfig(env: Env = process.env, overrides: Partial<Record<'databaseUrl' | 'host', string> & Record<'gatewayPort' | 'apiPort', number>> = {}): Config {
  refuseBlankValues(env, Object.keys(env).filter((name) => isTollgateVariable(name) || OTEL_VARIABLES.has(name)));
  const databaseUrl = databaseUrlFrom(env, overrides.databaseUrl);
  // Empty is unset: `TOLLGATE_HOST=` would otherwise listen on every interface.
  const host = overrides.host ?? (env.TOLLGATE_HOST?.trim() || '127.0.0.1');
  const apiPort = overrides.apiPort ?? port(env, 'TOLLGATE_API_PORT', 8081);
  const publicUrl = publicBaseUrl(env, 'TOLLGATE_PUBLIC_API_URL', 'https://api.example.com', 'clients reach the control plane at');
  const publicGatewayUrl = publicBaseUrl(env, 'TOLLGATE_PUBLIC_GATEWAY_URL', 'https://gateway.example.com', 'browsers reach the gateway at');
  const returnBase = checkoutReturnBase(publicUrl, host, apiPort);
  const managed = managedKeys(env);
  const config: Omit<Config, 'masterKey' | 'masterKeySource' | 'masterKeyFile'> = {
    databaseUrl,
    host,
    gatewayPort: overrides.gatewayPort ?? port(env, 'TOLLGATE_GATEWAY_PORT', 8080),
    apiPort,
    providerBaseUrls: providerBaseUrls(env),
    managedKeys: managed,
    allowPrivateUpstreams: onOff(env, 'TOLLGATE_ALLOW_PRIVATE_UPSTREAMS', false),
    billing: onOff(env, 'TOLLGATE_BILLING', false),
    processingFeeMicroUsdPerMtok: processingFee(env.TOLLGATE_PROCESSING_FEE_USD_PER_MTOK),
    mcpCallFeeMicroUsd: mcpCallFee(env.TOLLGATE_MCP_FEE_USD_PER_CALL),
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
    // 100 sessions an account; 15 minutes without a frame; 60 minutes in all, OpenAI's own cap on a realtime session.
    realtimeMaxSessions: positiveInteger(env, 'TOLLGATE_REALTIME_MAX_SESSIONS', 100),
    realtimeIdleTimeoutMs: positiveInteger(env, 'TOLLGATE_REALTIME_IDLE_TIMEOUT_MS', 15 * 60_000, TIMER_MAX_MS),
    realtimeMaxDurationMs: positiveInteger(env, 'TOLLGATE_REALTIME_MAX_DURATION_MS', 60 * 60_000, TIMER_MAX_MS),
    // Below 1 KiB a capture shows too little of a request to debug it; past 16 MiB two bodies a request held while
    // it runs, times the requests in flight, are the gateway's memory.
    requestCaptureMaxBytes: positiveInteger(env, 'TOLLGATE_REQUEST_CAPTURE_MAX_BYTES', DEFAULT_CAPTURE_MAX_BYTES, 16 * 1024 * 1024, 1024),
    // Up to a year: a longer one is a typo, and captures hold prompts.
    requestCaptureRetentionMs: positiveInteger(env, 'TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS', DEFAULT_CAPTURE_RETENTION_MS / 3_600_000, 24 * 366) * 3_600_000,
    journalPath: journalPath(env, databaseUrl),
    logLevel: logLevel(env),
    observability: loadObservabilityConfig(env),
    checkoutSuccessUrl: checkoutUrl(env, 'TOLLGATE_CHECKOUT_SUCCESS_URL', `${returnBase}/?checkout=success`),
    checkoutCancelUrl: checkoutUrl(env, 'TOLLGATE_CHECKOUT_CANCEL_URL', `${returnBase}/?checkout=cancel`),
    warnings: ignoredVariables(env, managed),
    listenSettingNames: {
      host: overrides.host !== undefined ? '--host' : 'TOLLGATE_HOST',
      gatewayPort: overrides.gatewayPort !== undefined ? '--gateway-port' : 'TOLLGATE_GATEWAY_PORT',
      apiPort: overrides.apiPort !== undefined ? '--api-port' : 'TOLLGATE_API_PORT',
    },
  };
  const decision = firewallDecision(env, managed);
  if (decision) config.firewallDecision = decision;
  const listenUrl = databaseListenUrl(env, databaseUrl);
  if (listenUrl) config.databaseListenUrl = listenUrl;
  const bootstrap = bootstrapApiKey(env);
  if (bootstrap) config.bootstrapApiKey = bootstrap;
  if (env.TOLLGATE_STRIPE_SECRET_KEY) config.stripeSecretKey = env.TOLLGATE_STRIPE_SECRET_KEY;
  if (env.TOLLGATE_STRIPE_WEBHOOK_SECRET) config.stripeWebhookSecret = env.TOLLGATE_STRIPE_WEBHOOK_SECRET;
  const stripeBase = stripeApiBaseUrl(env);
  if (stripeBase) config.stripeApiBaseUrl = stripeBase;
  const stsEndpoint = awsStsEndpoint(env);
  if (stsEndpoint) config.awsStsEndpoint = stsEndpoint;
  const stsRegion = awsStsRegion(env);
  if (stsRegion) config.awsStsRegion = stsRegion;
  if (publicUrl) config.publicApiUrl = publicUrl;
  if (publicGatewayUrl) config.publicGatewayUrl = publicGatewayUrl;
  // Port 0 is known only once bound: a return URL built on it would send every buyer to a page that is not there.
  if (config.stripeSecretKey && !publicUrl && apiPort === 0 && !(env.TOLLGATE_CHECKOUT_SUCCESS_URL?.trim() && env.TOLLGATE_CHECKOUT_CANCEL_URL?.trim())) {
    config.warnings.push(`${config.listenSettingNames.apiPort} is 0 (any free port), so Stripe Checkout has no page to send buyers back to: set TOLLGATE_PUBLIC_API_URL, or TOLLGATE_CHECKOUT_SUCCESS_URL and TOLLGATE_CHECKOUT_CANCEL_URL`);
  }
  // Last: the embedded default generates secret.key, and a start refused for another variable must not leave one
  // behind (the next start would load it quietly, and the "back this file up" warning would never be seen).
  return { ...config, ...loadMasterKey(env, databaseUrl) };
}
