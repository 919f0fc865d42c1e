// The MCP server editor's form state, what a save writes, and where the control plane's refusals go; and the checks of
// a configuration's MCP allow lists. Kept apart from the JSX so the rules (an auth type takes only its own fields, the
// secret is the `mcp:<label>` provider key, never read back) read in one place.
import type { McpServer, McpServerAuth } from './api.ts';

export type AuthType = McpServerAuth['type'];
export type SecretIn = NonNullable<McpServerAuth['in']>;

export const AUTH_TYPES: readonly { value: AuthType; label: string }[] = [
  { value: 'none', label: 'None' },
  { value: 'secret', label: 'Stored secret' },
  { value: 'forwardHeaders', label: 'Forward client headers' },
  { value: 'oauthPassthrough', label: 'OAuth passthrough' },
];

export interface McpServerState {
  label: string;
  description: string;
  upstreamUrl: string;
  authType: AuthType;
  /** `secret` only. */
  secretIn: SecretIn;
  secretName: string;
  /** `secret` in a header only; kept as typed (`Bearer ` ends with the space the header needs). */
  secretPrefix: string;
  /** `forwardHeaders` only: one header name a line. */
  headers: string;
  /** Write-only: '' leaves the stored secret as it is; never filled from the server, which never returns it. */
  secret: string;
}

/** A new server starts with no auth; choosing a secret offers the usual bearer header, which most servers take. */
export const emptyServer = (): McpServerState => ({
  label: '', description: '', upstreamUrl: '', authType: 'none', secretIn: 'header', secretName: 'Authorization', secretPrefix: 'Bearer ', headers: '', secret: '',
});

export function fromServer(s: McpServer): McpServerState {
  const a = s.auth;
  const blank = emptyServer();
  return {
    label: s.label, description: s.description ?? '', upstreamUrl: s.upstreamUrl, authType: a.type,
    // A server of another type keeps the secret fields' defaults, so switching it to a secret starts from them.
    secretIn: a.in ?? blank.secretIn,
    secretName: a.type === 'secret' ? a.name ?? '' : blank.secretName,
    secretPrefix: a.type === 'secret' ? a.prefix ?? '' : blank.secretPrefix,
    headers: (a.headers ?? []).join('\n'), secret: '',
  };
}

const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');

/** The auth as the API takes it: only the chosen type's fields (the API refuses any other), a prefix only in a header. */
export function authWrite(s: McpServerState): McpServerAuth {
  switch (s.authType) {
    case 'secret':
      return { type: 'secret', in: s.secretIn, name: s.secretName.trim(), ...(s.secretIn === 'header' && s.secretPrefix !== '' ? { prefix: s.secretPrefix } : {}) };
    case 'forwardHeaders':
      return { type: 'forwardHeaders', headers: lines(s.headers) };
    default:
      return { type: s.authType };
  }
}

/** The body for POST (isUpdate false) or PATCH (true: an emptied description is sent as null so it is removed). */
export function toWrite(s: McpServerState, isUpdate: boolean): Record<string, unknown> {
  const description = s.description.trim();
  return {
    label: s.label.trim(),
    ...(description ? { description } : isUpdate ? { description: null } : {}),
    upstreamUrl: s.upstreamUrl.trim(),
    auth: authWrite(s),
  };
}

/** The provider a server's secret is stored under, as the control plane keeps it. */
export const secretProvider = (label: string): string => `mcp:${label}`;

/** Whether a save writes the secret: a value typed for a server that sends one (another type's field is not shown). */
export function writesSecret(s: McpServerState): boolean {
  return s.authType === 'secret' && s.secret !== '';
}

/**
 * Which of the label's keys a new value replaces: the oldest (lists run newest first), the one the gateway sends while
 * there are several. Undefined: none yet, so one is created.
 */
export function keyToRotate<K extends { id: string }>(keysNewestFirst: readonly K[]): K | undefined {
  return keysNewestFirst[keysNewestFirst.length - 1];
}

/** The form's fields a refusal can be shown at (the API's `details.field`, or `secret` for the key's write). */
export type ServerField = 'label' | 'description' | 'upstreamUrl' | 'auth.type' | 'auth.in' | 'auth.name' | 'auth.prefix' | 'auth.headers' | 'secret';

/** The provider key's own fields a refusal of the secret's write may name: all of them are the secret field's. */
const SECRET_FIELDS = ['value', 'name', 'providerId'];

/**
 * Where a refusal goes. The API names the field (`auth.headers.2` is the headers field); the label's two conflicts (a
 * label another server holds, a label a deleted server's keys still hold) are the label's by their code as well. The
 * account's limit and anything else (the server deleted meanwhile, the server not reached): undefined, by Save.
 */
export function blameOf(code: string | undefined, details: Readonly<Record<string, string>>, fromSecret = false): ServerField | undefined {
  if (fromSecret) return details.field === undefined || SECRET_FIELDS.includes(details.field) ? 'secret' : undefined;
  // A server's only unique field is its label, so "already exists" is about it.
  if (code === 'ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT' || code === 'ERR_NGROK_27607') return 'label';
  const field = details.field;
  if (field === undefined) return undefined;
  if (field === 'auth') return 'auth.type';
  const head = /^(label|description|upstreamUrl|auth\.(?:type|in|name|prefix|headers))(\.|$)/.exec(field);
  return head ? head[1] as ServerField : undefined;
}

/** The auth in words, for the list: `Secret in header Authorization`. */
export function describeAuth(a: McpServerAuth): string {
  switch (a.type) {
    case 'secret': return `Secret in ${a.in ?? 'header'} ${a.name ?? ''}`.trim();
    case 'forwardHeaders': return `Forwards ${(a.headers ?? []).join(', ')}`;
    case 'oauthPassthrough': return 'OAuth passthrough';
    default: return 'None';
  }
}

/** An MCP server label as the API takes it (also an `access.mcpServers` entry). */
export const LABEL_PATTERN = /^(?!.*__)[a-z0-9_-]{1,64}$/;
/** An `access.mcpTools` entry: `<label>/<tool>`, `*` matching any characters. */
const TOOL_PATTERN = /^([a-z0-9_*-]{1,64})\/\S{1,128}$/;

/**
 * What is wrong with a tool pattern before it is added, in words (the API would refuse it at save); undefined when it is
 * well formed. `labels`: the account's servers, to warn of a pattern no server matches (allowed, since a label may be
 * registered later, but it allows nothing today).
 */
export function toolPatternProblem(entry: string, labels: readonly string[] | undefined): { text: string; blocking: boolean } | undefined {
  const m = TOOL_PATTERN.exec(entry);
  if (!m) {
    if (!entry.includes('/')) return { text: `Write it as <label>/<tool>, such as docs/search or docs/*.`, blocking: true };
    return { text: 'The label part takes lowercase letters, digits, "-", "_" and "*"; the tool part 1 to 128 characters without spaces.', blocking: true };
  }
  const label = m[1]!;
  if (labels && labels.length > 0 && !label.includes('*') && !labels.includes(label)) {
    return { text: `No MCP server is labelled "${label}": this pattern allows nothing until one is.`, blocking: false };
  }
  return undefined;
}
