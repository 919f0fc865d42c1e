// What the MCP gateway reads of a client's request headers: a header's one value, what its Accept takes, and the
// access key it carries.
import { accessToken } from '../authenticate.ts';
import type { RequestContext } from '../context.ts';
import { mcpAccepts, type McpAccepts } from '../../domain/mcp-http.ts';

export function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Whether the client takes a JSON answer, an event stream, or both (what its Accept says). */
export function acceptsOf(ctx: RequestContext): McpAccepts {
  return mcpAccepts(headerOf(ctx.req.headers.accept));
}

/**
 * The access key: `x-api-key` when sent (the client's `Authorization` then belongs to the servers that take the
 * client's own OAuth token), else `Authorization: Bearer`.
 */
export function mcpAccessToken(ctx: RequestContext): { token: string | undefined; viaApiKey: boolean } {
  const apiKey = headerOf(ctx.req.headers['x-api-key'])?.trim();
  if (apiKey) return { token: apiKey, viaApiKey: true };
  return { token: accessToken(ctx.req.headers), viaApiKey: false };
}
