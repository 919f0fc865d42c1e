import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseSilenceMsFrom, databaseUrlFrom, KNOWN_VARIABLES, loadConfig } from './config.ts';

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
  assert.throws(() => databaseSilenceMsFrom({ TOLLGATE_DATABASE_SILENCE_MS: '0' }), /TOLLGATE_DATABASE_SILENCE_MS must be a whole number from 1 to 2147483647, got "0"/);
});

test('streams: quiet for at most 30 s and running at most 15 minutes by default (ngrok\'s limits), both adjustable', () => {
  const defaults = loadConfig(base);
  assert.deepEqual([defaults.streamIdleTimeoutMs, defaults.streamTimeoutMs], [30_000, 900_000]);
  const set = loadConfig({ ...base, TOLLGATE_STREAM_IDLE_TIMEOUT_MS: '90000', TOLLGATE_STREAM_TIMEOUT_MS: '3600000' });
  assert.deepEqual([set.streamIdleTimeoutMs, set.streamTimeoutMs], [90_000, 3_600_000]);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_STREAM_TIMEOUT_MS: 'forever' }), /TOLLGATE_STREAM_TIMEOUT_MS must be a whole number from 1 to 2147483647, got "forever"/);
});

test('request capture keeps 64 KiB of each body for a week by default; the limit is 1 KiB to 16 MiB, the retention whole hours up to a year', () => {
  const defaults = loadConfig(base);
  assert.deepEqual([defaults.requestCaptureMaxBytes, defaults.requestCaptureRetentionMs], [65_536, 7 * 24 * 3_600_000]);
  const set = loadConfig({ ...base, TOLLGATE_REQUEST_CAPTURE_MAX_BYTES: '1024', TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS: '24' });
  assert.deepEqual([set.requestCaptureMaxBytes, set.requestCaptureRetentionMs], [1024, 24 * 3_600_000]);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_REQUEST_CAPTURE_MAX_BYTES: '1023' }), /TOLLGATE_REQUEST_CAPTURE_MAX_BYTES must be a whole number from 1024 to 16777216, got "1023"/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_REQUEST_CAPTURE_MAX_BYTES: '64k' }), /TOLLGATE_REQUEST_CAPTURE_MAX_BYTES must be a whole number from 1024 to 16777216/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS: '0' }), /TOLLGATE_REQUEST_CAPTURE_RETENTION_HOURS must be a whole number from 1 to 8784, got "0"/);
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
  assert.deepEqual(loadConfig({ ...base, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-managed\r', TOLLGATE_MANAGED_INFERENCE_NET_API_KEY: ' key ' }).managedKeys, { openai: 'sk-managed', 'inference-net': 'key' });
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-a\nb' }), /TOLLGATE_MANAGED_OPENAI_API_KEY holds a line break at position 5/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_ANTHROPIC_API_KEY: 'sk-ключ' }), /TOLLGATE_MANAGED_ANTHROPIC_API_KEY holds a character outside Latin-1/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_ANTHROPIC_API_KEY: '  ' }), /TOLLGATE_MANAGED_ANTHROPIC_API_KEY holds only whitespace/);
});

test('a provider override or managed key naming no built-in provider, or a base URL that is not one, is refused at start', () => {
  assert.deepEqual(loadConfig({ ...base, TOLLGATE_PROVIDER_INFERENCE_NET_BASE_URL: ' http://127.0.0.1:9/v1 ' }).providerBaseUrls, { 'inference-net': 'http://127.0.0.1:9/v1' });
  // Misspelt, the override would be ignored and the traffic go to the real provider with the account's keys.
  assert.throws(() => loadConfig({ ...base, TOLLGATE_PROVIDER_OPENIA_BASE_URL: 'http://127.0.0.1:9/v1' }), /TOLLGATE_PROVIDER_OPENIA_BASE_URL names no built-in provider \("openia"\); the ids are OPENAI, ANTHROPIC, .*INFERENCE_NET/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_OPENIA_API_KEY: 'sk-x' }), /TOLLGATE_MANAGED_OPENIA_API_KEY names no built-in provider/);
  for (const bad of ['not-a-url', 'api.openai.com/v1', 'ftp://host/v1']) {
    assert.throws(() => loadConfig({ ...base, TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL: bad }), /TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL must be an absolute http\(s\) URL/, bad);
  }
});

