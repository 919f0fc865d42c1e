// A translation through a surface in between: the client's request goes through `outer` into the middle format and
// through `inner` into the upstream's; the answer, the stream and errors come back the same way in reverse.
// Responses requests reach Messages-only models this way (Responses → chat completions → Messages): each half is a
// translator of its own, tested on its own, and what one maps the other need not know.
import type { AttemptPlan } from '../../domain/routing.ts';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import type { StreamTranslation, TranslatedRequest, TranslationScope, Translator } from './types.ts';
import type { TollgateError } from '../../domain/errors.ts';

/**
 * `clientFields`: for a field of the middle format that `inner` may remove, the client's field it came from
 * (Ngrok-AIG-Removed-Params names what the client sent). A removed middle field the client did not send, and with
 * no entry here, was one the outer half added for the middle format's sake, and is not named.
 */
export function composed<Out extends string | Uint8Array>(outer: Translator<Out>, inner: Translator, clientFields: Readonly<Record<string, string>>): Translator<Out> {
  return {
    request(body: Record<string, unknown>, plan: AttemptPlan): TranslatedRequest {
      const middle = outer.request(body, plan);
      const upstream = inner.request(middle.body, plan);
      const removed = [...middle.removed];
      for (const field of upstream.removed) {
        // The outer half's own naming of this request first: a Gemini body's fields as that client spelled them.
        // A name that is no member of the middle body is the inner half's word on the conversation (`prefill`: a
        // final assistant turn taken otherwise than the client's API takes it), named as it is.
        const named = Object.hasOwn(clientFields, field) ? middle.clientFields?.[field] ?? clientFields[field] : Object.hasOwn(body, field) || !Object.hasOwn(middle.body, field) ? field : undefined;
        if (named !== undefined && !removed.includes(named)) removed.push(named);
      }
      // What the model refuses of the upstream body (params.ts), named as the client sent it: through the inner
      // half's names for the middle fields, then the outer half's for the client's.
      const names: Record<string, string> = {};
      const innerNames = upstream.clientFields ?? {};
      const outerNames = { ...clientFields, ...middle.clientFields };
      for (const field of new Set([...Object.keys(innerNames), ...Object.keys(outerNames)])) {
        const inMiddle = Object.hasOwn(innerNames, field) ? innerNames[field]! : field;
        names[field] = Object.hasOwn(outerNames, inMiddle) ? outerNames[inMiddle]! : inMiddle;
      }
      const toolNames = composedToolNames(upstream.toolNames, middle.toolNames);
      const out: TranslatedRequest = { body: upstream.body, removed, clientFields: names };
      if (toolNames.size > 0) out.toolNames = toolNames;
      // The inner half's word on where the body's output limit is (a Messages body on Bedrock's InvokeModel).
      if (upstream.limitSurface) out.limitSurface = upstream.limitSurface;
      return out;
    },
    answer: (upstream, scope) => outer.answer(inner.answer(upstream, middleScope(scope)), scope),
    error: (status, upstream) => outer.error(status, inner.error(status, upstream)),
    ...(outer.errorHeaders ? { errorHeaders: outer.errorHeaders } : {}),
    stream: (scope) => new ComposedStream(inner.stream(middleScope(scope)), outer.stream(scope)),
  };
}

/**
 * The client's name of each tool the upstream knows by another, through both halves' renamings (a Gemini function
 * named `ns.tool` goes to chat, and on to Messages, as `ns_tool_…`). The middle scope gets none: the inner half
 * leaves the upstream's names as they are, and the outer half maps them to the client's with this.
 */
function composedToolNames(inner: ReadonlyMap<string, string> | undefined, outer: ReadonlyMap<string, string> | undefined): Map<string, string> {
  const names = new Map<string, string>();
  const renamedInside = new Set(inner?.values());
  for (const [middle, client] of outer ?? []) if (!renamedInside.has(middle)) names.set(middle, client);
  for (const [upstream, middle] of inner ?? []) names.set(upstream, outer?.get(middle) ?? middle);
  return names;
}

/**
 * The middle stream always carries usage (the client's half reports it), and keeps nothing of its own; it names the
 * upstream's model (Converse's answers name none) and logs what it leaves out as the client's half would.
 */
function middleScope(scope: TranslationScope): TranslationScope {
  return { accountId: scope.accountId, keep: false, includeUsage: true, model: scope.model, warn: scope.warn };
}

/** The inner translation's SSE text, read back event by event into the outer one. */
class ComposedStream<Out extends string | Uint8Array> implements StreamTranslation<Out> {
  readonly #inner: StreamTranslation;
  readonly #outer: StreamTranslation<Out>;
  readonly #parser: EventSourceParser;

  constructor(inner: StreamTranslation, outer: StreamTranslation<Out>) {
    this.#inner = inner;
    this.#outer = outer;
    this.#parser = createParser({ onEvent: (e) => outer.event(e.event ?? '', e.data) });
  }

  event(event: string, data: string): void {
    this.#inner.event(event, data);
    this.#parser.feed(this.#inner.take());
  }

  take(): Out {
    return this.#outer.take();
  }

  nextSequence(): number {
    return this.#outer.nextSequence?.() ?? 0;
  }

  /** What both halves keep: each its own parts of the answer (a Responses client's output, thinking from Claude). */
  get held(): number {
    return (this.#inner.held ?? 0) + (this.#outer.held ?? 0);
  }

  failure(): TollgateError | undefined {
    return this.#outer.failure?.() ?? this.#inner.failure?.();
  }

  finish(): Out {
    this.#parser.feed(this.#inner.finish());
    // An event the inner half left without its blank line is dispatched, not dropped.
    this.#parser.reset({ consume: true });
    // The inner half refused the answer and wrote no final events: the outer half's (ConverseStream's messageStop
    // with a stop reason, its metadata) would tell the client the answer was whole before the error event ends it.
    return this.#inner.failure?.() ? this.#outer.take() : this.#outer.finish();
  }
}
