// The composition root: opens the store, bootstraps the first account, and starts the planes asked for.
// It is the only module that knows both the control plane and the gateway.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { createLogger } from './config/logger.ts';
import { SecretBox } from './domain/secret-box.ts';
import { PlaygroundTokens } from './domain/playground-token.ts';
import { databaseIdentity, openStore, parseDatabaseUrl, type Store } from './store/database.ts';
import { readableByOthers, unusableFileError } from './store/private-file.ts';
import { bootstrapAccount, isApiKeyToken } from './store/accounts.ts';
import { ChangeBus } from './state/changes.ts';
import type { RouteExtension } from './control/app.ts';
import { GatewayState } from './state/gateway-state.ts';
import { listenError } from './http/listen-error.ts';
import { createCatalog } from './catalog/index.ts';
import { insertUsageEvents, isRowRefusal } from './store/usage-events.ts';
import { UsageJournal } from './usage/journal.ts';
import { CreditLedger } from './usage/ledger.ts';
import { balanceAndLapse, balancePico } from './store/credits.ts';
import { startStateChangesPruning } from './store/state-changes.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { readFileSync } from 'node:fs';
import { metricsAccess, METRICS_HEADERS, METRICS_REFUSALS } from './http/metrics-access.ts';

export type Plane = 'gateway' | 'api';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningTollgate {
  store: Store;
  logger: Logger;
  apiUrl?: string;
  gatewayUrl?: string;
  controlApp?: FastifyInstance;
  /** Set when this start created the first account. */
  bootstrap?: { accountId: string; apiKeyToken: string; generated: boolean };
  stop(): Promise<void>;
}

/**
 * The SQLite database, the embedded default's key file and (for a gateway) the usage journal with its logs, when other
 * local users can read them.
 */
function warnIfReadableByOthers(config: Config, planes: readonly Plane[], logger: Logger): void {
  const database = parseDatabaseUrl(config.databaseUrl);
  const paths = database.dialect === 'sqlite' && database.path !== ':memory:' ? [database.path] : [];
  if (planes.includes('gateway')) paths.push(...journalFiles(config.journalPath));
  const files = readableByOthers(paths);
  if (files.length > 0) logger.warn({ files }, 'data files other users on this machine can read or change (accounts, key hashes, usage): make them owner-only, e.g. chmod 600');
  // The embedded default's master key (and the old one a rotation keeps): with a copy of the database, it opens every
  // provider key. Made 0600, but a restore or a copy under the default umask leaves it open to all.
  const keys = config.masterKeyFile === undefined ? [] : readableByOthers([config.masterKeyFile, `${config.masterKeyFile}.previous`]);
  if (keys.length > 0) logger.warn({ files: keys }, 'master key files other users on this machine can read or change (with a copy of the database they open every provider key): make them owner-only, e.g. chmod 600');
}

/** The journal's files: its lock file, other processes' slots (`.1`…), their log segments, the refused events. */
function journalFiles(journalPath: string): string[] {
  try {
    const name = basename(journalPath);
    const ours = (f: string): boolean => f === name || f.startsWith(`${name}.`) || f.startsWith(`${name}-`);
    return readdirSync(dirname(journalPath)).filter(ours).map((f) => join(dirname(journalPath), f));
  } catch {
    return [journalPath];
  }
}

/**
 * `onBootstrap` hears of the first account the moment it is created, before any port is bound: its generated
 * API key is shown only once, so a start that fails afterwards (a port in use) must not take it along.
 * `keyCooldownClock`: the clock rate-limited provider keys cool on (key-cooldown.ts), monotonic milliseconds; a test's
 * own makes their wait pass without waiting it.
 */