test('TOLLGATE_LOG_LEVEL is one of pino\'s levels, named when it is not', () => {
  assert.equal(loadConfig(base).logLevel, 'info');
  assert.equal(loadConfig({ ...base, TOLLGATE_LOG_LEVEL: 'debug' }).logLevel, 'debug');
  assert.equal(loadConfig({ ...base, TOLLGATE_LOG_LEVEL: 'WARN' }).logLevel, 'warn', 'in any case, as the on/off settings');
  assert.throws(() => loadConfig({ ...base, TOLLGATE_LOG_LEVEL: 'verbose' }), /TOLLGATE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
});

test('TOLLGATE_DATABASE_URL: another scheme, a malformed PostgreSQL URL or an unknown sslmode is refused naming the variable, the password masked', () => {
  const key = { TOLLGATE_SECRET_KEY: 'a'.repeat(64) };
  // Read as a path, each made a new embedded database (a new account and key) beside the process.
  for (const url of ['mysql://app:hunter2@db/x', 'postgress://app@db/x', 'postgresql+psycopg://app@db/x']) {
    assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: url }), (error: Error) => {
      assert.match(error.message, /^TOLLGATE_DATABASE_URL: ".*" is not a database URL Tollgate reads: use sqlite:PATH \(embedded\) or postgres:\/\/…/);
      assert.ok(!error.message.includes('hunter2'), error.message);
      return true;
    });
  }
  assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app:hunter2@db:notaport/x' }), /^Error: TOLLGATE_DATABASE_URL: "postgres:\/\/app:\*\*\*@db:notaport\/x" is not a valid postgres:\/\/ URL/);
  assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app@db/x?sslmode=bogus' }), /sslmode=bogus in the database URL is not an sslmode/);
  assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app@db/x', TOLLGATE_DATABASE_LISTEN_URL: 'mysql://db/x' }), /^Error: TOLLGATE_DATABASE_LISTEN_URL: /);
  assert.equal(loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app@db/x?sslmode=disable' }).databaseUrl, 'postgres://app@db/x?sslmode=disable');
  // A password given as libpq's query parameter is masked too.
  assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app@db:notaport/x?sslmode=require&password=hunter2' }), (error: Error) => !error.message.includes('hunter2') && /password=\*\*\*/.test(error.message));
  // A password with characters that need encoding is masked whole (it is what the message is about).
  assert.throws(() => loadConfig({ ...key, TOLLGATE_DATABASE_URL: 'postgres://app:pa/ss@w0rd@db:notaport/x' }), (error: Error) => !error.message.includes('pa/ss') && !error.message.includes('w0rd') && /app:\*\*\*@db:notaport/.test(error.message));
  // Unix-socket URLs (no host; Cloud SQL's form) are read as node-postgres reads them.
  for (const url of ['postgres://app:pw@/tollgate?host=/var/run/postgresql', 'postgresql://u:p@/db?host=/cloudsql/project:region:instance', 'postgres:///db?host=/tmp']) {
    assert.equal(loadConfig({ ...key, TOLLGATE_DATABASE_URL: url }).databaseUrl, url);
  }
});

