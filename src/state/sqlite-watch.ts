// Notices commits made to the SQLite file by other connections (the CLI, another process) without reading
// any table: `PRAGMA data_version` changes exactly when another connection committed, and reading it only
// looks at the WAL index in shared memory. Commits on this connection (this process) do not move it;
// those reach the gateway through the in-process ChangeBus instead.
import type BetterSqlite3 from 'better-sqlite3';

export interface DataVersionWatch {
  /** Reads data_version now (a few µs): true, and onChange called, when another connection committed since the last read. */
  check(): boolean;
  stop(): void;
}

export function watchDataVersion(sqlite: BetterSqlite3.Database, intervalMs: number, onChange: () => void, onError: (error: unknown) => void): DataVersionWatch {
  // Prepared once: `sqlite.pragma()` compiles a statement per call, which made this poll most of an idle
  // gateway's CPU (~0.5 % of a core at 10 reads a second).
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  const read = (): number => Number(dataVersion.get());
  let last = read();
  const check = (): boolean => {
    if (!sqlite.open) return false;
    try {
      const now = read();
      if (now === last) return false;
      last = now;
      onChange();
      return true;
    } catch (error) {
      onError(error);
      return false;
    }
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
