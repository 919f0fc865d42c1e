// Automatic model selection (`ngrok/auto`, or no `model` on chat, Responses and Messages): the gateway picks the
// model. As ngrok.ai does, models are put into three price bands by their input price, the prompt is rated for the
// capability it needs, and the models are tried cheapest-that-fits first. Tollgate rates the prompt locally (a
// few regular expressions over its text) rather than by asking a classifier model: no second call, no cost, no
// added second of latency, and the same prompt always gets the same band. docs/decisions/gateway-routing.md.
import type { Catalog } from '../catalog/index.ts';
import type { ApiSurface, CatalogModel } from '../catalog/types.ts';

export const AUTO_MODEL = 'ngrok/auto';

/** Surfaces where leaving `model` out asks for automatic selection, as on ngrok.ai; elsewhere it must be named. */
const MODEL_OPTIONAL: ReadonlySet<ApiSurface> = new Set(['chat-completions', 'responses', 'messages']);

export type Band = 'low' | 'medium' | 'high';
const BANDS: readonly Band[] = ['low', 'medium', 'high'];

/** Input price (USD per million tokens, in micro-USD) from which a model is in the medium and in the high band. */
const MEDIUM_FROM = 1_000_000n;
const HIGH_FROM = 4_000_000n;

/** At most this many models are tried for one request (each with its keys): failover, not a tour of the catalog. */
export const AUTO_CANDIDATES = 3;

export function bandOf(model: CatalogModel): Band {
  const input = model.priceMicro!.input;
  return input >= HIGH_FROM ? 'high' : input >= MEDIUM_FROM ? 'medium' : 'low';
}

/** Whether the request asks the gateway to choose: `ngrok/auto` as its model, or (chat, Responses, Messages) none. */
export function asksForAutoSelection(body: Record<string, unknown>, surface: ApiSurface): boolean {
  if (surface === 'count-tokens') return false;
  // Length first: this runs on every request, and lower-casing each model name would allocate.
  if (typeof body.model === 'string') return body.model.length === AUTO_MODEL.length && body.model.toLowerCase() === AUTO_MODEL;
  const noFallbacks = body.models === undefined || body.models === null || (Array.isArray(body.models) && body.models.length === 0);
  return (body.model === undefined || body.model === null) && noFallbacks && MODEL_OPTIONAL.has(surface);
}

interface PromptView {
  /** The last user turn's text (the last one with any: a turn of tool results only asks nothing new). */
  ask: string;
  /** Characters of text in the whole conversation, tool results and tool definitions included. */
  chars: number;
  images: boolean;
  files: boolean;
  audio: boolean;
}

interface Collected { text: string[]; chars: number; images: boolean; files: boolean; audio: boolean }
const collected = (): Collected => ({ text: [], chars: 0, images: false, files: false, audio: false });

/** Text and media of a turn's content, nested content (a tool result's) included; `depth` bounds the walk. */
function collect(content: unknown, into: Collected, depth = 0): void {
  if (typeof content === 'string') {
    into.text.push(content);
    into.chars += content.length;
    return;
  }
  if (!Array.isArray(content) || depth > 4) return;
  for (const part of content) {
    if (typeof part === 'string') {
      collect(part, into, depth + 1);
      continue;
    }
    if (part === null || typeof part !== 'object') continue;
    const p = part as Record<string, unknown>;
    const type = typeof p.type === 'string' ? p.type : '';
    if (typeof p.text === 'string') collect(p.text, into, depth + 1);
    if (type.includes('image')) into.images = true;
    if (type === 'file' || type === 'input_file' || type === 'document') into.files = true;
    if (type.includes('audio')) into.audio = true;
    // A tool result's own content (Messages), a function call's output (Responses).
    if (p.content !== undefined) collect(p.content, into, depth + 1);
    if (p.output !== undefined) collect(p.output, into, depth + 1);
  }
}

