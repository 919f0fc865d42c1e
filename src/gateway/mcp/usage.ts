// What a tools/call is in usage: its attempt, noted before the call leaves, and the outcome its event records (a
// refusal, a cancellation, a failure, or what its server answered).
import { nowIso } from '../../domain/clock.ts';
import { RpcCode } from '../../domain/json-rpc.ts';
import { mcpSecretProvider } from '../../domain/mcp-server.ts';
import type { BegunAttempt, Completion } from '../../usage/event.ts';
import { endedOf, isCancelled, type CallBudget } from './budget.ts';
import type { Call } from './call.ts';
import { secretOf } from './credentials.ts';
import type { McpTarget, McpUpstreamError } from './upstream.ts';

/** What a forwarded call came to, for its usage event. */
export interface Outcome {
  status: number;
  completion: Completion;
  /** `completed`, `tool_error` (the tool's own `isError`), or `jsonrpc_error_<code>`. */
  stopReason: string;
  streaming: boolean;
  durationMs: number;
}

export function begun(call: Call, eventId: string, label: string, tool: string, target: McpTarget): BegunAttempt {
  const stored = target.secret !== undefined ? secretOf(call.account, target.server) : undefined;
  return {
    id: eventId, accountId: call.key.accountId, requestId: call.ctx.requestId, accessKeyId: call.key.id,
    provider: mcpSecretProvider(label), providerDisplayName: label, model: tool, modelDisplayName: tool,
    attemptNumber: 1, isStreaming: false, inputTokensEstimate: 0, keySource: 'user',
    providerKeyId: stored?.id ?? null, providerKeyDisplayName: stored?.keyRedacted ?? null,
    retryAction: 'fail_fast', eventTime: nowIso(), virtualModel: null, firewall: null,
  };
}

export function denied(code: number): Outcome {
  return { status: 0, completion: 'failed', stopReason: `jsonrpc_error_${code}`, streaming: false, durationMs: 0 };
}

/** A call the client cancelled: whether the tool ran, and how far, is unknown (as a model request its client left). */
function cancelled(durationMs: number): Outcome {
  return { status: 0, completion: 'unknown', stopReason: 'cancelled', streaming: false, durationMs };
}

function failed(failure: McpUpstreamError, durationMs: number): Outcome {
  return { status: failure.status, completion: failure.timedOut ? 'timed_out' : 'failed', stopReason: `jsonrpc_error_${RpcCode.internal}`, streaming: false, durationMs };
}

/** A call its server did not answer: cancelled by the client, ended by the gateway (with the code its client is told), or failed. */
export function unanswered(budget: CallBudget, failure: McpUpstreamError, durationMs: number): Outcome {
  if (isCancelled(budget)) return cancelled(durationMs);
  const ended = endedOf(budget);
  return ended ? { status: 0, completion: 'failed', stopReason: `jsonrpc_error_${ended.code}`, streaming: false, durationMs } : failed(failure, durationMs);
}
