// Provider credentials travel in an HTTP header (Authorization, x-api-key, a custom provider's own). A value
// holding what a header cannot carry could never be used: it is refused where it is written (the control
// plane, the operator's environment), not found out on every request as a failed attempt.

/** What a header value cannot carry (RFC 9110 field-value: tab, space, visible ASCII, obs-text), as undici refuses it. */
const UNSENDABLE = /[^\t\x20-\x7e\x80-\xff]/;

/** Why a secret (already trimmed) could never be sent in a header, if so: said without quoting the secret. */
export function unsendableSecretReason(trimmed: string): string | undefined {
  const at = trimmed.search(UNSENDABLE);
  if (at < 0) return undefined;
  const code = trimmed.charCodeAt(at);
  const what = code === 10 || code === 13 ? 'a line break' : code < 32 || code === 127 ? 'a control character' : 'a character outside Latin-1';
  return `holds ${what} at position ${at + 1}, which an HTTP header cannot carry; provider keys are sent in one.`;
}
