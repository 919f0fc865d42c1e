// Token figures that need no tokenizer, for the gateway's event loop: importing tokens.ts loads the o200k
// ranks (~0.4 s, ~80 MB), which only the tokenizer thread may do.
import { mediaBound } from './media-tokens.ts';

/**
 * A bound no estimate of this body exceeds, without tokenising: the body's byte length plus its media's bounds. A
 * tokenizer run over the body itself never yields more tokens than bytes; the text estimate is clamped to it
 * (tokens.ts estimateRawRequestInputTokens) because its framing tokens and re-serialised tool JSON can exceed the
 * bytes of degenerate bodies (a thousand `{}` messages, `1e300` in a schema). Media are billed by what they show,
 * not by their bytes (an image URL is a few dozen bytes and up to 5,000 tokens), so both add the same media figure
 * (media-tokens.ts), read from `body`, the parsed `rawBody`. Lets admission skip tokenising whenever the bound decides.
 */
export function inputTokensUpperBound(rawBody: Buffer, body: unknown): number {
  return inputTokenBounds(rawBody, body).bound;
}

/**
 * The same bound, and the part of it for media sent by reference (addresses, file ids), which the account's input cap
 * leaves out: a two-page PDF by URL is not refused under a 100,000-token cap on its 100-page bound.
 */
export function inputTokenBounds(rawBody: Buffer, body: unknown): { bound: number; referenced: number } {
  const media = mediaBound(body);
  return { bound: rawBody.length + media.tokens, referenced: media.referenced };
}

/** The estimate when the tokenizer cannot answer in time (or at all): about four bytes a token. */
export function lengthEstimate(bytes: number): number {
  return Math.ceil(bytes / 4);
}