test('a start refused for any variable leaves no generated secret.key behind (the next start would load it without its warning)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
  try {
    const env = { TOLLGATE_DATABASE_URL: `sqlite:${join(dir, 'tollgate.db')}` };
    assert.throws(() => loadConfig({ ...env, TOLLGATE_PROCESSING_FEE_USD_PER_MTOK: '2500.01' }), /at most 2500/);
    assert.throws(() => loadConfig({ ...env, TOLLGATE_BOOTSTRAP_API_KEY: 'short' }), /at least 32 characters/);
    assert.equal(existsSync(join(dir, 'secret.key')), false);
    assert.equal(loadConfig(env).masterKeySource, 'generated');
    assert.equal(loadConfig(env).masterKeySource, 'file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on/off variables take on/off, 1/0, true/false, yes/no in any case; anything else is refused, never read as off', () => {
  assert.equal(loadConfig({ ...base, TOLLGATE_BILLING: 'on' }).billing, true);
  assert.equal(loadConfig({ ...base, TOLLGATE_BILLING: 'TRUE' }).billing, true);
  assert.equal(loadConfig({ ...base, TOLLGATE_BILLING: '1' }).billing, true);
  assert.equal(loadConfig({ ...base, TOLLGATE_BILLING: '' }).billing, false);
  assert.equal(loadConfig({ ...base, TOLLGATE_ALLOW_PRIVATE_UPSTREAMS: 'yes' }).allowPrivateUpstreams, true);
  assert.equal(loadConfig({ ...base, TOLLGATE_ACCESS_LOG: 'no' }).observability.accessLog, false);
  assert.equal(loadConfig(base).observability.accessLog, true);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_BILLING: 'enabled' }), /TOLLGATE_BILLING must be on or off \(also 1\/0, true\/false, yes\/no\), got "enabled"/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_LOG_BODIES: '2' }), /TOLLGATE_LOG_BODIES must be on or off/);
});

test('an empty TOLLGATE_HOST is loopback, not every interface; ports and durations are plain decimal numbers a timer can hold', () => {
  assert.equal(loadConfig({ ...base, TOLLGATE_HOST: '' }).host, '127.0.0.1');
  assert.equal(loadConfig({ ...base, TOLLGATE_HOST: '0.0.0.0' }).host, '0.0.0.0');
  for (const port of ['0x25a2', '1e3', '80.0', '-1', '65536']) assert.throws(() => loadConfig({ ...base, TOLLGATE_API_PORT: port }), /TOLLGATE_API_PORT must be a port number/, port);
  // An env file written on Windows: the CR is not part of the number (and a refusal shows it).
  assert.deepEqual([loadConfig({ ...base, TOLLGATE_API_PORT: '9090\r' }).apiPort, loadConfig({ ...base, TOLLGATE_SHUTDOWN_GRACE_MS: ' 3000\r' }).shutdownGraceMs], [9090, 3000]);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_STREAM_TIMEOUT_MS: '9e5\r' }), /got "9e5\\r"/);
  // Longer than node's timers hold (~24.8 days), the grace would end at once.
  assert.throws(() => loadConfig({ ...base, TOLLGATE_SHUTDOWN_GRACE_MS: '2147483648' }), /TOLLGATE_SHUTDOWN_GRACE_MS must be a whole number from 1 to 2147483647/);
  assert.equal(loadConfig({ ...base, TOLLGATE_SHUTDOWN_GRACE_MS: '2147483647' }).shutdownGraceMs, 2_147_483_647);
});

