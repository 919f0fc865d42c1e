// Opens the store named by a database URL (SQLite file or PostgreSQL) as one Kysely instance and runs
// the migrations. Everything above this file is dialect-agnostic.
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { CamelCasePlugin, CompiledQuery, Kysely, PostgresAdapter, PostgresDialect, sql, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import type { Database } from './schema.ts';
import { migrations } from './migrations.ts';
import { settledWithin } from '../domain/settled.ts';
import { ensurePrivateFile, unusableFileError } from './private-file.ts';
import { errorReason } from '../domain/error-reason.ts';
import { withKeptStatements } from './statement-cache.ts';

export type Dialect = 'sqlite' | 'postgres';

/** Longest close() waits for PostgreSQL connections still in use. */
const POOL_END_WAIT_MS = 2_000;
/** Default for `silentConnectionMs`. */
const SILENT_CONNECTION_MS = 15_000;

/**
 * Sockets for the pool that destroy themselves after `ms` without a byte either way. A partition leaves a query
 * sent and never answered: TCP retransmits for ~15 minutes before giving up, and meanwhile that connection (back
 * in the pool, its query still pending) holds every query that lands on it — change polls, key lookups, usage
 * shipments — long after the network healed. Destroyed, it fails its query and the pool replaces it. Idle pooled
 * connections close after 10 s anyway, so only a silent query is cut.
 */
function silenceLimitedSocket(ms: number): () => Socket {
  return () => {
    const socket = new Socket();
    socket.setTimeout(ms, () => socket.destroy(new Error(`PostgreSQL connection silent for ${ms} ms`)));
    return socket;
  };
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The URL connections are made with (on PostgreSQL, with its `sslmode` read as libpq reads it). */
  readonly url: string;
  /** The raw SQLite handle (for `PRAGMA data_version` polling); undefined on PostgreSQL. */
  readonly sqlite?: BetterSqlite3.Database;
  /** A pg pool, undefined on SQLite. */
  readonly pool?: pg.Pool;
  close(): Promise<void>;
}

export interface ParsedDatabaseUrl { dialect: Dialect; path: string; url: string }

/**
 * A PostgreSQL URL's `sslmode` means what it means to libpq, psql and every provider's connection string:
 * `require` encrypts without checking the server's certificate (with `sslrootcert`, checks it is signed by that CA),
 * `verify-ca` checks the CA, `verify-full` the CA and the host name. node-postgres 8 reads `require` and `verify-ca`
 * as `verify-full` unless the URL says `uselibpqcompat=true`, so a managed database's self-signed or private-CA
 * certificate (Heroku, RDS without its bundle) that psql accepts with the same URL would refuse every connection.
 * Only those modes (and `prefer`, which then also skips the check) are rewritten: `disable` and `verify-full` mean the
 * same either way, and `no-verify` is node-postgres's own (encrypt, no check), which libpq mode would not know.
 * `allow` (plain first, TLS if refused) node-postgres cannot do: refused with a message rather than read as another
 * mode. A URL that sets `uselibpqcompat` itself is taken as it is.
 */
function withLibpqSslModes(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  const mode = params.get('sslmode');
  if (mode === null || params.has('uselibpqcompat')) return url;
  if (mode === 'allow') throw new Error('sslmode=allow is not supported in the database URL: use sslmode=disable, require or verify-full');
  // libpq refuses a mode it does not know; node-postgres would read it as "no TLS" without a word.
  if (!SSL_MODES.has(mode)) throw new Error(`sslmode=${mode} in the database URL is not an sslmode: use disable, prefer, require, verify-ca or verify-full`);
  return mode === 'require' || mode === 'verify-ca' || mode === 'prefer' ? `${url}&uselibpqcompat=true` : url;
}

const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']);

/**
 * A URL fit for an error message: its password, if any, masked — up to the last `@`, since a password that needs
 * percent-encoding (the very mistake the message is about) may hold `/` or `@` itself.
 */
export function maskedUrl(url: string): string {
  // libpq also takes the password as a query parameter (`?password=…`).
  const masked = url.replace(/([?&]password=)[^&#]*/gi, '$1***');
  const start = masked.indexOf('://');
  if (start < 0) return masked;
  const at = masked.lastIndexOf('@');
  const colon = masked.indexOf(':', start + 3);
  if (at < 0 || colon < 0 || colon > at) return masked;
  return `${masked.slice(0, colon + 1)}***${masked.slice(at)}`;
}

/**
 * `sqlite:relative/file.db`, `sqlite:///abs/file.db`, a bare path, or `postgres://…` (its `sslmode` read as libpq
 * reads it). Any other scheme is refused: read as a path, `mysql://host/db` or a typo such as `postgress://` made a
 * new embedded database (a new account, a new key) beside the process without a word.
 */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  if (/^postgres(ql)?:\/\//.test(url)) {
    // A socket URL has no host (`postgres://user:pass@/db?host=/var/run/postgresql`, Cloud SQL's): node-postgres reads
    // it with a stand-in host, and so is it checked here.
    // An `@` past the host (`user:p@ss/word@db/x`) is a password holding `@` and `/` unencoded: parsed, its first `@`
    // ends it and a piece of it is the host, which the connection error then prints (`getaddrinfo ENOTFOUND ss`).
    const afterScheme = url.slice(url.indexOf('://') + 3).split(/[?#]/)[0]!;
    const hostEnd = afterScheme.search(/\//);
    if (!URL.canParse(url.replace(/@\//, '@localhost/')) || (hostEnd >= 0 && afterScheme.slice(hostEnd).includes('@'))) {
      throw new Error(`"${maskedUrl(url)}" is not a valid postgres:// URL (check the port, and percent-encode special characters in the password)`);
    }
    return { dialect: 'postgres', path: '', url: withLibpqSslModes(url) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  if (scheme !== undefined && scheme !== 'sqlite') {
    throw new Error(`"${maskedUrl(url)}" is not a database URL Tollgate reads: use sqlite:PATH (embedded) or postgres://… (scheme "${scheme}:" is not supported)`);
  }
  let path = url;
  if (url.startsWith('sqlite://')) path = url.slice('sqlite://'.length);
  else if (url.startsWith('sqlite:')) path = url.slice('sqlite:'.length);
  if (path === '') throw new Error(`invalid database URL "${url}"`);
  return { dialect: 'sqlite', path, url };
}

// int8 and numeric come back as strings from pg; the repositories convert them explicitly (schema.ts).
const sqliteHandles = new WeakMap<Kysely<Database>, BetterSqlite3.Database>();

/** The better-sqlite3 connection under a SQLite store, for the few hot writes that use cached prepared statements. */
export function sqliteHandle(db: Kysely<Database>): BetterSqlite3.Database | undefined {
  return sqliteHandles.get(db);
}

/**
 * Runs `read` as one consistent snapshot of the database: every query it makes sees the same committed state, so
 * a change another process commits between two of them is seen whole or not at all. Separate statements (each its
 * own snapshot, on PostgreSQL each on a pool connection of its own) could pair a configuration from after a commit
 * with the provider keys from before it. PostgreSQL: one REPEATABLE READ READ ONLY transaction (its snapshot is taken
 * at its first query); SQLite: one read transaction on the connection, which holds its WAL snapshot to the end.
 */
export function inOneSnapshot<T>(db: Kysely<Database>, read: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  const transaction = db.getExecutor().adapter instanceof PostgresAdapter
    ? db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
    : db.transaction();
  return transaction.execute(read);
}

/** Refuses a SQLite URL whose file does not exist (see openStore's `existing`); PostgreSQL says so itself. */
export function requireExistingDatabase(url: string): void {
  const parsed = parseDatabaseUrl(url);
  if (parsed.dialect === 'sqlite' && parsed.path !== ':memory:' && !existsSync(parsed.path)) {
    throw new Error(`no database at ${parsed.path}: check TOLLGATE_DATABASE_URL (or --database-url); \`tollgate start\` or \`tollgate migrate\` makes a new one`);
  }
}

/**
 * `silentConnectionMs`: how long a PostgreSQL connection may go without a byte while in use before it is dropped
 * (default 15 s; a query running longer without an answer fails). Migrations are not held to it.
 * `existing`: the administrative commands work on a database a server made; a mistyped path would otherwise give
 * them a new, empty one to report success on (`rotate-secret` re-sealing no key, then told to swap the key
 * everywhere: every real provider key undecryptable).
 */
export async function openStore(url: string, options: { migrate?: boolean; poolSize?: number; silentConnectionMs?: number; existing?: boolean } = {}): Promise<Store> {
  const parsed = parseDatabaseUrl(url);
  let store: Store;
  if (parsed.dialect === 'sqlite') {
    if (options.existing) requireExistingDatabase(url);
    const sqlite = openSqliteFile(parsed.path);
    const db = new Kysely<Database>({ dialect: new SqliteStoreDialect({ database: withKeptStatements(sqlite) }), plugins: [new CamelCasePlugin()] });
    sqliteHandles.set(db, sqlite);
    store = { db, dialect: 'sqlite', url, sqlite, close: () => db.destroy() };
  } else {
    // Loaded only here: a SQLite deployment never pays pg's ~10 MB of memory.
    const { default: driver } = await import('pg');
    parsed.url = await preferResolved(driver, parsed.url);
    // keepAlive: a connection whose peer vanished without a reset (a partition) is found dead by TCP, not never.
    const silence = options.silentConnectionMs ?? SILENT_CONNECTION_MS;
    // Migrated first: the check below needs a database that answers, and a start against one that does not fails here.
    if (options.migrate !== false) await migrateOverUnlimitedConnection(parsed.url, url);
    // The server ends a statement a second before the socket would be dropped: a statement waiting on a lock (a
    // migration building an index) is cancelled there and answers with an error, instead of living on in a
    // backend nobody reads — retries would otherwise pile such backends up to max_connections.
    const statementTimeout = Math.max(500, silence - 1000);
    const pool = new driver.Pool({
      connectionString: parsed.url, max: options.poolSize ?? 10, keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 15_000,
      stream: silenceLimitedSocket(silence),
      ...(await takesStatementTimeout(driver, parsed.url, statementTimeout) ? { statement_timeout: statementTimeout } : {}),
    });
    // A client losing its connection (database restart, failover, a reset by a pooler) must not crash the process:
    // the pool listens on idle clients only, and a client in use emits 'error' with no listener — an uncaught
    // exception. Its query fails on its own (its caller keeps serving the last snapshot, or retries).
    pool.on('error', () => {});
    pool.on('connect', (client) => { client.on('error', () => {}); });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
    // pool.end() waits for every client in use: one whose query a silent database never answers would keep a
    // stopping process alive for as long as TCP takes to give up (minutes). Its work is lost with it either way.
    store = { db, dialect: 'postgres', url: parsed.url, pool, close: async () => { await settledWithin(db.destroy(), POOL_END_WAIT_MS); } };
  }
  if (options.migrate !== false && store.sqlite) {
    // An in-memory database is this connection's alone: nobody to wait for, and another connection would not see it.
    if (parsed.path === ':memory:') await migrate(store);
    else await migrateSqlite(parsed.path);
  }
  return store;
}

/**
 * Whether the server takes `statement_timeout` as a connection parameter. PgBouncer (Supabase's and Neon's pooled
 * URLs among them) refuses a startup parameter it does not know — "unsupported startup parameter:
 * statement_timeout" — so every connection of the pool would be refused: behind one, the pool connects without it
 * (the pooler's own `query_timeout` is then the bound). Any other failure keeps it: the pool reports that itself.
 */
async function takesStatementTimeout(driver: typeof pg, url: string, ms: number): Promise<boolean> {
  const client = new driver.Client({ connectionString: url, statement_timeout: ms, connectionTimeoutMillis: 15_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch (error) {
    return !(error instanceof Error && /unsupported startup parameter/i.test(error.message));
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * libpq's `sslmode=prefer` (the default of psql and of many tools' connection strings): TLS when the server offers
 * it, a plain connection when it does not. node-postgres has no such fallback — it fails every connection with "The
 * server does not support SSL connections" — so one connection is tried first, and on that answer the URL is used
 * with `sslmode=disable`, as psql would end up. Any other outcome keeps the URL (the pool reports a real failure).
 */
export async function preferResolved(driver: typeof pg, url: string): Promise<string> {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const params = new URLSearchParams(url.slice(query + 1));
  if (params.get('sslmode') !== 'prefer') return url;
  const client = new driver.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return url;
  } catch (error) {
    if (!(error instanceof Error && /does not support SSL/i.test(error.message))) return url;
    params.set('sslmode', 'disable');
    // Added by withLibpqSslModes for prefer; meaningless without TLS.
    params.delete('uselibpqcompat');
    return `${url.slice(0, query)}?${params.toString()}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * SQLite's schema changes are transactional, but Kysely's SQLite adapter says they are not, so its migrator ran each
 * statement of a migration on its own: a process stopped in the middle (Ctrl-C during `tollgate migrate` or a first
 * start, a crash, a statement that failed) left half a migration behind and unrecorded, and every later start failed
 * on it ("table accounts already exists", "duplicate column name") until someone repaired the file by hand. Said
 * here, the migrator runs the pending migrations in one transaction, as on PostgreSQL: all of them, or none.
 * The migrator is the only reader of this property.
 */
class SqliteTransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class SqliteStoreDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new SqliteTransactionalDdlAdapter();
  }
}

/**
 * Its transactions take the write lock as they begin (`begin immediate`), waiting for it as long as the connection's
 * busy timeout allows. Kysely's `begin` is deferred: two processes first-starting one file each read that nothing was
 * migrated and then one was refused the write ("database is locked", WAL does not let a stale reader write), so a
 * concurrent first start failed (before the migrations were one transaction, they half-ran twice instead:
 * "table accounts already exists").
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class SqliteMigrationDialect extends SqliteStoreDialect {
  readonly #database: BetterSqlite3.Database;

  constructor(database: BetterSqlite3.Database) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database });
  }
}

/** The database file, made owner-only when new; one it cannot make or open is refused naming the setting to check. */
function openSqliteFile(path: string): BetterSqlite3.Database {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    if (path !== ':memory:') ensurePrivateFile(path);
    sqlite = new BetterSqlite3(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    return sqlite;
  } catch (error) {
    sqlite?.close();
    throw unusableFileError(error, 'the SQLite database', path, 'check TOLLGATE_DATABASE_URL (or --database-url), and that its directory is writable by this user');
  }
}

/** A peer process's migrations are waited for this long (a large table's new index takes a while), then refused. */
const SQLITE_MIGRATION_WAIT_MS = 60_000;

/**
 * SQLite migrations on a connection of their own, in one transaction that holds the write lock from its start: the
 * pending migrations are read and run by one process at a time, and a process that waited finds them done.
 */
async function migrateSqlite(path: string): Promise<void> {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma(`busy_timeout = ${SQLITE_MIGRATION_WAIT_MS}`);
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteMigrationDialect(sqlite), plugins: [new CamelCasePlugin()] });
  try {
    await db.transaction().execute((trx) => migrateDb(trx));
  } finally {
    await db.destroy();
  }
}

/** Kysely's PostgreSQL migration lock key: processes of earlier versions (a rolling upgrade) take the same one. */
const MIGRATION_LOCK_KEY = '3853314791062309107';

/**
 * Kysely takes its migration lock with `pg_advisory_lock` in a statement of its own and releases it in another.
 * Through a transaction pooler (PgBouncer) each may run on a different server connection: the unlock misses, the lock
 * stays on a pooled connection nobody owns, and every later start waits for it (processes starting together hung
 * for good). The migrations' own transaction takes a transaction-scoped lock instead (migrateOverUnlimitedConnection).
 */
class PostgresMigrationAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}

class PostgresMigrationDialect extends PostgresDialect {
  override createAdapter(): DialectAdapter {
    return new PostgresMigrationAdapter();
  }
}

/**
 * Migrations run on a connection of their own, without the pool's silence limit: an index built over a large table
 * sends nothing until it is done, and a process waiting for a peer's migration lock waits silently too. They run in
 * one transaction holding the lock, which a pooler keeps on one server connection and the server releases at its end.
 * `givenUrl`: the URL as the operator wrote it, for a failure to connect.
 */
async function migrateOverUnlimitedConnection(url: string, givenUrl: string): Promise<void> {
  const { default: driver } = await import('pg');
  const pool = new driver.Pool({ connectionString: url, max: 1, keepAlive: true, connectionTimeoutMillis: 15_000 });
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresMigrationDialect({ pool }), plugins: [new CamelCasePlugin()] });
  try {
    // The first connection of every start and command: its failure (refused, unknown host, role or database, password,
    // TLS) is said to be the database's, with the URL it came from. The transaction below takes the same connection.
    try {
      (await pool.connect()).release();
    } catch (error) {
      throw new Error(`cannot connect to the database ${maskedUrl(givenUrl)} (${errorReason(error)}): check TOLLGATE_DATABASE_URL (or --database-url)`, { cause: error });
    }
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_KEY)})`.execute(trx);
      // Throws on a failed migration: the transaction rolls back whole, as Kysely's own would.
      await migrateDb(trx);
    });
  } finally {
    await db.destroy();
  }
}

/**
 * What tells this deployment's database from another's (the usage journal keeps apart the events of gateways of two
 * deployments that share a journal path): when its first migration ran, kept in the database itself, so every
 * process of the deployment reads the same, through any URL, and a restored backup keeps it.
 */
export async function databaseIdentity(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ name: string; timestamp: string }>`select name, timestamp from tollgate_migrations order by name limit 1`.execute(db);
  const first = rows[0];
  if (!first) throw new Error('the database has not been migrated');
  return `${first.name}@${first.timestamp}`;
}

export async function migrate(store: Store): Promise<void> {
  await migrateDb(store.db);
}

async function migrateDb(db: Kysely<Database>): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrator = new Migrator({ db, provider, migrationTableName: 'tollgate_migrations', migrationLockTableName: 'tollgate_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    // A database a newer Tollgate migrated: kysely calls it "corrupted", which sends operators looking for damage.
    const newer = /previously executed migration (\S+) is missing/.exec(error instanceof Error ? error.message : '');
    if (newer) throw new Error(`the database was migrated by a newer version of Tollgate (its migration ${newer[1]} is unknown to this one); nothing was changed: run that version or a later one, or restore a backup taken before the upgrade`);
    // No result names a migration when the failure came before any ran (taking the migration lock, reading the table).
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '(before any migration ran)';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