export async function startTollgate(config: Config, options: { planes?: readonly Plane[]; logger?: Logger; onBootstrap?: (bootstrap: NonNullable<RunningTollgate['bootstrap']>) => void; keyCooldownClock?: () => number } = {}): Promise<RunningTollgate> {
  const planes = options.planes ?? ['gateway', 'api'];
  if (planes.length === 2 && config.gatewayPort === config.apiPort && config.gatewayPort !== 0) {
    throw new Error(`${config.listenSettingNames.gatewayPort} and ${config.listenSettingNames.apiPort} are both ${config.gatewayPort}: the two planes need a port each`);
  }
  const logger = options.logger ?? createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);
  const store = await openStore(config.databaseUrl, { silentConnectionMs: config.databaseSilenceMs });
  const secretBox = new SecretBox(config.masterKey);
  const changes = new ChangeBus(store.db);
  const running: RunningTollgate = { store, logger, stop: async () => {} };

  const created = await bootstrapAccount(store.db, 'default', config.bootstrapApiKey);
  if (created) {
    running.bootstrap = { accountId: created.account.id, apiKeyToken: created.apiKey.token, generated: config.bootstrapApiKey === undefined };
    options.onBootstrap?.(running.bootstrap);
  } else if (config.bootstrapApiKey !== undefined && !(await isApiKeyToken(store.db, config.bootstrapApiKey))) {
    // Set on a database that already had accounts, it was never stored: said once here, not as a 401 to puzzle over.
    logger.warn('TOLLGATE_BOOTSTRAP_API_KEY is not an API key of this database and was ignored: it is used only on the first start of an empty database (a lost key: `tollgate accounts list`, then `tollgate api-keys create --account ID`)');
  }

  warnIfReadableByOthers(config, planes, logger);
  // Said at every start: since on/off values are read strictly, `on`/`yes`/`TRUE` (once ignored) turn this on too.
  if (config.allowPrivateUpstreams && planes.includes('gateway')) logger.warn('TOLLGATE_ALLOW_PRIVATE_UPSTREAMS is on: custom providers may point at loopback and private addresses (no SSRF protection); keep it off unless every account is trusted');

  const closers: (() => Promise<void>)[] = [];
  try {
    await startPlanes(config, planes, { store, logger, secretBox, changes, running, closers, keyCooldownClock: options.keyCooldownClock });
  } catch (error) {
    // A start that fails half-way (a port in use) leaves nothing listening or open behind it.
    for (const close of closers.reverse()) await close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
  running.stop = async () => {
    // Every closer runs even when one before it fails: a failing one must not leave the journal unshipped or the
    // store open.
    let failure: unknown;
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        failure ??= error;
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'a part of Tollgate failed to stop cleanly; stopping the rest');
      }
    }
    await store.close();
    logger.flush?.();
    if (failure !== undefined) throw failure;
  };
  return running;
}

interface PlaneContext {
  store: Store; logger: Logger; secretBox: SecretBox; changes: ChangeBus; running: RunningTollgate; closers: (() => Promise<void>)[];
  keyCooldownClock: (() => number) | undefined;
}

