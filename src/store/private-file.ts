// Files that hold accounts, key hashes and usage (the SQLite database, the usage journal and its logs) are
// readable by their owner only, as secret.key is: under a default umask of 022 they would be world-readable, and
// any local user could copy every account's usage and the hashes of its keys.
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;

/** The file's directory, made owner-only when this makes it (an existing one is left as the operator set it). */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Creates `path` owner-only if it does not exist (an existing file keeps its mode), before SQLite opens it: SQLite
 * gives its `-wal` and `-shm` files the database file's mode.
 */
export function ensurePrivateFile(path: string): void {
  // Never opened when it exists: closing any descriptor of a file drops every POSIX lock the process holds on it,
  // SQLite's included (a journal slot this process holds, tried again).
  if (existsSync(path)) return;
  makePrivateDir(dirname(path));
  try {
    closeSync(openSync(path, 'wx', PRIVATE_FILE_MODE));
  } catch (error) {
    // Made meanwhile by another process: as wanted.
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  }
}

/**
 * Those of `paths` (and their SQLite `-wal`/`-shm` siblings) that exist and another local user can read or change:
 * the file open to its group or to all, in a directory they may enter. Made by a version before files were created
 * owner-only, or opened up by hand; reported at start, not changed (the mode may be the operator's choice, a backup
 * user's group), and the warning says how to close it.
 */
export function readableByOthers(paths: readonly string[]): string[] {
  const found: string[] = [];
  for (const path of paths.flatMap((p) => [p, `${p}-wal`, `${p}-shm`])) {
    try {
      const file = statSync(path).mode;
      const dir = statSync(dirname(path)).mode;
      // Read or written by all, or by the group, where that one may enter the directory.
      if ((file & 0o006 && dir & 0o001) || (file & 0o060 && dir & 0o010)) found.push(path);
    } catch {
      // Absent: nothing to say.
    }
  }
  return [...new Set(found)];
}

/** An errno of the filesystem, or SQLite failing on the file itself (not on a lock another connection holds). */
const FILE_CODES = /^(E[A-Z]+|SQLITE_(CANTOPEN|READONLY|PERM|NOTADB|IOERR|FULL)(_[A-Z]+)*)$/;

/**
 * A file Tollgate keeps that it cannot make or open (a read-only or unwritable directory, a path through a file), as
 * an error naming the file and the setting that chose it. Node's own message names neither (`EACCES: permission
 * denied, mkdir 'data'`), and the default paths are relative to the working directory, which a service manager sets
 * (systemd: `/`). Other errors (a journal's slots all held, a lock another process holds) are left as they are.
 */
export function unusableFileError(error: unknown, what: string, path: string, fix: string): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (!(error instanceof Error) || typeof code !== 'string' || !FILE_CODES.test(code)) return error;
  return new Error(`cannot open ${what} at ${resolve(path)} (${error.message}): ${fix}`, { cause: error });
}
