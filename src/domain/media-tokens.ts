// Token bounds for the media a prompt carries: images, audio, video and documents (PDFs) in any surface's parts.
// Providers bill them by what the media is (an image's pixels, a recording's seconds, a document's pages), not by
// the bytes of its base64, so the text estimate (tokens.ts) counts none of it; a request holding credit for its
// text alone could overdraw a small balance with one large image. Each part is bounded by the largest count any
// provider family documents for it, since a request on one surface may be served by another family (translation):
// the rules and their sources are in docs/decisions/gateway-routing.md ("Media in the estimate").
//
// No tokenizer here: the gateway's event loop adds these bounds to the byte bound (token-bounds.ts), and the
// tokenizer thread adds them to its estimate (tokens.ts), one figure for both. Cheap on the request path: a part's
// base64 is never decoded whole; its length gives the byte size, and an image's first bytes (a few dozen base64
// characters, a bounded walk over a JPEG's segment headers) give its pixel size.
import { geminiMembers } from './gemini-fields.ts';
import { isRecord } from './json-value.ts';

/**
 * An image whose size is unknown (a URL, a file id, a format whose header is not read): Claude's high-resolution
 * tier (Opus 4.7 and later) takes up to 3.75 megapixels at (w×h)/750 tokens, the most of any family (OpenAI's
 * patch models at most 1,536 patches × 2.46 = 3,779; its tile models 85 + 8 × 170 = 1,445; Gemini 3 2,240).
 */
export const IMAGE_MAX_TOKENS = 5_000;
/** Gemini 3 counts an image at its media resolution, whatever its size: up to 2,240 tokens (ultra high). */
const GEMINI_IMAGE_TOKENS = 2_240;
/** A document page: Claude's text of a page (up to ~3,000 tokens) plus the page's image. */
export const PAGE_TOKENS = 3_000 + IMAGE_MAX_TOKENS;
/** A document of unknown size: Claude reads up to 100 pages a request (Gemini's 1,000 pages at 258–560 each stay below). */
export const DOCUMENT_MAX_TOKENS = 100 * PAGE_TOKENS;
/** Gemini's rates: audio 32 tokens a second, video 263 (Claude takes neither; OpenAI's audio is about 10 a second). */
export const AUDIO_TOKENS_PER_SECOND = 32;
export const VIDEO_TOKENS_PER_SECOND = 263;
/**
 * The fewest bytes a second of compressed media takes: 8 kbit/s, MP3's lowest bitrate (and HE-AAC's floor), so a
 * file's seconds are at most its bytes / 1,000. Uncompressed PCM (WAV, AIFF) takes at least 8,000 (8 kHz, 8-bit mono).
 */
const COMPRESSED_BYTES_PER_SECOND = 1_000;
const PCM_BYTES_PER_SECOND = 8_000;
/** Audio or video of unknown length (a URI): a prompt holds no more than Gemini's 1M-token input. */
export const UNKNOWN_LENGTH_TOKENS = 1_048_576;
/** Segment headers a JPEG's size is looked for in before it counts as unknown (EXIF, ICC and the like come first). */
const JPEG_MAX_SEGMENTS = 64;

type Kind = 'image' | 'audio' | 'video' | 'document';

/** Base64 characters decoded for image headers so far (tests check it stays bounded whatever the data's length). */
let decodedChars = 0;
export function mediaCharsDecoded(): number {
  return decodedChars;
}

/** What mediaBound tells: every media part's bound, and the part of it for media sent by reference. */
export interface MediaBound { tokens: number; referenced: number }

/** Tokens of media sent by reference (an address, a file id, a URI) in the walk under way. */
let referenced = 0;

/**
 * The media tokens of a request body, and how many of them are for media sent by reference: only the provider learns
 * their size, so they are held at their bound but do not count against the account's input cap (pipeline.ts).
 */
export function mediaBound(body: unknown): MediaBound {
  referenced = 0;
  const tokens = mediaTokens(body);
  return { tokens, referenced };
}

