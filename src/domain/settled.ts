// Waiting for work that may never finish (a query on a database gone silent) only so long.

/** Resolves when `promise` settles or after `ms`, whichever is first (never rejects). */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => {}, () => {}),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }),
  ]).finally(() => clearTimeout(timer));
}
