/** Hash navigation; see app.tsx for why routes live in the hash. */

/** The hash of a route, each part escaped: a request id or a name holding `/`, `#` or `%` stays one part. */
export function routeHash(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function navigate(...parts: string[]): void {
  location.hash = routeHash(...parts);
}

/** The route in the hash; undefined for an in-page anchor (#main), which is no route and must not become Access keys. */
export function routeOf(hash: string): string[] | undefined {
  if (hash !== '' && hash !== '#' && !hash.startsWith('#/')) return undefined;
  let parts: string[];
  try {
    parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    // A malformed escape (`#/%E0`): no page of ours, and never a blank console.
    return [hash.replace(/^#\/?/, '')];
  }
  return parts.length > 0 ? parts : ['keys'];
}
