/** Hash navigation; see app.tsx for why routes live in the hash. */
export function navigate(...parts: string[]): void {
  location.hash = `#/${parts.map(encodeURIComponent).join('/')}`;
}
