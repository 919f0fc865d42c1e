// RFC 2397 data URLs, as chat clients send images and files: `data:[<mediatype>][;base64],<data>`, where the media
// type may carry parameters (`;charset=utf-8`, `;name=photo.png`: browsers' FileReader and several SDKs write them).
// A pattern taking only `data:<type>;base64,` read those as web addresses, which Anthropic cannot fetch. No package
// the gateway depends on exports a parser (undici's is internal), and this one never decodes base64 data it is
// given: an image of megabytes passes through as the client sent it.

import { isUtf8 } from 'node:buffer';

/** A data URL's parts: its media type (lowercased; RFC 2397's default when left out), parameters, and data as base64. */
export interface DataUrl {
  mediaType: string;
  /** Attribute names lowercased, values percent-decoded, as RFC 2045 leaves a value's case to its attribute. */
  parameters: Readonly<Record<string, string>>;
  base64: string;
}

/** RFC 2045's token: what a type, subtype or attribute may be made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The data URL's parts; undefined for anything else, or a malformed one (it is then no data the model could be given). */
export function parseDataUrl(url: string): DataUrl | undefined {
  if (url.slice(0, 5).toLowerCase() !== 'data:') return undefined;
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const header = url.slice(5, comma).split(';').map((s) => s.trim());
  const base64 = header.length > 1 && header.at(-1)!.toLowerCase() === 'base64';
  if (base64) header.pop();
  const [type = '', ...params] = header;
  const slash = type.indexOf('/');
  if (type !== '' && !(slash > 0 && TOKEN.test(type.slice(0, slash)) && TOKEN.test(type.slice(slash + 1)))) return undefined;
  const parameters: Record<string, string> = {};
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = param.slice(0, eq).trim();
    if (eq <= 0 || !TOKEN.test(name)) return undefined;
    const value = percentDecoded(param.slice(eq + 1).trim().replace(/^"(.*)"$/s, '$1'));
    if (value === undefined) return undefined;
    parameters[name.toLowerCase()] = value.toString('utf8');
  }
  // RFC 2397: "If <mediatype> is omitted, it defaults to text/plain;charset=US-ASCII."
  if (type === '' && params.length === 0) parameters.charset = 'US-ASCII';
  const data = base64 ? base64Data(url.slice(comma + 1)) : percentDecoded(url.slice(comma + 1))?.toString('base64');
  return data === undefined ? undefined : { mediaType: type === '' ? 'text/plain' : type.toLowerCase(), parameters, base64: data };
}

/** Base64 data as Anthropic takes it: without the whitespace or percent-escapes (`%2B`, `%3D`) a URL may hold. */
function base64Data(data: string): string | undefined {
  const unescaped = data.includes('%') ? percentDecoded(data)?.toString('latin1') : data;
  const compact = unescaped?.replace(/\s+/g, '');
  return compact !== undefined && compact.length % 4 !== 1 && BASE64.test(compact) ? compact : undefined;
}

/** RFC 3986 percent-decoding to bytes (the data of a URL need not be UTF-8); undefined for a broken escape. */
function percentDecoded(text: string): Buffer | undefined {
  if (!text.includes('%')) return Buffer.from(text, 'utf8');
  // Split on the escapes: the odd pieces are escapes, the even ones text, in which a '%' left is a broken escape.
  const pieces = text.split(/(%[0-9A-Fa-f]{2})/);
  if (pieces.some((piece, i) => i % 2 === 0 && piece.includes('%'))) return undefined;
  return Buffer.concat(pieces.map((piece, i) => (i % 2 === 1 ? Buffer.of(parseInt(piece.slice(1), 16)) : Buffer.from(piece, 'utf8'))));
}

/**
 * Base64 data as UTF-8 text; undefined when its bytes are not UTF-8. A text document carries text, and a lossy
 * decoding would give the model U+FFFD where the file's characters were.
 */
function utf8Text(base64: string): string | undefined {
  const bytes = Buffer.from(base64, 'base64');
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/** Charsets read as UTF-8: none named, UTF-8's own names, and US-ASCII (RFC 2397's default), which UTF-8 contains. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * A text file's text (its type text: isTextMediaType), read in the charset its data URL names
 * (`data:text/csv;charset=windows-1252;base64,…`, as a spreadsheet exports it), else as UTF-8; undefined for a file
 * of another type, when its bytes are not text in that charset, or the charset is one the gateway cannot read. A file
 * that says what it is written in is read so, not refused as not UTF-8.
 */
export function fileText(file: DataUrl): string | undefined {
  if (!isTextMediaType(file.mediaType)) return undefined;
  const charset = file.parameters.charset?.toLowerCase();
  if (charset === undefined || UTF8_CHARSETS.has(charset)) return utf8Text(file.base64);
  try {
    return new TextDecoder(charset, { fatal: true }).decode(Buffer.from(file.base64, 'base64'));
  } catch {
    return undefined;
  }
}

/**
 * Types that are text though not `text/*`, as editors, browsers and SDKs label source and data files: JSON, XML,
 * YAML, TOML, CSV, scripts, SQL. Anthropic's text document takes `text/plain` alone, so refusing these kept a
 * `config.json` or a `deploy.sh` from Claude though it reads them as well as a `.txt`.
 */
const TEXT_APPLICATION_TYPES = new Set([
  'application/json', 'application/x-ndjson', 'application/jsonl', 'application/xml', 'application/yaml', 'application/x-yaml',
  'application/toml', 'application/csv', 'application/javascript', 'application/x-javascript', 'application/ecmascript',
  'application/typescript', 'application/x-typescript', 'application/x-sh', 'application/x-shellscript', 'application/x-csh',
  'application/x-python', 'application/x-httpd-php', 'application/x-php', 'application/sql', 'application/graphql',
  'application/x-tex', 'application/x-latex',
]);

/** RFC 6839 and RFC 9512's structured-syntax suffixes of text syntaxes (`application/ld+json`, `application/atom+xml`). */
const TEXT_SUFFIX = /\+(json|xml|yaml)$/;

/**
 * Whether a (lowercased) media type is text: `text/*`, TEXT_APPLICATION_TYPES, or a type of a text syntax's suffix.
 * Its bytes still have to be text (`fileText`): a type says what a file claims to be.
 */
export function isTextMediaType(mediaType: string): boolean {
  return mediaType.startsWith('text/') || TEXT_APPLICATION_TYPES.has(mediaType) || TEXT_SUFFIX.test(mediaType);
}
