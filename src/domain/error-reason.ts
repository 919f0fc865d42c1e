// What went wrong, in one line, for the command line's one-line refusals and the messages that wrap a cause.

/**
 * A connection refused on every address of a name that resolves to several (`localhost` on most machines: ::1 and
 * 127.0.0.1) is an AggregateError with an empty message: the reasons are its errors'.
 */
export function errorReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== '') return error.message;
  const inner = error instanceof AggregateError ? [...new Set(error.errors.map(errorReason))].filter((m) => m !== '') : [];
  return inner.length > 0 ? inner.join('; ') : (error as NodeJS.ErrnoException).code ?? error.name;
}
