// Raw HTTP/1.1 over a socket, for requests no HTTP client will send (broken framing, oversized header blocks).
import { connect } from 'node:net';

export interface RawAnswer { status: number; headers: Record<string, string>; body: string }

/** Writes `bytes` to the server at `url` and reads until it closes the connection. */
export function rawHttp(url: string, bytes: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text)}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
  });
}

/** An HPACK string literal, never Huffman-coded (RFC 7541 §5.2): its length on a 7-bit prefix, then its bytes. */
function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  const length: number[] = [];
  if (bytes.length < 127) length.push(bytes.length);
  else {
    length.push(127);
    let rest = bytes.length - 127;
    for (; rest >= 128; rest >>= 7) length.push((rest & 127) | 128);
    length.push(rest);
  }
  return Buffer.concat([Buffer.from(length), bytes]);
}

function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * One HTTP/2 request (prior knowledge) whose header list is sent as given, a field repeated included — which node's
 * HTTP/2 client refuses to send for single-value fields such as Authorization. Resolves with the answer's body.
 */
export function rawH2(url: string, fields: readonly (readonly [string, string])[], body?: string, options: { uploadOpen?: boolean } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  // Each field a literal without indexing, its name a literal too (RFC 7541 §6.2.2): no table, no Huffman to get right.
  const block = Buffer.concat(fields.map(([name, value]) => Buffer.concat([Buffer.of(0), hpackString(name), hpackString(value)])));
  const END_STREAM = 1;
  const END_HEADERS = 4;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
        h2Frame(4, 0, 0, Buffer.alloc(0)),
        h2Frame(1, END_HEADERS | (body === undefined ? END_STREAM : 0), 1, block),
        // uploadOpen: the body's first piece only, the upload left going, as a large one is when its answer comes.
        ...(body === undefined ? [] : [h2Frame(0, options.uploadOpen ? 0 : END_STREAM, 1, Buffer.from(body))]),
      ]));
    });
    let buffered = Buffer.alloc(0);
    const data: Buffer[] = [];
    const done = (): void => {
      socket.destroy();
      resolve(Buffer.concat(data).toString('utf8'));
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const [type, flags, stream] = [buffered[3]!, buffered[4]!, buffered.readUInt32BE(5) & 0x7fffffff];
        const payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === 4 && (flags & 1) === 0) socket.write(h2Frame(4, 1, 0, Buffer.alloc(0)));
        if (stream !== 1) continue;
        if (type === 0) data.push(Buffer.from(payload));
        // NO_ERROR: the answer was sent before the body was read, and the upload stopped (as node's client reads it).
        // With the upload left open, a server that answered first must end its answer before it resets (RFC 9113 §8.1).
        if (type === 3 && options.uploadOpen) return reject(new Error(`the server reset the stream (code ${payload.readUInt32BE(0)}) before its answer's END_STREAM`));
        if (type === 3) return payload.readUInt32BE(0) === 0 ? done() : reject(new Error(`the server reset the stream (code ${payload.readUInt32BE(0)})`));
        if ((type === 0 || type === 1) && (flags & END_STREAM) !== 0) return done();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the connection closed before the answer ended')));
  });
}
