// Observability settings (docs/observability.md): metrics exposure and labels, the access log, body
// capture, and OpenTelemetry export. Read from the same environment as the rest of the config.

export interface ObservabilityConfig {
  /** TOLLGATE_METRICS_ON_GATEWAY=1: GET /metrics on the gateway port too (it is always on the API port). */
  metricsOnGateway: boolean;
  /** TOLLGATE_METRICS_ACCESS_KEY_LABEL=1: an `access_key` (id) label on request, token and cost series. */
  metricsAccessKeyLabel: boolean;
  /** TOLLGATE_METRICS_BALANCE_ACCOUNTS (default 100): most accounts with a balance series; 0 = none. */
  metricsBalanceAccounts: number;
  /** TOLLGATE_METRICS_TOKEN: the bearer token /metrics requires; unset, only loopback clients may read it. */
  metricsToken?: string;
  /** TOLLGATE_ACCESS_LOG=0 turns the per-request access line off (default on). */
  accessLog: boolean;
  /** TOLLGATE_LOG_BODIES=1: request and response bodies (truncated) in the access line. Debugging only. */
  logBodies: boolean;
  /** OTLP/HTTP traces URL; tracing is on only when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. */
  otlpTracesUrl?: string;
  /** OTEL_SERVICE_NAME (default `tollgate`). */
  serviceName: string;
}

type Env = Record<string, string | undefined>;

const ON = new Set(['1', 'true', 'on', 'yes']);
const OFF = new Set(['0', 'false', 'off', 'no']);

/**
 * An on/off variable: `on`/`off`, `1`/`0`, `true`/`false` or `yes`/`no` in any case; unset or empty is `fallback`.
 * Anything else is refused at start: `TOLLGATE_BILLING=enabled` quietly read as off would serve without credit.
 */
export function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (ON.has(value)) return true;
  if (OFF.has(value)) return false;
  throw new Error(`${name} must be on or off (also 1/0, true/false, yes/no), got "${raw}"`);
}

/**
 * `value` as an absolute http(s) URL, else a start refused naming `name` and what it should be. A value holding an "@"
 * may carry credentials (`user:pass@host`, with or without a scheme): it is not repeated into the error, nor the log
 * that keeps it.
 */
export function httpUrl(value: string, name: string, expected: string): URL {
  const url = URL.parse(value.trim());
  if (url && (url.protocol === 'http:' || url.protocol === 'https:')) return url;
  throw new Error(`${name} must be ${expected}, got ${shownUrl(value)}`);
}

/** A refused URL as an error may repeat it: quoted, unless it may hold a password. */
export function shownUrl(value: string): string {
  return value.includes('@') ? 'a value with an "@" (not repeated: it may hold a password)' : JSON.stringify(value);
}

/** `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the OTLP spec's rule). */
export function otlpTracesUrl(env: Env): string | undefined {
  // Checked at start: a malformed endpoint would otherwise fail only on the first export, in the background.
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) {
    httpUrl(traces, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'an absolute http(s) URL (as http://collector:4318/v1/traces)');
    return traces;
  }
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  httpUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'an absolute http(s) URL (as http://collector:4318)');
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * TOLLGATE_METRICS_BALANCE_ACCOUNTS: plain decimal digits (trimmed: an env file written on Windows leaves a CR).
 * `Number()` would also take `1e3`, `0x10` or `12.0`, and a value meant otherwise would size the gauge quietly.
 */
function balanceAccounts(env: Env): number {
  const raw = env.TOLLGATE_METRICS_BALANCE_ACCOUNTS?.trim();
  if (raw === undefined || raw === '') return 100;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw new Error(`TOLLGATE_METRICS_BALANCE_ACCOUNTS must be a whole number of accounts (0 = no balance series), got ${JSON.stringify(env.TOLLGATE_METRICS_BALANCE_ACCOUNTS)}`);
  return value;
}

export function loadObservabilityConfig(env: Env): ObservabilityConfig {
  const config: ObservabilityConfig = {
    metricsOnGateway: onOff(env, 'TOLLGATE_METRICS_ON_GATEWAY', false),
    metricsAccessKeyLabel: onOff(env, 'TOLLGATE_METRICS_ACCESS_KEY_LABEL', false),
    metricsBalanceAccounts: balanceAccounts(env),
    accessLog: onOff(env, 'TOLLGATE_ACCESS_LOG', true),
    logBodies: onOff(env, 'TOLLGATE_LOG_BODIES', false),
    serviceName: env.OTEL_SERVICE_NAME || 'tollgate',
  };
  if (env.TOLLGATE_METRICS_TOKEN) config.metricsToken = env.TOLLGATE_METRICS_TOKEN;
  const url = otlpTracesUrl(env);
  if (url) config.otlpTracesUrl = url;
  return config;
}
