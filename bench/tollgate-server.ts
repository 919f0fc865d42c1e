// Tollgate under test, in its own process so it can be pinned to one core and measured from /proc alone.
// Starts both planes exactly as `tollgate start` does (same composition root) on the store named by the
// environment the harness sets (a temp SQLite file), then writes where it listens to --ready-file. The harness
// provisions keys through the control-plane HTTP API, so nothing benchmark-specific lives in this process.
// Usage: node bench/tollgate-server.ts --ready-file=PATH   (env: TOLLGATE_* as set by bench/run.ts)
import { renameSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/config.ts';
import { startTollgate } from '../src/server.ts';

const readyFile = process.argv.find((a) => a.startsWith('--ready-file='))?.slice('--ready-file='.length);
if (!readyFile) throw new Error('--ready-file=PATH is required');

/** The ready file is written whole (rename), so the harness never reads half a line. */
function ready(info: { gatewayUrl?: string; apiUrl?: string; error?: string }): void {
  writeFileSync(`${readyFile}.tmp`, JSON.stringify(info));
  renameSync(`${readyFile}.tmp`, readyFile!);
}

try {
  const running = await startTollgate(loadConfig(process.env), { planes: ['gateway', 'api'] });
  const stop = (): void => {
    // Drain (usage journal, store) like a real shutdown, but never hang the harness.
    setTimeout(() => process.exit(0), 3_000).unref();
    running.stop().then(() => process.exit(0), () => process.exit(1));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop);
  ready(running.gatewayUrl
    ? { gatewayUrl: running.gatewayUrl, ...(running.apiUrl ? { apiUrl: running.apiUrl } : {}) }
    : { ...(running.apiUrl ? { apiUrl: running.apiUrl } : {}), error: 'gateway not available (startTollgate did not start the gateway plane)' });
} catch (err) {
  ready({ error: `tollgate failed to start: ${err instanceof Error ? err.message : String(err)}` });
  process.exit(1);
}
