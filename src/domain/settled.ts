// Waiting for work that may never finish (a query on a database gone silent) only so long.

/** `work`'s outcome, or a rejection with `message` after `ms`: for a caller that has nothing to fall back on. */
export function answeredWithin<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Resolves when `promise` settles (true) or after `ms` (false), whichever is first (never rejects). */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(resolve, ms, false); }),
  ]).finally(() => clearTimeout(timer));
}
