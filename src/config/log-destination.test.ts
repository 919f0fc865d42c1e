import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchedLogDestination } from './log-destination.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'));
const line = (i: number): string => `{"level":30,"n":${i},"msg":"${'x'.repeat(200)}"}\n`;

test('lines reach a file whole and in order, a batch at a time', () => {
  const path = join(dir, 'file.log');
  const fd = openSync(path, 'w');
  const out = new BatchedLogDestination(fd, { batchBytes: 4096 });
  out.write(line(0));
  assert.equal(statSync(path).size, 0, 'a lone line waits for its batch');
  for (let i = 1; i < 1000; i++) out.write(line(i));
  assert.ok(statSync(path).size > 0, 'full batches were written as they filled');
  out.close();
  closeSync(fd);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 1000 }, (_, i) => i));
});

test('lines given whole or in pieces, and lines longer than a batch, reach the file whole and in order', () => {
  const path = join(dir, 'parts.log');
  const fd = openSync(path, 'w');
  const out = new BatchedLogDestination(fd, { batchBytes: 4096 });
  const parts = ['{"level":30,"n":', '', ',"msg":"', '', '"}\n'];
  for (let i = 0; i < 1000; i++) {
    if (i % 3 === 0) out.write(line(i));
    else {
      // Lengths vary so lines end at every offset of a batch; every 97th is longer than a batch, and not ASCII.
      parts[1] = String(i);
      parts[3] = i % 97 === 0 ? 'é'.repeat(3000) : 'y'.repeat(i % 300);
      out.writeParts(parts);
    }
  }
  out.close();
  closeSync(fd);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { n: number; msg: string });
  assert.deepEqual(lines.map((l) => l.n), Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(lines[97]!.msg, 'é'.repeat(3000));
});

/** A pipe whose reader starts reading after `delayS` seconds, copying to `file`. */
function slowReader(file: string, delayS: number) {
  const child = spawn('sh', ['-c', `sleep ${delayS}; cat > "${file}"`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, done: () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.stdin.end(); }) };
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a full pipe (EAGAIN) neither blocks nor loses lines: they wait and go out when the reader catches up', async () => {
  const file = join(dir, 'pipe.log');
  const reader = slowReader(file, 1);
  const out = new BatchedLogDestination(reader.fd, { batchBytes: 8192, retryMs: 5 });
  // ~2 MB: far more than a pipe buffers while nobody reads.
  for (let i = 0; i < 10_000; i++) out.write(line(i));
  out.flush();
  // Had a write blocked until the reader drained the pipe, the lines would already be in the file.
  assert.ok((statSync(file, { throwIfNoEntry: false })?.size ?? 0) === 0, 'writing never waited for the reader');
  await until(() => (statSync(file, { throwIfNoEntry: false })?.size ?? 0) >= 10_000 * line(0).length);
  out.close();
  await reader.done();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(out.dropped, 0);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 10_000 }, (_, i) => i));
});

test('past the memory bound lines are dropped, counted, and the log says so once the sink recovers', async () => {
  const file = join(dir, 'bounded.log');
  const reader = slowReader(file, 1);
  const out = new BatchedLogDestination(reader.fd, { batchBytes: 8192, maxBufferedBytes: 256 * 1024, retryMs: 5 });
  for (let i = 0; i < 10_000; i++) out.write(line(i));
  assert.ok(out.dropped > 0);
  const dropped = out.dropped;
  await until(() => readFileSync(file, { encoding: 'utf8', flag: 'a+' }).includes('log lines dropped'));
  out.close();
  await reader.done();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { n?: number; dropped?: number });
  const notice = lines.find((l) => l.dropped !== undefined);
  assert.equal(notice?.dropped, dropped);
  const kept = lines.filter((l) => l.n !== undefined).map((l) => l.n!);
  assert.equal(kept.length + dropped, 10_000, 'every line is either written whole or counted as dropped');
  assert.deepEqual(kept, [...kept].sort((a, b) => a - b), 'in order');
});

test('many destinations in one process share one exit hook, and each one\'s lines are written at exit', () => {
  const path = join(dir, 'exit.log');
  const script = `
    const { openSync } = await import('node:fs');
    const { BatchedLogDestination } = await import(${JSON.stringify(new URL('./log-destination.ts', import.meta.url).href)});
    process.on('warning', (w) => { console.error('WARNING ' + w.name); });
    const fd = openSync(${JSON.stringify(path)}, 'w');
    for (let i = 0; i < 20; i++) new BatchedLogDestination(fd).write('{"n":' + i + '}\\n');
    console.error('listeners ' + process.listenerCount('exit'));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.doesNotMatch(out.stderr, /WARNING/);
  assert.match(out.stderr, /listeners 1\b/);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 20, 'nothing was written before exit; everything was written at exit');
});

test('stdout inherited as a blocking pipe (a shell pipeline, a container runtime) is made non-blocking: a reader that starts late never stalls the writer', () => {
  const out = join(dir, 'stdout.log');
  const writerDone = join(dir, 'writer-done');
  const verdict = join(dir, 'verdict');
  const child = `
    const { writeFileSync } = await import('node:fs');
    const { BatchedLogDestination } = await import(${JSON.stringify(new URL('./log-destination.ts', import.meta.url).href)});
    const log = new BatchedLogDestination(1, { batchBytes: 8192, retryMs: 5 });
    for (let i = 0; i < 10000; i++) log.write('{"n":' + i + ',"pad":"${'x'.repeat(200)}"}\\n');
    writeFileSync(${JSON.stringify(writerDone)}, 'yes');
    // A server stays up: the retry timer writes the rest once the reader starts.
    setTimeout(() => {}, 6000);`;
  // The shell's pipe is blocking; its reader waits 3 s, then records whether the writer had already finished
  // its loop (it cannot have, had its writes blocked on the full pipe), then reads everything.
  const reader = `sleep 3; if [ -e "${writerDone}" ]; then echo free > "${verdict}"; else echo stalled > "${verdict}"; fi; cat > "${out}"`;
  const script = `"${process.execPath}" --input-type=module -e '${child.replace(/'/g, `'\\''`)}' | (${reader})`;
  execFileSync('sh', ['-c', script], { timeout: 60_000 });
  assert.equal(readFileSync(verdict, 'utf8').trim(), 'free');
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 10_000 }, (_, i) => i));
});
