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
let onSignedOut: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void { csrfToken = token; }
export function whenSignedOut(callback: () => void): void { onSignedOut = callback; }

/** nextPageUri/uri are absolute; keep only path and query so requests stay same-origin (cookie + CSP). */
export function pathOf(uri: string): string {
  const u = new URL(uri, location.href);
  return u.pathname + u.search;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    // A vanished session (expiry, restart, deleted API key) sends the user back to sign in.
    if (res.status === 401 && !path.startsWith('/console/session')) onSignedOut?.();
    throw error;
  }
  return parsed as T;
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
    const info = await api<SessionInfo>('POST', '/console/session', { apiKey });
    setCsrfToken(info.csrfToken);
    return info;
  },
  async resume(): Promise<SessionInfo | undefined> {
    try {
      const info = await api<SessionInfo>('GET', '/console/session');
      setCsrfToken(info.csrfToken);
      return info;
    } catch {
      return undefined;
    }
  },
  async signOut(): Promise<void> {
    await api<void>('DELETE', '/console/session');
    setCsrfToken(undefined);
  },
};

export function usd(value: string | number): string {
  const n = typeof value === 'string' ? Number(value) : value;
  return Number.isFinite(n) ? `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 5 : 2)}` : String(value);
}

export function cents(value: number): string {
  return `${value < 0 ? '-' : ''}$${(Math.abs(value) / 100).toFixed(2)}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