async function startPlanes(config: Config, planes: readonly Plane[], { store, logger, secretBox, changes, running, closers, keyCooldownClock }: PlaneContext): Promise<void> {
  // One registry per process: the API port serves it, and so does the gateway port when asked to. Gateway
  // series are registered when the gateway plane starts (below); a scrape reads whatever is registered.
  const registry = new Registry();
  // Event-loop lag sampled every 100 ms, not prom-client's 10: at 10 ms the sampling timer alone was about half
  // of an idle gateway's CPU, and lag that matters (GC pauses, blocking work) still shows at 100.
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_', eventLoopMonitoringPrecision: 100 });
  const metricsRoute: RouteExtension = (app) => {
    app.get('/metrics', async (request, reply) => {
      const access = metricsAccess(request.raw, config.observability.metricsToken);
      if (access !== 'allowed') {
        const { status, text, headers } = METRICS_REFUSALS[access];
        return reply.code(status).headers({ ...headers, ...METRICS_HEADERS }).type('text/plain').send(text);
      }
      return reply.headers(METRICS_HEADERS).type(registry.contentType).send(await registry.metrics());
    });
  };
  if (planes.includes('api')) {
    // Each plane's modules load only in a process that runs it: a gateway-only node never holds the control
    // plane's HTTP framework, compiled contract and payment SDK (tens of MB of a process's memory).
    const [{ buildControlApp }, { handlerFactories, routeExtensions }] = await Promise.all([import('./control/app.ts'), import('./control/index.ts')]);
    // The gateway's bound address, once it listens in this process: the console's Playground default on port 0.
    const app = await buildControlApp({ store, config, secretBox, changes, logger, gatewayUrl: () => running.gatewayUrl }, handlerFactories, [...routeExtensions, metricsRoute]);
    const address = await app.listen({ host: config.host, port: config.apiPort }).catch((error: unknown) => { throw listenError(error, config.listenSettingNames.apiPort, config.listenSettingNames.host, config.host, config.apiPort); });
    running.controlApp = app;
    running.apiUrl = address;
    closers.push(() => app.close());
    // Housekeeping owned by the api plane (idempotent, so several api processes may all run it).
    closers.push(startStateChangesPruning(store.db, logger));
  }

  if (planes.includes('gateway')) {
    const [{ startGatewayServer }, { createGatewayObserver }, { Upstreams }, { deploymentLoopId }, { CaptureWriter }, { insertRequestCaptures, deleteExpiredCaptures }, { KeyCooldowns }] = await Promise.all([
      import('./gateway/server.ts'), import('./gateway/observe/setup.ts'), import('./gateway/upstream.ts'), import('./gateway/routing-loop.ts'),
      import('./usage/capture-writer.ts'), import('./store/request-captures.ts'), import('./gateway/key-cooldown.ts'),
    ]);
    const keyCooldowns = new KeyCooldowns(keyCooldownClock);
    // The gauge's figure, billing on or off: the store's less the events journaled and not yet shipped (they were
    // debited already), read after each snapshot reload — a grant, any change, the minute's resync — so an idle
    // account's series follows grants and other nodes' spending too. With billing on, the credit ledger's reads (each
    // second of a busy account's requests on PostgreSQL) refresh it as well. Read from the store alone, a reload
    // ~0.1 s after a request put its cost back.
    let journal: UsageJournal | undefined;
    const gaugeBalance = async (accountId: string): Promise<bigint> => {
      const unshipped = journal;
      const read = () => balancePico(store.db, accountId);
      if (!unshipped) return read();
      // Between shipments when it can (the minute's resync reads every account: it must not hold shipping up),
      // behind them after a few tries.
      for (let i = 0; i < 3; i++) {
        const balance = await unshipped.balanceBetweenShipments(accountId, read);
        if (balance !== undefined) return balance;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return unshipped.exclusive(async () => (await read()) - unshipped.unshippedPico(accountId));
    };
    const state = new GatewayState({ store, secretBox, changes, logger, readBalance: gaugeBalance, playgroundTokens: new PlaygroundTokens(config.masterKey), ...(config.databaseListenUrl ? { listenUrl: config.databaseListenUrl } : {}) });
    await state.start();
    // Closers run last pushed first: no new requests (the gateway), every recorded usage event in the store (the
    // journal), the last spans exported (the observer), then the state. A start failing half-way closes what it opened.
    closers.push(() => state.close());
    // After the journal: exporting the last spans to a collector that is down or silent (seconds of retries, then a
    // rejection) must not keep usage from being shipped.
    let observerClose: (() => Promise<void>) | undefined;
    closers.push(async () => { await observerClose?.(); });
    const owner = await databaseIdentity(store.db);
    let usage: UsageJournal;
    try {
      usage = new UsageJournal({ path: config.journalPath, owner, write: (events) => insertUsageEvents(store.db, events), isRefusal: isRowRefusal, logger });
    } catch (error) {
      throw unusableFileError(error, 'the usage journal', config.journalPath, 'set TOLLGATE_JOURNAL_PATH to a file in a directory this user can write, on a persistent disk');
    }
    journal = usage;
    closers.push(() => usage.close());
    // On PostgreSQL other gateway processes may spend the same credit: their shipped spending is read back
    // within a second of an account's next request. A SQLite gateway is the only one spending its accounts'.
    const ledger = config.billing
      ? new CreditLedger({ journal: usage, readBalance: async (accountId) => {
        // With when a grant in it expires: the ledger reads it again then (a lapsed grant admits nothing more).
        const read = await balanceAndLapse(store.db, accountId);
        return { balance: read.pico, lapsesAt: read.nextExpiry === null ? undefined : Date.parse(read.nextExpiry) };
      }, onBalance: (accountId, pico) => state.setBalance(accountId, pico), logger, ...(store.dialect === 'postgres' ? { refreshMs: 1000 } : {}) })
      : undefined;
    // A gateway-only process has no API port to serve /metrics: its gateway port does, or its series are nowhere.
    const observability = planes.includes('api') ? config.observability : { ...config.observability, metricsOnGateway: true };
    const observer = await createGatewayObserver(observability, registry, logger, {
      usageBacklog: () => usage.pending,
      usageRefused: () => usage.refused,
      // The snapshots' figures: the store's balance as of the last reload, then debited by each request here.
      balances: () => state.accounts(),
      keysCooling: () => keyCooldowns.cooling(),
      listenDeaf: () => (state.listenDeaf ? 1 : 0),
    }, VERSION);
    observerClose = () => observer.close();
    // Request capture: written by the gateway that captured, which also deletes expired captures — the plane that
    // makes the table grow keeps it bounded, whether or not an api process runs beside it (each node's delete is
    // idempotent). Closed after the gateway (closers run last pushed first), so an exchange finished before the stop
    // is written.
    const captures = new CaptureWriter({
      box: secretBox, maxBytes: config.requestCaptureMaxBytes, retentionMs: config.requestCaptureRetentionMs, logger,
      write: (rows) => insertRequestCaptures(store.db, rows), deleteExpired: (now) => deleteExpiredCaptures(store.db, now),
    });
    closers.push(() => captures.close());
    const loopId = deploymentLoopId(config.masterKey);
    const upstreams = new Upstreams({
      connectionsPerOrigin: config.upstreamConnections, loopId, allowPrivate: config.allowPrivateUpstreams,
      bedrockRoles: { stsEndpoint: config.awsStsEndpoint, stsRegion: config.awsStsRegion, logger },
    });
    state.onReload((before, now) => {
      upstreams.providerKeysReloaded(before.providerKeys, now.providerKeys);
      keyCooldowns.providerKeysReloaded(before.providerKeys, now.providerKeys);
    });
    const gateway = await startGatewayServer({
      state, usage, logger, observer, captures, keyCooldowns, ...(ledger ? { ledger } : {}),
      catalog: createCatalog(config.providerBaseUrls),
      upstreams,
      options: {
        maxBodyBytes: config.maxBodyBytes, managedKeys: config.managedKeys,
        processingFeeMicroUsdPerMtok: config.processingFeeMicroUsdPerMtok, mcpCallFeeMicroUsd: config.mcpCallFeeMicroUsd, loopId,
        clientHeadersTimeoutMs: config.clientHeadersTimeoutMs, clientRequestTimeoutMs: config.clientRequestTimeoutMs,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs, streamTimeoutMs: config.streamTimeoutMs,
        realtime: { maxSessions: config.realtimeMaxSessions, idleTimeoutMs: config.realtimeIdleTimeoutMs, maxDurationMs: config.realtimeMaxDurationMs },
        ...(config.firewallDecision ? { firewallDecision: config.firewallDecision } : {}),
      },
    }, config.host, config.gatewayPort).catch((error: unknown) => { throw listenError(error, config.listenSettingNames.gatewayPort, config.listenSettingNames.host, config.host, config.gatewayPort); });
    running.gatewayUrl = gateway.url;
    // As the control plane's framework logs its own address: a JSON-log collector sees both binds.
    logger.info({ url: gateway.url }, 'gateway listening');
    closers.push(() => gateway.close(config.shutdownGraceMs));
  }
}
