// A gateway's journal whose store never answers (test/journal-kill.test.ts): it begins four attempts, finishes two,
// prints `ready <slot>` once all of that is committed to its slot, and waits to be killed with the rest open.
import { join } from 'node:path';
import { UsageJournal } from '../../src/usage/journal.ts';
import { orphanEvent } from '../../src/usage/journal-file.ts';
import type { BegunAttempt } from '../../src/usage/event.ts';

const dir = process.argv[2]!;
const journal = new UsageJournal({ path: join(dir, 'journal.db'), intervalMs: 5, write: () => new Promise<void>(() => {}) });

function attempt(n: number): BegunAttempt {
  return {
    id: `dead${n}`, accountId: 'acct_1', requestId: `rq${n}`, accessKeyId: 'aigk_1', provider: 'openai', providerDisplayName: 'OpenAI',
    model: 'gpt-4o', modelDisplayName: 'GPT-4o', attemptNumber: 1, isStreaming: false, inputTokensEstimate: 0,
    keySource: 'user', providerKeyId: null, providerKeyDisplayName: null, retryAction: 'fail_fast', eventTime: new Date().toISOString(),
    virtualModel: null, firewall: null,
  };
}

const first = [1, 2, 3].map(attempt);
await Promise.all(first.map((b) => journal.begin(b)));
for (const b of first.slice(0, 2)) {
  journal.record({ ...orphanEvent(b, true), completion: 'succeeded', statusCode: 200, isError: false, retryAction: 'succeeded', costPico: 7n });
}
// The next begin's commit takes the finished events along: once it resolves, all of it is in the log.
await journal.begin(attempt(4));
process.stdout.write(`ready ${journal.path}\n`);
setInterval(() => {}, 60_000);
