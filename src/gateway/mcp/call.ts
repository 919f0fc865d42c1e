// A request the MCP gateway serves, as its steps pass it on: who sent it, to which endpoint, in which revision; and
// a request forwarded to a server and not yet answered, which the client may cancel and the gateway end.
import type { JsonRpcId, JsonRpcMessage } from '../../domain/json-rpc.ts';
import type { McpServerState } from '../../domain/mcp-server.ts';
import type { AccessScope, AccountSnapshot, AuthenticatedKey } from '../../state/types.ts';
import type { Reservation } from '../../usage/ledger.ts';
import type { RequestContext } from '../context.ts';
import type { CallBudget } from './budget.ts';
import type { McpTarget, McpTool } from './upstream.ts';

export interface Call {
  ctx: RequestContext;
  key: AuthenticatedKey;
  account: AccountSnapshot;
  scope: AccessScope | null;
  /** The server of a server's own endpoint; undefined on the aggregate endpoint. */
  server: McpServerState | undefined;
  message: JsonRpcMessage;
  /** The access key came in `x-api-key`: the client's `Authorization` is its own. */
  viaApiKey: boolean;
  token: string;
  /** Whose upstream sessions the request uses (McpGateway.#owner). */
  owner: string;
  /** Aborts when the gateway's shutdown grace period is over. */
  stopping: AbortSignal | undefined;
  /** A request of the stateless revision (MCP 2026-07-28): no session, results as that revision has them. */
  stateless: boolean;
  /** Tool search (`?tools=search`, aggregate endpoint only): tools/list offers search_tools and call_tool. */
  search: boolean;
  /** A tools/call made through call_tool, its message the tool's own call. */
  viaCallTool: boolean;
  /** The credit the call's fee holds until it is recorded (billing on, a fee set). */
  hold?: Reservation;
}

/** A tools/call forwarded: its usage event, the tool (as named by its server, and as it listed it) and where it went. */
export interface Metered { eventId: string; tool: string; target: McpTarget; definition: McpTool }

/** A request forwarded and not yet answered, which the client may cancel and the gateway end. */
export interface Pending {
  key: string;
  /** The client's id for it: what a cancellation sent to its server names. */
  id: JsonRpcId;
  call: Call;
  server: McpServerState;
  /** The tool a tools/call runs, as its server names it; undefined for another request. */
  tool: string | undefined;
  /** Where it was sent (its session and credential); undefined until then. */
  target: McpTarget | undefined;
  budget: CallBudget;
}

/** A request's id within its client session (or key): a string id and a number id are different ids. */
export function pendingKey(owner: string, id: unknown): string {
  return `${owner}\0${typeof id}\0${String(id)}`;
}