function promptView(body: Record<string, unknown>, surface: ApiSurface): PromptView {
  let ask: string[] = [];
  const all = collected();
  const turns = surface === 'responses' ? body.input : body.messages;
  if (typeof turns === 'string') {
    collect(turns, all);
    ask = all.text.slice();
  } else if (Array.isArray(turns)) {
    for (const turn of turns) {
      if (turn === null || typeof turn !== 'object') continue;
      const t = turn as Record<string, unknown>;
      const own = collected();
      // A turn's content; a Responses item without a role (a function call's output) is read for its size.
      collect(t.content ?? (t.output !== undefined ? [t] : undefined), own);
      for (const t of own.text) all.text.push(t);
      all.chars += own.chars;
      all.images ||= own.images;
      all.files ||= own.files;
      all.audio ||= own.audio;
      // Tool results ride in user turns (Messages): only a turn with text of its own is a new ask.
      const text = Array.isArray(t.content) ? (t.content as unknown[]).filter((b) => (b as { type?: unknown } | null)?.type !== 'tool_result') : t.content;
      if (t.role === 'user') {
        const words = collected();
        collect(text, words);
        if (words.text.some((w) => w.trim() !== '')) ask = words.text;
      }
    }
  } else if (surface === 'completions' || surface === 'embeddings') {
    collect(surface === 'completions' ? body.prompt : body.input, all);
    ask = all.text.slice();
  }
  if (typeof body.system === 'string' || Array.isArray(body.system)) collect(body.system, all);
  if (typeof body.instructions === 'string') collect(body.instructions, all);
  // Tool definitions count towards the context as well (a large agent's can be tens of thousands of tokens).
  if (Array.isArray(body.tools)) all.chars += JSON.stringify(body.tools).length;
  return { ask: ask.join('\n'), chars: all.chars, images: all.images, files: all.files, audio: all.audio };
}

/**
 * Only this much of the ask is rated, its start and its end: enough to see what is asked, and the regular
 * expressions below then run in bounded time whatever the client sent (a body may be 32 MiB).
 */
const RATED_CHARS = 4000;

