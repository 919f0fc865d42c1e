// Waiting for work that may never finish (a query on a database gone silent) only so long.

/** Resolves when `promise` settles (true) or after `ms` (false), whichever is first (never rejects). */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(resolve, ms, false); }),
  ]).finally(() => clearTimeout(timer));
}