/**
 * The media tokens of a request body: every object in it that is a media part of some surface, at its bound. One
 * walk over the parsed body's objects (no string is read beyond a part's header), so the gateway's byte bound and
 * the tokenizer's estimate add the same figure; a media-shaped object outside the prompt (a tool's example) only
 * makes the bound larger.
 */
export function mediaTokens(body: unknown): number {
  let total = 0;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) stack.push(item);
    } else if (isRecord(value)) {
      total += partTokens(value);
      for (const key in value) {
        const member = value[key];
        if (typeof member === 'object' && member !== null) stack.push(member);
      }
    }
  }
  return total;
}

const GEMINI_MEDIA = ['inlineData', 'inline_data', 'fileData', 'file_data'];

/** One content part's media bound, on whichever surface it is written; 0 for anything else. */
function partTokens(part: Record<string, unknown>): number {
  let total = 0;
  // Gemini parts, under either spelling (both counted when sent twice, as the text estimate does); the names are
  // looked for first, as every object of the body comes through here.
  if (GEMINI_MEDIA.some((name) => Object.hasOwn(part, name))) {
    for (const inline of geminiMembers(part, 'inlineData')) if (isRecord(inline)) total += dataTokens(kindOf(mimeOf(inline)), inline.data, mimeOf(inline));
    for (const file of geminiMembers(part, 'fileData')) if (isRecord(file)) total += referenceTokens(kindOf(mimeOf(file)));
  }
  switch (part.type) {
    case 'image_url': {
      // Chat: `{url, detail}`, the URL a data URL or an address.
      const image = part.image_url;
      return total + urlTokens('image', isRecord(image) ? image.url : image);
    }
    case 'input_image':
      // Responses: `image_url` (a data URL or an address) or `file_id`.
      return total + (part.image_url !== undefined || part.file_id !== undefined ? urlTokens('image', part.image_url) : 0);
    case 'input_audio': {
      const audio = part.input_audio;
      if (!isRecord(audio)) return total;
      return total + dataTokens('audio', audio.data, typeof audio.format === 'string' ? `audio/${audio.format}` : undefined);
    }
    case 'file': {
      // Chat: `file: {file_data | file_id, filename}`.
      const file = part.file;
      return total + (isRecord(file) ? fileTokens(file.file_data) : 0);
    }
    case 'input_file':
      // Responses: `file_data`, `file_id` or `file_url`.
      return total + (part.file_data !== undefined || part.file_id !== undefined || part.file_url !== undefined ? fileTokens(part.file_data) : 0);
    case 'image':
    case 'document':
    case 'audio':
    case 'video':
      return total + typedTokens(part.type, part);
  }
  return total;
}

/** Messages `image`/`document` blocks (a `source`), and Interactions contents (`data` or `uri`, `mime_type`). */
function typedTokens(kind: Kind, part: Record<string, unknown>): number {
  const source = part.source;
  if (isRecord(source)) {
    // Messages: base64 (`media_type`), else a URL or a file; a text or content document is text, counted as text.
    if (source.type === 'base64') return dataTokens(kind, source.data, typeof source.media_type === 'string' ? source.media_type : undefined);
    if (source.type === 'text' || source.type === 'content') return 0;
    return referenceTokens(kind);
  }
  const mime = mimeOf(part);
  if (typeof part.data === 'string') return dataTokens(mime ? kindOf(mime) : kind, part.data, mime);
  return part.uri !== undefined ? referenceTokens(kind) : 0;
}

/** A file's `file_data`: a data URL, or bare base64 (a document); absent when sent by id or address. */
function fileTokens(data: unknown): number {
  return typeof data === 'string' && !data.startsWith('data:') ? dataTokens('document', data, undefined) : urlTokens('document', data);
}

/** A data URL (its media type says what it holds), else an address or a file id: unknown size. */
function urlTokens(kind: Kind, url: unknown): number {
  if (typeof url !== 'string' || !url.startsWith('data:')) return referenceTokens(kind);
  // The header ends at the first comma; base64 holds none, so only its first characters are looked at.
  const comma = url.lastIndexOf(',', 256);
  if (comma < 0) return unknownTokens(kind);
  const header = url.slice(5, comma);
  const mime = header.split(';')[0]!.toLowerCase();
  if (!header.endsWith(';base64')) return unknownTokens(mime ? kindOf(mime) : kind);
  return dataTokens(mime ? kindOf(mime) : kind, url, mime, comma + 1);
}

