// PgBouncer (the Debian package) on loopback in front of a test database, in transaction pooling mode: what
// Supabase's and Neon's pooled connection strings put between an application and PostgreSQL. Trust auth; run as
// the postgres user when the tests run as root (PgBouncer refuses root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';

const BINARY = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path));

export interface PgBouncer {
  /** `database` through the pooler (same user and database name). */
  url: string;
  stop(): Promise<void>;
}

export async function startPgBouncer(database: string): Promise<PgBouncer> {
  if (!BINARY) throw new Error('pgbouncer not found: `bash scripts/run.sh test` installs the Debian package');
  const target = new URL(database);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pgbouncer-'));
  const port = await freePort();
  const user = decodeURIComponent(target.username || 'postgres');
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${target.hostname} port=${target.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =',
    'auth_type = trust', `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction', 'max_client_conn = 500', 'default_pool_size = 20',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
  ].join('\n') + '\n');
  // Started as the postgres user directly (not through runuser, which would keep the stop signal from it).
  let runAs: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    runAs = { uid: id('-u'), gid: id('-g') };
    for (const path of [dir, join(dir, 'userlist.txt'), join(dir, 'pgbouncer.ini')]) chownSync(path, runAs.uid, runAs.gid);
  }
  const child: ChildProcess = spawn(BINARY, [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'], ...runAs });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => { output += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { output += b.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Listening once a TCP connection is accepted.
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (child.exitCode !== null || i > 100) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = new URL(database);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    async stop() {
      if (child.exitCode === null) {
        // SIGTERM: PgBouncer's immediate shutdown (SIGINT would wait for its clients to leave).
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
