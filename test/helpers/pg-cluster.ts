// A PostgreSQL cluster of the test's own on loopback, which the test may stop and start again (an outage),
// unlike the suite's shared cluster. Same recipe as scripts/test.ts: trust auth, fsync off, run as the
// postgres user when the tests run as root (initdb refuses root).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pg_ctl'))) return join(root, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
}

export interface PgCluster {
  url: string;
  /** With `tls`: the server's self-signed certificate, the CA a client must trust to verify it. */
  caFile?: string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops it (if running) and removes its files. */
  destroy(): void;
}

export interface PgClusterOptions {
  /**
   * TLS only: a self-signed certificate for 127.0.0.1 (the cluster's `caFile`), and `pg_hba.conf` refusing TCP
   * connections without encryption — so a connection that works is proof it was encrypted.
   */
  tls?: boolean;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-own-'));
  const asRoot = process.getuid?.() === 0;
  const argv = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (asRoot) chownSync(dir, id('-u'), id('-g'));
  const port = await freePort();
  const data = join(dir, 'data');
  // Async: a synchronous pg_ctl would freeze the test's own load generator while the database stops.
  const run = (cmd: string, args: string[]) => new Promise<void>((resolve, reject) => {
    const [c, a] = argv(cmd, args);
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))));
  });
  const pgCtl = join(bin, 'pg_ctl');
  let serverOptions = `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off`;
  await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres']);
  let caFile: string | undefined;
  if (options.tls) {
    caFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
    // PostgreSQL refuses a key others can read, or one its server user does not own.
    chmodSync(keyFile, 0o600);
    if (asRoot) { chownSync(keyFile, id('-u'), id('-g')); chownSync(caFile, id('-u'), id('-g')); }
    writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n');
    serverOptions += ` -c ssl=on -c ssl_cert_file=${caFile} -c ssl_key_file=${keyFile}`;
  }
  const start = () => run(pgCtl, ['-D', data, '-l', join(dir, 'pg.log'), '-o', serverOptions, '-w', 'start']);
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    ...(caFile ? { caFile } : {}),
    async stop(mode = 'fast') {
      await run(pgCtl, ['-D', data, '-m', mode, '-w', 'stop']);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    destroy() {
      if (running) {
        const [c, a] = argv(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
        spawnSync(c, a);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