/** Base64 `data` from `start`: its kind's bound from its size (its pixels for an image whose header is read). */
function dataTokens(kind: Kind, data: unknown, mime: string | undefined, start = 0): number {
  if (typeof data !== 'string') return 0;
  const bytes = decodedLength(data, start);
  switch (kind) {
    case 'image': {
      const size = imageSize(data, start, bytes);
      return size ? imageTokens(size[0], size[1]) : IMAGE_MAX_TOKENS;
    }
    case 'audio':
      return Math.min(UNKNOWN_LENGTH_TOKENS, Math.ceil(bytes / bytesPerSecond(mime)) * AUDIO_TOKENS_PER_SECOND);
    case 'video':
      return Math.min(UNKNOWN_LENGTH_TOKENS, Math.ceil(bytes / COMPRESSED_BYTES_PER_SECOND) * VIDEO_TOKENS_PER_SECOND);
    case 'document':
      // Pages are not counted (that would mean decoding the file): about a token a byte — a page that costs its
      // full text is kilobytes of compressed text — at least one page and at most the page limit.
      return Math.min(DOCUMENT_MAX_TOKENS, Math.max(PAGE_TOKENS, bytes));
  }
}

/** Media sent by reference: unknown size, and counted as such (mediaBound). */
function referenceTokens(kind: Kind): number {
  const tokens = unknownTokens(kind);
  referenced += tokens;
  return tokens;
}

function unknownTokens(kind: Kind): number {
  return kind === 'image' ? IMAGE_MAX_TOKENS : kind === 'document' ? DOCUMENT_MAX_TOKENS : UNKNOWN_LENGTH_TOKENS;
}

function bytesPerSecond(mime: string | undefined): number {
  return mime !== undefined && /wav|pcm|aiff|l16/.test(mime) ? PCM_BYTES_PER_SECOND : COMPRESSED_BYTES_PER_SECOND;
}

function mimeOf(holder: Record<string, unknown>): string | undefined {
  const mime = holder.mimeType ?? holder.mime_type;
  return typeof mime === 'string' ? mime.toLowerCase() : undefined;
}

/** What a media type holds; an unknown or absent one is bounded as the dearest kind of unknown length (video). */
function kindOf(mime: string | undefined): Kind {
  if (mime?.startsWith('image/')) return 'image';
  if (mime?.startsWith('audio/')) return 'audio';
  if (mime === 'application/pdf' || mime?.startsWith('text/')) return 'document';
  return 'video';
}

/**
 * An image of w×h pixels: the largest of the families' counts. OpenAI: tile models (`detail` high or auto) fit the
 * image in 2048×2048, scale its short side to 768 and count 170 per 512-px tile plus 85 (`detail: low` is 85, but
 * no other family reads `detail`); patch models count 32-px patches, at most 1,536, times up to 2.46. Claude:
 * (w×h)/750, or 28-px patches on the high-resolution tier, at most IMAGE_MAX_TOKENS. Gemini 2: 258 up to 384×384,
 * else 258 per 768-px tile; Gemini 3: its media resolution, at most 2,240.
 */
export function imageTokens(width: number, height: number): number {
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const short = Math.min(1, 768 / Math.min(w, h));
  const openaiTiles = 85 + 170 * Math.ceil((w * short) / 512) * Math.ceil((h * short) / 512);
  const openaiPatches = Math.ceil(Math.min(1536, Math.ceil(width / 32) * Math.ceil(height / 32)) * 2.46);
  const claude = Math.min(IMAGE_MAX_TOKENS, Math.max(Math.ceil((width * height) / 750), Math.ceil(width / 28) * Math.ceil(height / 28)));
  // Gemini 2 documents no largest image: a header stating billions of pixels is held at what a prompt can hold.
  const gemini = Math.max(GEMINI_IMAGE_TOKENS, width <= 384 && height <= 384 ? 258 : Math.min(UNKNOWN_LENGTH_TOKENS, 258 * Math.ceil(width / 768) * Math.ceil(height / 768)));
  return Math.max(openaiTiles, openaiPatches, claude, gemini);
}

