// Command-line flags given empty (`--api-port=`, an unset shell variable after `--database-url`) or meant for
// another command are refused before anything is opened: the default port, interface or database is never used
// in place of the one asked for.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from './helpers/processes.ts';

function tollgate(args: string[]): { status: number | null; stderr: string; cwd: string } {
  // In an empty directory: a command that fell back to the embedded default would leave data/ there.
  const cwd = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('TOLLGATE_')) delete env[name];
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stderr: run.stderr, cwd };
}

test('an empty flag value is refused with its name, and no default database is made in its place', () => {
  const cases: [string[], string][] = [
    [['start', '--api-port='], '--api-port needs a value'],
    [['gateway', '--gateway-port', ''], '--gateway-port needs a value'],
    [['api', '--host='], '--host needs a value'],
    [['start', '--database-url', ' '], '--database-url needs a value'],
    [['migrate', '--database-url='], '--database-url needs a value'],
    [['accounts', 'list', '--database-url='], '--database-url needs a value'],
    [['credits', 'grant', '--account', 'acct_x', '--cents', '5', '--database-url='], '--database-url needs a value'],
    [['rotate-secret', '--database-url='], '--database-url needs a value'],
  ];
  for (const [args, message] of cases) {
    const run = tollgate(args);
    try {
      assert.equal(run.status, 1, args.join(' '));
      assert.equal(run.stderr, `tollgate: ${message}\n`, args.join(' '));
      assert.equal(existsSync(join(run.cwd, 'data')), false, `${args.join(' ')} made the default database`);
    } finally {
      rmSync(run.cwd, { recursive: true, force: true });
    }
  }
});

test('migrate takes --database-url only: a server flag given to it is refused, not ignored', () => {
  for (const flag of ['--api-port', '--gateway-port', '--host']) {
    const run = tollgate(['migrate', flag, '9000']);
    try {
      assert.equal(run.status, 1, flag);
      assert.match(run.stderr, new RegExp(`Unknown option '${flag}'`), flag);
      assert.equal(existsSync(join(run.cwd, 'data')), false, flag);
    } finally {
      rmSync(run.cwd, { recursive: true, force: true });
    }
  }
});
