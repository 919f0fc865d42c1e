// The console's browser sessions, in memory (a restart signs everyone out, by design): a random id in the
// cookie, its hash here with the API key and account it acts for, a CSRF token and an expiry.
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../domain/ids.ts';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Memory bound over every account. */
const MAX_SESSIONS = 10_000;
/**
 * Sessions one account may hold at once: its sign-ins beyond this end its own oldest sessions, never another
 * account's (a global cap alone let any tenant sign everyone else out by scripting 10,000 sign-ins).
 */
export const MAX_SESSIONS_PER_ACCOUNT = 50;

export interface Session { apiKeyId: string; accountId: string; csrfToken: string; expiresAt: number }

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(apiKeyId: string, accountId: string): { id: string; session: Session } {
    this.#prune(accountId);
    const id = randomBytes(32).toString('base64url');
    const session = { apiKeyId, accountId, csrfToken: randomBytes(32).toString('base64url'), expiresAt: this.#now() + SESSION_TTL_MS };
    // Keyed by the hash so a heap dump does not hand out live cookies.
    this.#sessions.set(sha256Hex(id), session);
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const key = sha256Hex(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= this.#now()) { this.#sessions.delete(key); return undefined; }
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.#sessions.delete(sha256Hex(id));
  }

  /** Drops expired sessions, then makes room for one more of `accountId` (Map order is creation order). */
  #prune(accountId: string): void {
    const now = this.#now();
    const own: string[] = [];
    for (const [key, s] of this.#sessions) {
      if (s.expiresAt <= now) this.#sessions.delete(key);
      else if (s.accountId === accountId) own.push(key);
    }
    for (let i = 0; i <= own.length - MAX_SESSIONS_PER_ACCOUNT; i++) this.#sessions.delete(own[i]!);
    // Only with more than MAX_SESSIONS / MAX_SESSIONS_PER_ACCOUNT accounts signed in at their cap.
    while (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
  }
}