/** Multi-step reasoning, proofs, competition maths, expert analysis: the high band. */
const HARD = /\b(prove (that|the|this|it)|proof (that|of (the|this) (theorem|lemma|claim|conjecture|inequality|identity|statement))|theorems?|lemmas?|rigorous(ly)?|derive (the|a|an) (formula|equation|expression|bound)|derivation of|olympiad|(competition|contest)[- ](math|maths|problem)|formally verify|asymptotic(ally)?|np-(hard|complete)|in[- ]depth analysis|analy[sz]e (the )?trade-?offs?|design (a|an) (distributed|scalable|fault[- ]tolerant|highly available) |threat model)/i;
/** Ordinary professional work — code, queries, documents, data: the medium band. */
const WORK = /```|=>|\bdef \w{1,64}\(|\bselect\s[^\n]{0,200}?\sfrom\b|\b(code|coding|function|sql|query|bug|exception|stack ?trace|traceback|refactor|implement|debug|compile|unit tests?|script|python|javascript|typescript|json|yaml|csv|summari[sz]e|summary of|translate|spreadsheet|analy[sz]e|explain (how|why))\b/i;
/** Long-form writing whose quality is the answer (little step-by-step reasoning): the high band, as ngrok.ai places it. */
const WRITING = /\b(write|draft|compose)\b[^.?!\n]{0,40}?\b(essay|blog post|article|speech|cover letter|short story|press release|white ?paper)\b/i;
/** Short pieces that name a long form without being one ("a tweet about my article", "a one-line summary"). */
const SHORT_FORM = /\b(tweet|one[- ]line|one[- ]sentence|title|headline|caption|subject line|summary|tl;?dr)\b/i;
/** Simple asks that look like work but are not: a regex, a unit conversion, a one-line fact. */
const SIMPLE = /\b(regex|regular expression|convert \d|how many [^\n]{0,40}? in|what is the capital|translate (the word|this word))\b/i;

/** The band the prompt needs: simple → low; ordinary professional work → medium; hard reasoning and long-form writing → high. */
export function neededBand(body: Record<string, unknown>, surface: ApiSurface): Band {
  return bandOfAsk(promptView(body, surface).ask, surface);
}

function bandOfAsk(whole: string, surface: ApiSurface): Band {
  if (!MODEL_OPTIONAL.has(surface)) return 'low';
  const ask = whole.length <= RATED_CHARS ? whole : `${whole.slice(0, RATED_CHARS / 2)}\n${whole.slice(-RATED_CHARS / 2)}`;
  if (HARD.test(ask)) return 'high';
  if (WRITING.test(ask) && !SHORT_FORM.test(ask)) return 'high';
  if (whole.length <= 400 && SIMPLE.test(ask)) return 'low';
  if (WORK.test(ask) || whole.length > 1200) return 'medium';
  return 'low';
}

/** The output limit the request asks for, if any: the model must have room for it beside the input. */
function askedOutput(body: Record<string, unknown>): number {
  for (const field of ['max_completion_tokens', 'max_tokens', 'max_output_tokens']) {
    const v = body[field];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  }
  return 0;
}

/**
 * The models automatic selection may try for this request, as `provider:model` addresses, best first: priced
 * catalogued models that write text, take the request's images and files, and fit its input and output limit;
 * those of the needed band cheapest first, then the bands above it (cheapest first), then those below (dearest first).
 * Whether the key may use them and has credentials for them is the caller's to check.
 */
export function autoSelectionOrder(catalog: Catalog, body: Record<string, unknown>, surface: ApiSurface): { band: Band; addresses: string[] } {
  // One walk of the body for both the band and the fit.
  const view = promptView(body, surface);
  const band = bandOfAsk(view.ask, surface);
  // Three characters a token: an estimate on the safe side, without tokenising the prompt on the request path.
  const needed = Math.ceil(view.chars / 3) + askedOutput(body);
  const wantsEmbedding = surface === 'embeddings';
  const fit: { address: string; model: CatalogModel; order: number }[] = [];
  let order = 0;
  for (const provider of catalog.providers) {
    // Bedrock's models are reached by naming them (its own operations name their model in the path; chat completions
    // reach Claude and Gemma on Bedrock as `bedrock:<id>`): automatic selection never picks one, as before Bedrock
    // served chat completions of its own (gateway-behaviour.md, "Amazon Bedrock").
    if (provider.id === 'bedrock') continue;
    for (const model of provider.models) {
      order++;
      if (!model.priceMicro) continue;
      if (wantsEmbedding !== model.outputModalities.includes('embedding')) continue;
      if (!wantsEmbedding && !model.outputModalities.includes('text')) continue;
      if (view.images && !model.inputModalities.includes('image')) continue;
      if (view.files && !model.inputModalities.includes('file')) continue;
      if (view.audio && !model.inputModalities.includes('audio')) continue;
      if (model.contextWindow > 0 && needed > model.contextWindow) continue;
      fit.push({ address: `${provider.id}:${model.id}`, model, order });
    }
  }
  const rank = BANDS.indexOf(band);
  const bandRank = (m: CatalogModel): number => {
    const r = BANDS.indexOf(bandOf(m));
    // The needed band, then each band above it, then those below it (nearest first).
    return r >= rank ? r - rank : BANDS.length + (rank - r);
  };
  fit.sort((a, b) => {
    const byBand = bandRank(a.model) - bandRank(b.model);
    if (byBand !== 0) return byBand;
    const below = BANDS.indexOf(bandOf(a.model)) < rank;
    const byPrice = a.model.priceMicro!.input === b.model.priceMicro!.input ? 0 : a.model.priceMicro!.input < b.model.priceMicro!.input ? -1 : 1;
    return (below ? -byPrice : byPrice) || a.order - b.order;
  });
  return { band, addresses: fit.map((f) => f.address) };
}
