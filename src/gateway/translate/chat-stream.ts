// Reading an upstream chat-completions stream for a translation: each chunk's parts (its start, text, tool-call
// pieces, finish reason, usage, or a provider error) go to the translation's hooks, which write the client's events.
import { obj, parseJson } from '../formats/types.ts';
import type { StreamTranslation } from './types.ts';
import type { TollgateError } from '../../domain/errors.ts';
import { chatReasoning, chatText, objects, type Json } from './json.ts';

/** A call not yet named: its id, once given, and its argument pieces so far. */
export interface WaitingCall { id: string | undefined; args: string }

/**
 * Tool calls whose name has not come yet, by call index. Some chat servers name a call in a later chunk than its
 * first, after argument pieces even; the client's format reads the name, and with it the kind of call, where the
 * call opens (a Messages block's start, a Responses item's `added` event). So a call's pieces wait here until its
 * name comes — only that call's; the rest of the stream goes on.
 */
export class UnnamedCalls {
  readonly #calls = new Map<number, WaitingCall>();

  /** A piece of a call not opened yet: the call, all its arguments so far, once this piece names it; else undefined. */
  named(at: number, call: Json): (WaitingCall & { name: string }) | undefined {
    const fn = obj(call.function);
    const waiting = this.#calls.get(at);
    const id = typeof call.id === 'string' ? call.id : waiting?.id;
    const args = (waiting?.args ?? '') + (typeof fn?.arguments === 'string' ? fn.arguments : '');
    if (typeof fn?.name !== 'string' || fn.name === '') {
      this.#calls.set(at, { id, args });
      return undefined;
    }
    this.#calls.delete(at);
    return { id, name: fn.name, args };
  }

  /** The calls still waiting, in arrival order, taken out: at the stream's end a call is a call, named or not. */
  take(): [number, WaitingCall][] {
    const waiting = [...this.#calls];
    this.#calls.clear();
    return waiting;
  }
}

export abstract class FromChatStream implements StreamTranslation {
  /** Client SSE text written since the last take(). */
  protected out = '';
  /** The client's stream is ended (closed, or an error event was written): nothing more is translated. */
  #done = false;
  /** Set by close() when the answer cannot be given (StreamTranslation.failure): close() then wrote no final events. */
  protected refused: TollgateError | undefined;
  /**
   * Characters of the answer kept until the close (StreamTranslation.held). Every call's arguments are: each
   * translation checks or sends them whole there. A subclass adds what else it keeps.
   */
  protected kept = 0;

  get held(): number {
    return this.kept;
  }

  /** The first chunk with a choice or usage (or, for a stream with none, an empty one at the close). */
  protected abstract started(chunk: Json): void;
  protected abstract usage(usage: unknown): void;
  protected abstract text(piece: string): void;
  /** A refusal streamed in its own field: text for formats without a refusal of their own (Messages). */
  protected refusal(piece: string): void {
    this.text(piece);
  }
  /** A piece of the model's reasoning (`reasoning_content`, or `reasoning`): left out unless the client's format has a place for it. */
  protected reasoning(_piece: string): void {}
  /** The answer's signed reasoning, whole (`reasoning_details`: chat-via-messages.ts writes Claude's in the finish chunk). */
  protected reasoningDetails(_details: Json[]): void {}
  /** Citations of the text (`delta.annotations`, OpenAI's search models): left out unless the client's format has a place for them. */
  protected annotations(_annotations: unknown): void {}
  /** One tool-call piece: `index`, and `id`/`function.name` when it opens the call, `function.arguments` pieces. */
  protected abstract toolCall(call: Json): void;
  protected abstract finishReason(reason: string): void;
  /** The provider sent an error chunk: written as the client's error event, and nothing follows it. */
  protected abstract failed(error: Json): void;
  /** Closes what is still open and writes the client's final events. */
  protected abstract close(): void;

  #started = false;
  /** The highest call index handed out so far. */
  #lastCall = -1;
  /** By upstream `index`: the call it currently continues (our index) and that call's id. */
  #byIndex = new Map<number, { call: number; id: string | undefined }>();
  /** Calls without an upstream index, by id. */
  #byId = new Map<string, number>();
  /** The last call opened has its name: a named piece with neither index nor id is then another call. */
  #lastNamed = false;

