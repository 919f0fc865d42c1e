// What both MCP endpoints (the gateway's and the control plane's own) hold a Streamable HTTP POST's media types to:
// its body must be JSON, and its answer, JSON or an event stream, one the client takes (gateway-behaviour.md, "MCP
// gateway", "Protocol").
import { MIMEType } from 'node:util';

export const UNSUPPORTED_MEDIA_TYPE = 'Unsupported Media Type: Content-Type must be application/json.';
export const NOT_ACCEPTABLE = 'Not Acceptable: Client must accept application/json or text/event-stream.';

/**
 * Whether a Content-Type is application/json, parameters (a charset) allowed, as the official SDK's server judges it:
 * by the parsed media type, never a substring (`text/plain; a=application/json` is text); a malformed parameter
 * section still counts by what precedes it, but not a comma there (joined duplicate headers, ambiguous).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  try {
    return new MIMEType(header).essence === 'application/json';
  } catch {
    const essence = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
    return essence === 'application/json' && !header.slice(essence.length).includes(',');
  }
}

/** Which of Streamable HTTP's two answers a client takes: a JSON message, an event stream. */
export interface McpAccepts { json: boolean; events: boolean }

interface MediaRange { type: string; subtype: string; q: number }

function mediaRange(text: string): MediaRange | undefined {
  const [range = '', ...params] = text.split(';');
  const slash = range.indexOf('/');
  if (slash <= 0) return undefined;
  let q = 1;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=', 2);
    // A weight that is no number counts as none given: the client listed the type.
    if (name.trim().toLowerCase() === 'q' && Number.isFinite(Number.parseFloat(value))) q = Number.parseFloat(value);
  }
  return { type: range.slice(0, slash).trim().toLowerCase(), subtype: range.slice(slash + 1).trim().toLowerCase(), q };
}

/** RFC 9110 §12.5.1: the most specific range naming the type decides, and a weight of 0 refuses it. */
function takes(ranges: MediaRange[], type: string, subtype: string): boolean {
  let specificity = -1;
  let q = 0;
  for (const r of ranges) {
    const s = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
    if (s > specificity) [specificity, q] = [s, r.q];
    else if (s === specificity && s >= 0) q = Math.max(q, r.q);
  }
  return specificity >= 0 && q > 0;
}

/**
 * What an Accept header takes, its media ranges parsed (wildcards and weights honoured, as HTTP has them), never a
 * substring; none sent (or an empty one) takes anything (RFC 9110 §12.5.1).
 */
export function mcpAccepts(header: string | undefined): McpAccepts {
  if (header === undefined || header.trim() === '') return { json: true, events: true };
  const ranges = header.split(',').map(mediaRange).filter((r) => r !== undefined);
  return { json: takes(ranges, 'application', 'json'), events: takes(ranges, 'text', 'event-stream') };
}

/** One JSON-RPC message as the event stream carrying it: what a client taking only streams is answered with. */
export function asEventStream(message: string): string {
  return `event: message\ndata: ${message.split('\n').join('\ndata: ')}\n\n`;
}
