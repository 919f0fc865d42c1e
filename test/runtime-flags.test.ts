// Every way of starting a Tollgate server passes the same V8 flags (src/config/runtime-flags.ts): they cannot be
// set from inside the process, so a launcher that forgets them silently runs a server with a larger heap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { V8_FLAGS } from '../src/config/runtime-flags.ts';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const flags = V8_FLAGS.join(' ');

test('scripts/run.sh, npm start and the benchmark start Tollgate with the runtime flags', () => {
  const run = read('scripts/run.sh');
  assert.match(run, new RegExp(`exec node ${flags} src/cli/main\\.ts start`));
  assert.match(run, new RegExp(`exec node ${flags} src/cli/main\\.ts "\\$cmd"`));
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;
  assert.equal(start, `node ${flags} src/cli/main.ts start`);
  // A shebang with arguments needs `env -S`, which BusyBox (Alpine) lacks: the npx entry stays portable.
  assert.equal(read('bin/tollgate.js').split('\n')[0], '#!/usr/bin/env node');
  // The benchmark's and the allocation tool's Tollgate is started in one place, with them.
  assert.match(read('bench/lib/tollgate.ts'), /startChild\(process\.execPath, \[\.\.\.V8_FLAGS, /);
  for (const tool of ['bench/run.ts', 'bench/alloc.ts']) assert.match(read(tool), /startTollgateTarget\(/, tool);
});

test('the flags are ones this Node accepts: the CLI runs with them', () => {
  // An unknown or malformed flag makes node refuse to start: prove it starts with them and gets to the CLI.
  const out = execFileSync(process.execPath, [...V8_FLAGS, new URL('../bin/tollgate.js', import.meta.url).pathname, '--help'], { encoding: 'utf8' });
  assert.match(out, /tollgate/i);
});