test('a whitespace-only value is refused at start naming its variable, for every variable (empty stays unset)', () => {
  // Read as given, these would be a metrics token of a space, a journal file named " ", a service name of a tab.
  for (const [name, value] of [['TOLLGATE_METRICS_TOKEN', ' '], ['TOLLGATE_JOURNAL_PATH', ' '], ['OTEL_SERVICE_NAME', '\t'], ['TOLLGATE_HOST', '\r'], ['TOLLGATE_API_PORT', '  '],
    ['TOLLGATE_LOG_LEVEL', ' '], ['TOLLGATE_PROCESSING_FEE_USD_PER_MTOK', ' '], ['TOLLGATE_STRIPE_SECRET_KEY', ' '], ['TOLLGATE_PROVIDER_OPENAI_BASE_URL', ' ']] as const) {
    assert.throws(() => loadConfig({ ...base, [name]: value }), { message: `${name} holds only whitespace (${JSON.stringify(value)}); give it a value, or leave it empty or unset for the default` }, name);
    assert.doesNotThrow(() => loadConfig({ ...base, [name]: '' }), name);
  }
  // The commands that open the store without a whole config: " " would be a SQLite file of that name.
  assert.throws(() => databaseUrlFrom({ TOLLGATE_DATABASE_URL: ' ' }), /^Error: TOLLGATE_DATABASE_URL holds only whitespace/);
  assert.throws(() => databaseSilenceMsFrom({ TOLLGATE_DATABASE_SILENCE_MS: ' ' }), /^Error: TOLLGATE_DATABASE_SILENCE_MS holds only whitespace/);
  // A variable Tollgate does not read is only warned about, whatever it holds.
  assert.match(loadConfig({ ...base, TOLLGATE_BILING: ' ' }).warnings.join('\n'), /TOLLGATE_BILING is not a Tollgate setting/);
});

test('a refused provider base URL is not repeated with its password', () => {
  for (const value of ['ftp://user:s3cret@proxy.example/v1', 'user:s3cret@proxy.example/v1', 'ftp://user:p@ss:s3cret@host:99999/v1']) {
    assert.throws(() => loadConfig({ ...base, TOLLGATE_PROVIDER_OPENAI_BASE_URL: value }), (e: Error) => e.message.includes('not repeated') && !e.message.includes('s3cret'), value);
  }
});

test('TOLLGATE_METRICS_BALANCE_ACCOUNTS is plain decimal digits (0 = no balance series); anything else is refused naming it', () => {
  assert.equal(loadConfig(base).observability.metricsBalanceAccounts, 100);
  assert.equal(loadConfig({ ...base, TOLLGATE_METRICS_BALANCE_ACCOUNTS: '0' }).observability.metricsBalanceAccounts, 0);
  assert.equal(loadConfig({ ...base, TOLLGATE_METRICS_BALANCE_ACCOUNTS: '250\r' }).observability.metricsBalanceAccounts, 250);
  for (const bad of ['1e3', '0x10', '12.0', '-1', '+5', '5 accounts', 'all']) {
    assert.throws(() => loadConfig({ ...base, TOLLGATE_METRICS_BALANCE_ACCOUNTS: bad }), new RegExp(`^Error: TOLLGATE_METRICS_BALANCE_ACCOUNTS must be a whole number of accounts \\(0 = no balance series\\), got ${JSON.stringify(bad).replace(/[+.]/g, '\\$&')}$`), bad);
  }
});

test('URL-valued variables must be absolute http(s) URLs, refused at start naming the variable (a password never repeated)', () => {
  const names = ['TOLLGATE_STRIPE_API_BASE_URL', 'TOLLGATE_PUBLIC_API_URL', 'TOLLGATE_CHECKOUT_SUCCESS_URL', 'TOLLGATE_CHECKOUT_CANCEL_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  for (const name of names) {
    for (const bad of ['not a url', 'api.example.com', 'ftp://files.example.com/', 'localhost:4318']) {
      assert.throws(() => loadConfig({ ...base, [name]: bad }), new RegExp(`^Error: ${name} must be .*http\\(s\\) URL.*, got "${bad}"$`), `${name}=${bad}`);
    }
    assert.throws(() => loadConfig({ ...base, [name]: 'user:s3cret@example.com' }), (e: Error) => e.message.startsWith(name) && !e.message.includes('s3cret'), name);
  }
  const good = loadConfig({
    ...base, TOLLGATE_STRIPE_API_BASE_URL: 'http://127.0.0.1:12111', TOLLGATE_PUBLIC_API_URL: 'HTTPS://Tollgate.Example.com/api/',
    TOLLGATE_CHECKOUT_SUCCESS_URL: 'https://console.example/credits?ok=1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
  });
  assert.deepEqual([good.stripeApiBaseUrl, good.publicApiUrl, good.checkoutSuccessUrl, good.observability.otlpTracesUrl], [
    'http://127.0.0.1:12111', 'https://tollgate.example.com/api', 'https://console.example/credits?ok=1', 'http://collector:4318/v1/traces',
  ]);
  // The Stripe SDK takes a host and port only: a path would be dropped without a word.
  assert.throws(() => loadConfig({ ...base, TOLLGATE_STRIPE_API_BASE_URL: 'http://127.0.0.1:12111/v1' }), /TOLLGATE_STRIPE_API_BASE_URL must be a scheme, host and port only/);
  // Answers' uris are built on the public URL: a query or credentials would be copied into every link.
  assert.throws(() => loadConfig({ ...base, TOLLGATE_PUBLIC_API_URL: 'https://api.example.com/?x=1' }), /TOLLGATE_PUBLIC_API_URL must be a base URL without credentials, query or fragment/);
});

