// Reads the request body into one Buffer, refusing more than the configured limit (413) as soon as the
// declared length or the bytes received exceed it.
import type { IncomingMessage } from 'node:http';
import { brotliDecompress, gunzip, inflate, inflateRaw, zstdDecompress, type ZlibOptions } from 'node:zlib';
import { byteSize } from '../domain/byte-size.ts';
import { tollgateError, type TollgateError } from '../domain/errors.ts';
import { withoutRepeatedKeys } from './body-edit.ts';

export function tooLarge(limit: number): TollgateError {
  return tollgateError('requestBodyTooLong', { limit: byteSize(limit) });
}

/** The client's connection closed before its body was read: what node:http raises for it ('aborted'). */
export function clientLeft(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/** Set on a request that sent `Expect: 100-continue`: sends the `100 Continue` it waits for before uploading. */
const CONTINUE = Symbol('tollgate.continue');
type AwaitingContinue = IncomingMessage & { [CONTINUE]?: () => void };

/**
 * A request that asked whether to send its body (`Expect: 100-continue`, node's 'checkContinue'): told to go on only
 * when its body is read (readBody), so a request refused first (a wrong key, an unknown path) is answered without the
 * upload — node's default sent `100 Continue` at once, and a client then uploaded its whole body for a 401.
 */
export function awaitContinue(req: IncomingMessage, writeContinue: () => void): void {
  (req as AwaitingContinue)[CONTINUE] = writeContinue;
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  // Gone while the request waited (a key looked up in a slow database): its stream will never emit again.
  if (req.destroyed) return Promise.reject(clientLeft());
  const goOn = (req as AwaitingContinue)[CONTINUE];
  if (goOn) {
    (req as AwaitingContinue)[CONTINUE] = undefined;
    goOn();
  }
  return new Promise((resolve, reject) => {
    // Most bodies come in one chunk: an array only for a second one.
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let ended = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(tooLarge(limit));
        return;
      }
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    };
    req.on('data', onData);
    // `on`, not `once`: each of these fires once at most, and `once` wrapped each listener in two objects more (a
    // settled promise ignores a late 'error').
    req.on('end', () => {
      ended = true;
      resolve(chunks !== undefined ? Buffer.concat(chunks, size) : first ?? Buffer.alloc(0));
    });
    req.on('error', reject);
    req.on('close', () => { if (!ended) reject(clientLeft()); });
  });
}

type Decode = (body: Buffer, options: ZlibOptions, done: (error: Error | null, result: Buffer) => void) => void;

/**
 * `deflate` is zlib-wrapped by RFC 9110, but some clients send the raw stream under that name (as servers long did
 * with answers): read as zlib first, as raw deflate if the zlib header is not there.
 */
const inflateEither: Decode = (body, options, done) => {
  inflate(body, options, (error, result) => {
    if (error && (error as NodeJS.ErrnoException).code === 'Z_DATA_ERROR') inflateRaw(body, options, done);
    else done(error, result);
  });
};

/** Request codings the gateway decodes (clients and proxies that compress what they send). */
const REQUEST_DECODERS = new Map<string, Decode>([['gzip', gunzip], ['x-gzip', gunzip], ['deflate', inflateEither], ['br', brotliDecompress], ['zstd', zstdDecompress as Decode]]);

/**
 * The body as sent, decoded when the client compressed it (`Content-Encoding`): the decoded size is held to the same
 * limit (413 past it), on zlib's thread pool. A coding the gateway does not decode is refused by name, not read as
 * JSON that is "not valid".
 */
export function decodedBody(req: IncomingMessage, received: Buffer, limit: number): Buffer | Promise<Buffer> {
  const coding = req.headers['content-encoding'];
  if (coding === undefined) return received;
  const name = coding.trim().toLowerCase();
  if (name === '' || name === 'identity') return received;
  const decode = REQUEST_DECODERS.get(name);
  if (!decode) throw tollgateError('badRequestBody', { reason: `Content-Encoding "${name.slice(0, 40)}" is not one the gateway decodes (gzip, deflate, br or zstd); send the body uncompressed or in one of those.` });
  return new Promise((resolve, reject) => {
    decode(received, { maxOutputLength: limit }, (error, result) => {
      if (!error) resolve(result);
      else if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(tooLarge(limit));
      else reject(tollgateError('badRequestBody', { reason: `the body is not valid ${name} data.` }));
    });
  });
}

/** Two top-level keys equal but for case (`model` and `Model`), if the body has such a pair. */
function caseTwins(body: Record<string, unknown>): [string, string] | undefined {
  const seen = new Map<string, string>();
  for (const key of Object.keys(body)) {
    const folded = key.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) return [other, key];
    seen.set(folded, key);
  }
  return undefined;
}

/**
 * The body as a JSON object, or 400 ERR_NGROK_3801; `raw` as the gateway will forward it: with each top-level key
 * once (see withoutRepeatedKeys), the very bytes received otherwise.
 */
export function parseBody(received: Buffer): { raw: Buffer; body: Record<string, unknown> } {
  const text = received.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Editors on Windows save "UTF-8" with a byte order mark: the JSON looks valid to its author, so it is named.
    throw tollgateError('badRequestBody', { reason: text.charCodeAt(0) === 0xfeff ? 'the body starts with a byte order mark (U+FEFF), which JSON sent over a network must not carry (RFC 8259 §8.1); send UTF-8 without it.' : 'the body is not valid JSON.' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw tollgateError('badRequestBody', { reason: 'the body must be a JSON object.' });
  }
  const body = parsed as Record<string, unknown>;
  // One pass over the keys for both checks below, on every request: no array, no map (ordinary bodies have
  // lower-case keys only, so the case-twin search runs only when one is not).
  let keys = 0;
  let upper = false;
  for (const key in body) {
    keys++;
    if (!upper && key !== key.toLowerCase()) upper = true;
  }
  const twins = upper ? caseTwins(body) : undefined;
  if (twins) throw tollgateError('badRequestBody', { reason: `the keys "${twins[0]}" and "${twins[1]}" differ only in case; providers that match keys regardless of case (Go's JSON decoder: Ollama, vLLM routers) could read the one the gateway did not check. Send one.` });
  const deduplicated = withoutRepeatedKeys(text, body, keys);
  return { raw: deduplicated === undefined ? received : Buffer.from(deduplicated), body };
}
