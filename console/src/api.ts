// The console's only way to the server: the public control-plane API (plus /console/session to turn an
// API key into a cookie session). Every response type comes from the contract's generated types, so a
// contract change breaks the console's type check rather than the page.
import type { components } from '../../src/control/spec-types.ts';

export type Schemas = components['schemas'];
export type AccessKey = Schemas['AIGatewayAccessKey'];
export type Configuration = Schemas['AIGatewayAccessKeyConfiguration'];
export type ConfigurationWrite = Schemas['AIGatewayAccessKeyConfigurationCreate'];
export type ProviderKey = Schemas['AIGatewayProviderAPIKeyDetail'];
export type Provider = Schemas['AIGatewayProvider'];
export type ApiKey = Schemas['AIGatewayAPIKey'];
export type UsageEvent = Schemas['AIGatewayUsageEvent'];
export type UsageOverview = Schemas['AIGatewayUsageOverview'];
export type GatewayConfig = Schemas['AIGatewayConfig'];
export type CreditTransaction = Schemas['CreditTransactionItem'];
export type Model = Schemas['AIGatewayModel'];
export type VirtualModel = Schemas['AIGatewayVirtualModel'];
export type FirewallPolicy = Schemas['AIGatewayFirewallPolicy'];
export type FirewallRule = Schemas['AIGatewayFirewallRule'];
export type McpServer = Schemas['AIGatewayMcpServer'];
export type McpServerAuth = Schemas['AIGatewayMcpServerAuth'];

/** POST /console/playground-token: a 15-minute stand-in for an access key, and where the gateway is. */
export interface PlaygroundToken { token: string; expiresAt: string; expiresInSeconds: number; gatewayUrl: string }

export interface SessionInfo { csrfToken: string; apiKeyId: string; accountId: string; expiresAt: string; paymentsConfigured: boolean }

/** A contract error body ({errorCode, statusCode, msg, details}) or a transport failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly details: Record<string, string>;
  constructor(status: number, message: string, code?: string, details: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** The message plus any detail that adds to it, for showing next to the form that failed. */
  get explanation(): string {
    const extra = Object.entries(this.details)
      .filter(([, v]) => v && !this.message.includes(v))
      .map(([k, v]) => (k === 'reason' ? v : `${k}: ${v}`));
    return [this.message, ...extra].join(' — ');
  }
}

let csrfToken: string | undefined;
/** The API key this page signed in with: a session another tab opened with another key is not taken over. */
let sessionKeyId: string | undefined;
let onSignedOut: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void { csrfToken = token; if (token === undefined) sessionKeyId = undefined; }
export function whenSignedOut(callback: () => void): void { onSignedOut = callback; }

function signedIn(info: SessionInfo): SessionInfo {
  csrfToken = info.csrfToken;
  sessionKeyId = info.apiKeyId;
  return info;
}

/**
 * After a refused state change: whether the browser's session cookie (shared by every tab) now names another session
 * of the same API key — another tab signed out and in again, or signed in after this one's expired — whose CSRF
 * token this page then takes. Such a page could read but no longer change anything until reloaded.
 */
async function tokenRenewed(): Promise<boolean> {
  const before = csrfToken;
  try {
    const res = await fetch('/console/session', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (!res.ok) return false;
    const info = await res.json() as SessionInfo;
    if (info.apiKeyId !== sessionKeyId || info.csrfToken === before) return false;
    csrfToken = info.csrfToken;
    return true;
  } catch {
    return false;
  }
}

/** nextPageUri/uri are absolute; keep only path and query so requests stay same-origin (cookie + CSP). */
export function pathOf(uri: string): string {
  const u = new URL(uri, location.href);
  return u.pathname + u.search;
}

/** A path segment the URL parser resolves away before the request leaves (`.`, `..`, also spelled `%2e`). */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

export async function api<T>(method: string, path: string, body?: unknown, renewed = false): Promise<T> {
  // An editor's id comes from its route, a link anyone can write: `#/mcp-servers/..` would read `/`, and `#/…/.` the
  // collection, then Save would write there with this session's CSRF token. Escaping cannot keep a dot segment one id
  // (the parser reads `%2e` as a dot too), and no item has such an id: it is not found.
  const dot = path.split('?')[0]!.split('/').find((s) => DOT_SEGMENT.test(s));
  if (dot !== undefined) throw new ApiError(404, `"${decodeURIComponent(dot)}" not found.`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Check that Tollgate is running, then retry.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  if (!res.ok) {
    const err = (parsed ?? {}) as { msg?: string; errorCode?: string; details?: Record<string, string> };
    const error = new ApiError(res.status, err.msg ?? `The server answered ${res.status}.`, err.errorCode, err.details ?? {});
    // A CSRF refusal (403) of a page whose session another tab replaced (signing out included): sent again once,
    // with the new token.
    if (res.status === 403 && !renewed && headers['x-csrf-token'] && await tokenRenewed()) {
      return api<T>(method, path, body, true);
    }
    // A vanished session (expiry, restart, deleted API key) sends the user back to sign in.
    if (res.status === 401 && !path.startsWith('/console/session')) onSignedOut?.();
    throw error;
  }
  return parsed as T;
}

/**
 * DELETE that counts "not found" (404) as done: the item is gone either way (deleted in another tab or by a script),
 * and a list that kept its row beside a "not found" could never be cleared without a reload. Says which it was.
 */
export async function deleteResource(path: string): Promise<'deleted' | 'gone'> {
  try {
    await api<void>('DELETE', path);
    return 'deleted';
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return 'gone';
    throw e;
  }
}

/** The outcome of deleteResource in words, for `what` ("Access key"). */
export function deletedText(what: string): (r: 'deleted' | 'gone') => string {
  return (r) => (r === 'gone' ? `${what} was already deleted elsewhere.` : `${what} deleted.`);
}

/** Follows nextPageUri until the end; for pickers that need every item (configurations, provider keys). */
export async function listAll<T>(path: string, key: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | null | undefined = path;
  while (next) {
    const page: Record<string, unknown> = await api<Record<string, unknown>>('GET', pathOf(next));
    out.push(...((page[key] as T[] | undefined) ?? []));
    next = page.nextPageUri as string | null | undefined;
  }
  return out;
}

export const session = {
  async signIn(apiKey: string): Promise<SessionInfo> {
    return signedIn(await api<SessionInfo>('POST', '/console/session', { apiKey }));
  },
  async resume(): Promise<SessionInfo | undefined> {
    try {
      return signedIn(await api<SessionInfo>('GET', '/console/session'));
    } catch {
      return undefined;
    }
  },
  async signOut(): Promise<void> {
    await api<void>('DELETE', '/console/session');
    setCsrfToken(undefined);
  },
};

/**
 * A cost as the API states it (USD, five decimal places), trailing zeros past the cents dropped: $0.015, $12.34567,
 * $0.30. Never rounded to cents: $0.052 read $0.05, and toFixed(2) rounded the binary value (1.005 → $1.00). A sum
 * of such amounts made in floating point (a request's attempts) is brought back to whole 1/100,000 dollars first.
 */
export function usd(value: string | number): string {
  const n = typeof value === 'string' ? Number(value) : value;
  if (!Number.isFinite(n)) return String(value);
  const units = Math.round(Math.abs(n) * 100_000);
  const frac = String(units % 100_000).padStart(5, '0').replace(/0{1,3}$/, '');
  return `${n < 0 && units !== 0 ? '-' : ''}$${Math.floor(units / 100_000)}.${frac}`;
}

export function cents(value: number): string {
  return `${value < 0 ? '-' : ''}$${(Math.abs(value) / 100).toFixed(2)}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