test('Stripe Checkout returns to the console: at TOLLGATE_PUBLIC_API_URL when set, else the API port on this host, unless set itself', () => {
  const urls = (env: Record<string, string>) => { const c = loadConfig({ ...base, ...env }); return [c.checkoutSuccessUrl, c.checkoutCancelUrl]; };
  assert.deepEqual(urls({}), ['http://127.0.0.1:8081/?checkout=success', 'http://127.0.0.1:8081/?checkout=cancel']);
  assert.deepEqual(urls({ TOLLGATE_API_PORT: '9091' }), ['http://127.0.0.1:9091/?checkout=success', 'http://127.0.0.1:9091/?checkout=cancel']);
  // Listening on every interface: loopback reaches it, 0.0.0.0 is no address a browser opens.
  assert.equal(urls({ TOLLGATE_HOST: '0.0.0.0', TOLLGATE_API_PORT: '9091' })[0], 'http://127.0.0.1:9091/?checkout=success');
  assert.equal(urls({ TOLLGATE_HOST: '::1' })[0], 'http://[::1]:8081/?checkout=success');
  assert.equal(urls({ TOLLGATE_HOST: '10.0.0.5' })[0], 'http://10.0.0.5:8081/?checkout=success');
  assert.deepEqual(urls({ TOLLGATE_PUBLIC_API_URL: 'https://tollgate.example.com/', TOLLGATE_API_PORT: '9091' }), ['https://tollgate.example.com/?checkout=success', 'https://tollgate.example.com/?checkout=cancel']);
  assert.deepEqual(urls({ TOLLGATE_PUBLIC_API_URL: 'https://tollgate.example.com', TOLLGATE_CHECKOUT_SUCCESS_URL: 'https://shop.example/ok', TOLLGATE_CHECKOUT_CANCEL_URL: 'https://shop.example/no' }), ['https://shop.example/ok', 'https://shop.example/no']);
});

