// Token figures that need no tokenizer, for the gateway's event loop: importing tokens.ts loads the o200k
// ranks (~0.4 s, ~80 MB), which only the tokenizer thread may do.
/**
 * A bound no estimate of this body exceeds, for free: the body's byte length. A tokenizer run over the body
 * itself never yields more tokens than bytes; the request estimate is clamped to it (tokens.ts estimateRawRequestInputTokens)
 * because its framing tokens and re-serialised tool JSON can exceed the bytes of degenerate bodies (a thousand
 * `{}` messages, `1e300` in a schema). Lets admission skip tokenising whenever the bound already decides.
 */
export function inputTokensUpperBound(rawBody: Buffer): number {
  return rawBody.length;
}

/** The estimate when the tokenizer cannot answer in time (or at all): about four bytes a token. */
export function lengthEstimate(bytes: number): number {
  return Math.ceil(bytes / 4);
}