  /**
   * The call a piece belongs to, numbered from 0 in the order calls open. OpenAI numbers its calls (`index`), but
   * Ollama gives every parallel call `index: 0`, each with its own `id`: a new id at a used index is a new call.
   * Google's endpoint numbers none and sends each call whole with its `id`. A piece with no id continues the last
   * call — unless it has no index either and carries a name while that call is named already: some
   * OpenAI-compatible servers send each call whole with neither, and a call is named once, in its first piece.
   */
  #callIndex(call: Json): number {
    const id = typeof call.id === 'string' && call.id !== '' ? call.id : undefined;
    const fn = obj(call.function);
    const named = typeof fn?.name === 'string' && fn.name !== '';
    const before = this.#lastCall;
    const index = this.#pieceCall(call, id, named);
    if (index > before) this.#lastNamed = named;
    else if (index === this.#lastCall) this.#lastNamed ||= named;
    return index;
  }

  #pieceCall(call: Json, id: string | undefined, named: boolean): number {
    if (typeof call.index === 'number') {
      const seen = this.#byIndex.get(call.index);
      if (seen && (id === undefined || seen.id === undefined || seen.id === id)) {
        seen.id ??= id;
        return seen.call;
      }
      const opened = ++this.#lastCall;
      this.#byIndex.set(call.index, { call: opened, id });
      return opened;
    }
    if (id === undefined) return this.#lastCall < 0 || (named && this.#lastNamed) ? ++this.#lastCall : this.#lastCall;
    let opened = this.#byId.get(id);
    if (opened === undefined) {
      opened = ++this.#lastCall;
      this.#byId.set(id, opened);
    }
    return opened;
  }

  event(_event: string, data: string): void {
    if (this.#done) return;
    if (data === '[DONE]') {
      this.#end();
      return;
    }
    const chunk = obj(parseJson(data));
    if (!chunk) return;
    const failure = obj(chunk.error);
    if (failure) {
      this.failed(failure);
      this.#done = true;
      return;
    }
    const choice = obj(Array.isArray(chunk.choices) ? chunk.choices[0] : undefined);
    // Moonshot's Kimi streams its usage inside the last chunk's choice, beside the finish reason (the meter reads it there too).
    const usage = chunk.usage ?? choice?.usage;
    // A chunk with neither (Azure's prompt_filter_results, first, its id and model empty) names nothing: the stream
    // starts at the first that carries something, whose id and model are the answer's.
    if (choice || usage) this.#start(chunk);
    if (usage) this.usage(usage);
    if (!choice) return;
    const delta = obj(choice.delta);
    const reasoning = chatReasoning(delta);
    if (reasoning !== '') this.reasoning(reasoning);
    if (Array.isArray(delta?.reasoning_details)) this.reasoningDetails(objects(delta.reasoning_details));
    const text = chatText(delta?.content);
    if (text !== '') this.text(text);
    if (delta && typeof delta.refusal === 'string' && delta.refusal !== '') this.refusal(delta.refusal);
    if (Array.isArray(delta?.annotations)) this.annotations(delta.annotations);
    if (Array.isArray(delta?.tool_calls)) {
      for (const call of delta.tool_calls) {
        const c = obj(call);
        if (!c) continue;
        const args = obj(c.function)?.arguments;
        if (typeof args === 'string') this.kept += args.length;
        this.toolCall({ ...c, index: this.#callIndex(c) });
      }
    }
    if (typeof choice.finish_reason === 'string') this.finishReason(choice.finish_reason);
  }

  #start(chunk: Json): void {
    if (this.#started) return;
    this.#started = true;
    this.started(chunk);
  }

  #end(): void {
    if (this.#done) return;
    this.#start({});
    this.close();
    this.#done = true;
  }

  take(): string {
    const out = this.out;
    this.out = '';
    return out;
  }

  finish(): string {
    this.#end();
    return this.take();
  }

  failure(): TollgateError | undefined {
    return this.refused;
  }
}
