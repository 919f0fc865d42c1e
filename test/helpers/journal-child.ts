// A process that journals usage until it is killed (test/journal-kill.test.ts): attempts begin in small bursts,
// most finish a few turns later, some stay open for a long while (streams), and a "store" appends the ids it was
// given to a file. The ids whose begin was confirmed are appended to `begun.txt` only after the confirmation.
import { openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageJournal } from '../../src/usage/journal.ts';
import { orphanEvent } from '../../src/usage/journal-file.ts';
import type { BegunAttempt } from '../../src/usage/event.ts';

const dir = process.argv[2]!;
const stored = openSync(join(dir, 'store.txt'), 'a');
const confirmed = openSync(join(dir, 'begun.txt'), 'a');
const journal = new UsageJournal({
  path: join(dir, 'journal.db'), segmentBytes: 4096, intervalMs: 3, maxBatch: 20,
  write: async (events) => { writeSync(stored, events.map((e) => `${e.id}\n`).join('')); },
});

function attempt(n: number): BegunAttempt {
  return {
    id: `ev${n}`, accountId: 'acct_1', requestId: `rq${n}`, accessKeyId: 'aigk_1', provider: 'openai', providerDisplayName: 'OpenAI',
    model: 'gpt-4o', modelDisplayName: 'GPT-4o', attemptNumber: 1, isStreaming: n % 10 === 0, inputTokensEstimate: 0,
    keySource: 'user', providerKeyId: null, providerKeyDisplayName: null, retryAction: 'fail_fast', eventTime: new Date().toISOString(),
    virtualModel: null, firewall: null,
  };
}

let next = 0;
const open: { attempt: BegunAttempt; until: number }[] = [];
for (let turn = 0; ; turn++) {
  const burst = Array.from({ length: 1 + (turn % 4) }, () => attempt(next++));
  await Promise.all(burst.map((b) => journal.begin(b)));
  writeSync(confirmed, burst.map((b) => `${b.id}\n`).join(''));
  // One in ten stays open for ~200 turns (a long stream); the rest finish 1–3 turns later.
  for (const b of burst) open.push({ attempt: b, until: turn + (b.isStreaming ? 200 : 1 + (turn % 3)) });
  for (let i = open.length - 1; i >= 0; i--) {
    if (open[i]!.until > turn) continue;
    const done = open.splice(i, 1)[0]!.attempt;
    journal.record({ ...orphanEvent(done, true), completion: 'succeeded', statusCode: 200, isError: false, retryAction: 'succeeded', costPico: 1n });
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
