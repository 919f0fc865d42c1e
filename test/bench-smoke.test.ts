// The benchmark harness still works: `npm run bench -- --smoke` runs every target briefly and prints its
// table. Benchmarks are never timed tests, so nothing here looks at a figure — only that the rows are there.
// --no-install keeps the npm registry out of the test: Portkey is measured when bench/peer is installed
// already and reported "skipped" otherwise. `bench/alloc.ts` (bytes per request) runs too, with tiny loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runTs = fileURLToPath(new URL('../bench/run.ts', import.meta.url));
const allocTs = fileURLToPath(new URL('../bench/alloc.ts', import.meta.url));

/** Runs one of the bench scripts to its end: its exit code and output. */
function runScript(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    // A hang guard, not a timing assertion: the harness stops its own runs, this only catches a bug there.
    const guard = setTimeout(() => child.kill('SIGTERM'), 110_000);
    child.once('error', reject);
    child.once('exit', (c) => { clearTimeout(guard); resolve({ code: c, stdout, stderr }); });
  });
}

test('bench --smoke prints a table row for the bare proxy (alone and with durable usage), for Tollgate and for a baseline build of Tollgate (--baseline)', async () => {
  const { code, stdout, stderr } = await runScript(runTs, ['--smoke', '--no-install', '--baseline=HEAD']);
  const context = `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 0, `bench --smoke exited ${code}${context}`);
  for (const mode of ['JSON', 'streaming']) {
    assert.match(stdout, new RegExp(`^bare proxy\\s+${mode}\\s+[\\d,]+\\s`, 'm'), `no measured bare-proxy ${mode} row${context}`);
    assert.match(stdout, new RegExp(`^bare \\+ durable usage\\s+${mode}\\s+[\\d,]+\\s`, 'm'), `no measured bare + durable usage ${mode} row${context}`);
    assert.match(stdout, new RegExp(`^bare \\+ durable usage / bare proxy, req/s \\(${mode}\\): [\\d.]+×`, 'm'), `no durable-usage ratio (${mode})${context}`);
    // Tollgate's row is either measured or says why it was skipped (the gateway plane not built yet).
    assert.match(stdout, new RegExp(`^Tollgate\\s+${mode}\\s+([\\d,]+\\s|skipped: gateway not available)`, 'm'), `no Tollgate ${mode} row${context}`);
    // The A/B: HEAD's source, extracted apart and started beside this checkout's, measured in the same run.
    assert.match(stdout, new RegExp(`^Tollgate baseline\\s+${mode}\\s+[\\d,]+\\s`, 'm'), `no measured Tollgate baseline ${mode} row${context}`);
    assert.match(stdout, new RegExp(`^Tollgate / baseline, req/s per core \\(${mode}\\): [\\d.]+×`, 'm'), `no Tollgate / baseline ratio (${mode})${context}`);
  }
  assert.match(stdout, /wrote bench\/results\/tmp\/\d{4}-\d{2}-\d{2}\.json/, `no results file written${context}`);
});

test('bench/alloc.ts measures bytes per request for this checkout and a baseline build, by site', async () => {
  const { code, stdout, stderr } = await runScript(allocTs, ['--requests=30', '--warmup=30', '--baseline=HEAD', '--top=5']);
  const context = `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 0, `bench/alloc.ts exited ${code}${context}`);
  for (const mode of ['JSON', 'streaming']) assert.match(stdout, new RegExp(`^== ${mode} chat request: bytes allocated per request`, 'm'), `no ${mode} section${context}`);
  // Both builds, each with a figure per request, and sites in our own files.
  assert.equal(stdout.match(/^tollgate [^:]+: [\d,]+ B \([\d.]+ KB\) per request over 30 requests/gm)?.length, 4, `a figure per build and mode${context}`);
  assert.match(stdout, /^\s+[\d,]+ B\s+[\d,]+ B\s+\S+ src\/gateway\/\S+\.ts:\d+$/m, `a site of src/ with both builds' figures${context}`);
});