/** Decoded bytes of base64 from `start` (padding aside; a stray character makes it an overestimate, never less). */
function decodedLength(data: string, start: number): number {
  let chars = data.length - start;
  if (data.endsWith('==')) chars -= 2;
  else if (data.endsWith('=')) chars -= 1;
  return Math.floor((Math.max(0, chars) * 3) / 4);
}

const BASE64 = new Int16Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) BASE64[c.charCodeAt(0)] = i;
BASE64['-'.charCodeAt(0)] = 62;
BASE64['_'.charCodeAt(0)] = 63;

/** The decoded byte at `index` of base64 starting at `start` (its 4-character group alone); -1 past the end or on a non-base64 character. */
function byteAt(data: string, start: number, index: number): number {
  const at = start + Math.floor(index / 3) * 4;
  if (at + 4 > data.length) return -1;
  decodedChars += 4;
  let group = 0;
  for (let i = 0; i < 4; i++) {
    const code = data.charCodeAt(at + i);
    const value = code < 128 ? BASE64[code]! : -1;
    if (value < 0 && !(data[at + i] === '=' && i >= 2)) return -1;
    group = (group << 6) | Math.max(value, 0);
  }
  return (group >> (8 * (2 - (index % 3)))) & 0xff;
}

/** The pixel size a PNG, GIF, WebP or JPEG header states, from its first bytes; undefined for anything else. */
function imageSize(data: string, start: number, bytes: number): [number, number] | undefined {
  const at = (i: number) => byteAt(data, start, i);
  const be16 = (i: number) => (at(i) << 8) | at(i + 1);
  const le16 = (i: number) => at(i) | (at(i + 1) << 8);
  const le24 = (i: number) => at(i) | (at(i + 1) << 8) | (at(i + 2) << 16);
  const ascii = (i: number, text: string) => [...text].every((c, k) => at(i + k) === c.charCodeAt(0));
  let size: [number, number] | undefined;
  if (at(0) === 0x89 && ascii(1, 'PNG') && ascii(12, 'IHDR')) size = [be16(16) * 65536 + be16(18), be16(20) * 65536 + be16(22)];
  else if (ascii(0, 'GIF8')) size = [le16(6), le16(8)];
  else if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) {
    if (ascii(12, 'VP8X')) size = [1 + le24(24), 1 + le24(27)];
    else if (ascii(12, 'VP8L')) size = [1 + (le16(21) & 0x3fff), 1 + ((le24(22) >> 6) & 0x3fff)];
    else if (ascii(12, 'VP8 ')) size = [le16(26) & 0x3fff, le16(28) & 0x3fff];
  } else if (at(0) === 0xff && at(1) === 0xd8) size = jpegSize(at, bytes);
  // A byte that could not be read (-1) makes a nonsense size: the image is then of unknown size.
  return size && size[0] > 0 && size[1] > 0 && size.every(Number.isSafeInteger) ? size : undefined;
}

/** A JPEG's frame size: its start-of-frame segment, found by hopping over segment headers (a bounded number). */
function jpegSize(at: (i: number) => number, bytes: number): [number, number] | undefined {
  let pos = 2;
  for (let hop = 0; hop < JPEG_MAX_SEGMENTS && pos + 9 <= bytes; hop++) {
    if (at(pos) !== 0xff) return undefined;
    const marker = at(pos + 1);
    if (marker < 0) return undefined;
    // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC): [FF, marker, length(2), precision, height(2), width(2)].
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (at(pos + 5) << 8) | at(pos + 6);
      const width = (at(pos + 7) << 8) | at(pos + 8);
      return at(pos + 5) < 0 || at(pos + 7) < 0 ? undefined : [width, height];
    }
    if (marker === 0xff) {
      pos += 1;
      continue;
    }
    const length = (at(pos + 2) << 8) | at(pos + 3);
    if (at(pos + 2) < 0 || length < 2) return undefined;
    pos += 2 + length;
  }
  return undefined;
}
