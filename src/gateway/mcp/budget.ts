// A request's budget: its time limits, and the signal that ends it (the limits, the client leaving or cancelling, the
// gateway ending it or stopping), read back for what ended it.
import type { AccountSnapshot } from '../../state/types.ts';
import type { GatewayDeps, RequestContext } from '../context.ts';
import { CallEnded } from './ending.ts';
import type { Budget } from './upstream.ts';

/**
 * A request's time limits and its signal, aborted at the limit, when the client leaves or cancels the request, or
 * when the gateway's shutdown grace period is over.
 */
export interface CallBudget {
  budget: Budget;
  streaming(): void;
  cancel(): void;
  /** The gateway ends the request (its session, key or server ended): the signal's reason says why. */
  end(why: CallEnded): void;
  /** Neither ended nor done: what the request will answer is still open. */
  running(): boolean;
  done(): void;
}

/**
 * The account's limits: `perRequestTimeout` to each upstream answer's head, `totalTimeout` in all until an answer
 * streams, then the stream's limit (the account's totalTimeout when it set one), as for model calls.
 */
export function callBudget(ctx: RequestContext, account: AccountSnapshot, deps: GatewayDeps, stopping: AbortSignal | undefined): CallBudget {
  const { settings } = account;
  const controller = new AbortController();
  const startedAt = performance.now();
  let finished = false;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => controller.abort('timeout'), settings.totalTimeoutMs);
  // Closed by a stopping gateway after its error answer: not a client that left.
  const onClose = (): void => { if (!ctx.res.writableFinished) controller.abort(ctx.abortCause === 'shutdown' ? 'shutdown' : 'client-gone'); };
  const onStop = (): void => controller.abort('shutdown');
  ctx.res.once('close', onClose);
  if (stopping?.aborted) controller.abort('shutdown');
  else stopping?.addEventListener('abort', onStop, { once: true });
  return {
    budget: { headersMs: settings.perRequestTimeoutMs, idleMs: deps.options.streamIdleTimeoutMs, signal: controller.signal, trace: deps.observer?.tracer?.mcpCalls(ctx) },
    streaming: () => {
      clearTimeout(timer);
      const limit = settings.totalTimeoutSet ? settings.totalTimeoutMs : deps.options.streamTimeoutMs;
      timer = setTimeout(() => controller.abort('timeout'), Math.max(0, limit - (performance.now() - startedAt)));
    },
    cancel: () => controller.abort('cancelled'),
    end: (why) => controller.abort(why),
    running: () => !finished && !controller.signal.aborted,
    done: () => {
      finished = true;
      clearTimeout(timer);
      timer = undefined;
      ctx.res.off('close', onClose);
      stopping?.removeEventListener('abort', onStop);
    },
  };
}

export function isCancelled(budget: CallBudget): boolean {
  return budget.budget.signal.aborted && budget.budget.signal.reason === 'cancelled';
}

export function endedOf(budget: CallBudget): CallEnded | undefined {
  const { signal } = budget.budget;
  return signal.aborted && signal.reason instanceof CallEnded ? signal.reason : undefined;
}
