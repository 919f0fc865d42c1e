// Upstream answers the gateway must decode. It asks every provider for `accept-encoding: identity`, but some
// servers (a proxy in front of a self-hosted model, an OpenAI-compatible host) compress anyway; passed on without
// their `content-encoding` the bytes were unreadable to the client and to the usage meter alike.
import { createBrotliDecompress, createGunzip, createInflate, createZstdDecompress, constants, type Zlib } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';

type Decoder = Transform & Zlib;

const DECODERS = new Map<string, () => Decoder>([
  ['gzip', createGunzip],
  ['x-gzip', createGunzip],
  ['deflate', createInflate],
  ['br', createBrotliDecompress],
  // RFC 9659: a recipient may refuse windows above 8 MiB, which bounds the decoder's memory per answer.
  ['zstd', () => createZstdDecompress({ params: { [constants.ZSTD_d_windowLogMax]: 23 } })],
]);

/**
 * The decoder for an answer's `content-encoding`, or undefined when the body is to be read as it is: no coding,
 * `identity`, or one this gateway cannot decode (several codings, `compress`) — those keep their header, so the
 * client can still decode a JSON answer itself.
 */
export function decoderFor(headers: IncomingHttpHeaders): Decoder | undefined {
  const coding = headers['content-encoding'];
  if (coding === undefined) return undefined;
  const name = coding.trim().toLowerCase();
  if (name === 'identity' || name === '') {
    delete headers['content-encoding'];
    return undefined;
  }
  const make = DECODERS.get(name);
  if (!make) return undefined;
  // The body the client gets is the decoded one: its length is no longer the upstream's.
  delete headers['content-encoding'];
  delete headers['content-length'];
  return make();
}
