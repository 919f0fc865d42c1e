// Notices commits made to the SQLite file by other connections (the CLI, another process) without reading
// any table: `PRAGMA data_version` changes exactly when another connection committed, and reading it only
// looks at the WAL index in shared memory. Commits on this connection (this process) do not move it;
// those reach the gateway through the in-process ChangeBus instead.
import type BetterSqlite3 from 'better-sqlite3';

export interface DataVersionWatch { stop(): void }

export function watchDataVersion(sqlite: BetterSqlite3.Database, intervalMs: number, onChange: () => void, onError: (error: unknown) => void): DataVersionWatch {
  const read = (): number => Number(sqlite.pragma('data_version', { simple: true }));
  let last = read();
  const timer = setInterval(() => {
    if (!sqlite.open) return;
    try {
      const now = read();
      if (now === last) return;
      last = now;
      onChange();
    } catch (error) {
      onError(error);
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