test('variables that change nothing (misspelt, unknown, a managed key no step uses) are warned about by name, never by value', () => {
  assert.deepEqual(loadConfig({ ...base, TOLLGATE_BILLING: 'on', TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-x', TOLLGATE_PROVIDER_GROQ_BASE_URL: 'http://127.0.0.1:9/v1', TOLLGATE_SECRET_KEY_NEW: 'b'.repeat(64), PATH: '/bin' }).warnings, []);
  const { warnings } = loadConfig({ ...base, TOLLGATE_BILING: 'on', TOLLGATE_PROVIDER_OPENAI_API_KEY: 'sk-s3cret', TOLLGATE_MANAGED_GROQ_API_KEY: 'gsk-s3cret' });
  assert.deepEqual(warnings, [
    'TOLLGATE_BILING is not a Tollgate setting and is ignored (did you mean TOLLGATE_BILLING?); README.md lists the settings',
    'TOLLGATE_PROVIDER_OPENAI_API_KEY is not a Tollgate setting and is ignored; README.md lists the settings',
    'TOLLGATE_MANAGED_GROQ_API_KEY is ignored: Groq is not served with managed keys (routing steps of type ngrok reach OpenAI, Anthropic, Google, DeepSeek, Moonshot AI, Z.ai, xAI, MiniMax, QwenCloud)',
  ]);
  assert.ok(!warnings.join('\n').includes('s3cret'));
  // On any free port the return page is unknown until bound: Stripe Checkout would send buyers nowhere.
  assert.match(loadConfig({ ...base, TOLLGATE_API_PORT: '0', TOLLGATE_STRIPE_SECRET_KEY: 'sk_test_x' }).warnings.join('\n'), /TOLLGATE_API_PORT is 0 \(any free port\), so Stripe Checkout has no page to send buyers back to/);
  assert.deepEqual(loadConfig({ ...base, TOLLGATE_API_PORT: '0', TOLLGATE_STRIPE_SECRET_KEY: 'sk_test_x', TOLLGATE_PUBLIC_API_URL: 'https://t.example' }).warnings, []);
  // Given as `--api-port 0`, the warning names the flag typed, not a variable never set.
  assert.match(loadConfig({ ...base, TOLLGATE_STRIPE_SECRET_KEY: 'sk_test_x' }, { apiPort: 0 }).warnings.join('\n'), /^--api-port is 0 \(any free port\), so Stripe Checkout/m);
});

test('README.md documents every variable Tollgate reads', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const names = [...KNOWN_VARIABLES, 'TOLLGATE_PROVIDER_<ID>_BASE_URL', 'TOLLGATE_MANAGED_<ID>_API_KEY', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SERVICE_NAME'];
  assert.deepEqual(names.filter((name) => !readme.includes(`\`${name}`)), []);
});

test('TOLLGATE_FIREWALL_DECISION_MODEL: a cataloged model of a provider served with managed keys whose key is set, or no start', () => {
  const key = { TOLLGATE_MANAGED_OPENAI_API_KEY: 'sk-operator' };
  assert.equal(loadConfig(base).firewallDecision, undefined);
  assert.deepEqual(loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini' }).firewallDecision, { provider: 'openai', model: 'gpt-4o-mini', timeoutMs: 5000 });
  assert.equal(loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini', TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS: '2000' }).firewallDecision?.timeoutMs, 2000);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini' }), /TOLLGATE_FIREWALL_DECISION_MODEL names the OpenAI model "gpt-4o-mini", and TOLLGATE_MANAGED_OPENAI_API_KEY is not set/);
  assert.throws(() => loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'gpt-4o-mini' }), /must be <provider>:<model> \(as openai:gpt-4o-mini\), got "gpt-4o-mini"/);
  assert.throws(() => loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'openia:gpt-4o-mini' }), /names no built-in provider \("openia"\); the decision model is called with the operator's managed key, so its provider is one of openai, /);
  assert.throws(() => loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'groq:llama-3.1-8b-instant' }), /names Groq, which is not served with managed keys/);
  assert.throws(() => loadConfig({ ...base, TOLLGATE_MANAGED_ANTHROPIC_API_KEY: 'sk-ant', TOLLGATE_FIREWALL_DECISION_MODEL: 'anthropic:claude-haiku-4-5' }), /Anthropic, whose chat completions API is a compatibility layer that ignores response_format/);
  assert.throws(() => loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-minii' }), /names "gpt-4o-minii", a model OpenAI's catalog does not list/);
  assert.throws(() => loadConfig({ ...base, ...key, TOLLGATE_FIREWALL_DECISION_MODEL: 'openai:gpt-4o-mini', TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS: '0' }), /TOLLGATE_FIREWALL_DECISION_TIMEOUT_MS must be a whole number from 1 to 120000/);
});
