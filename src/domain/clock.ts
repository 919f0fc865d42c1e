// Wall-clock timestamps as stored and returned (ISO 8601): usage events (two per gateway request) and control-plane
// records. `new Date().toISOString()` costs ~0.5 µs, while under load many requests finish within the same
// millisecond — so the text is made once per ms.
let lastMs = -1;
let lastIso = '';

/** The current time as an ISO 8601 string (millisecond precision, UTC), like `new Date().toISOString()`. */
export function nowIso(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
