// Path → API format and surface (gateway.md §3). The path decides the format; there is no translation.
import type { SurfaceRoute } from './context.ts';

export const SURFACE_ROUTES: ReadonlyMap<string, SurfaceRoute> = new Map([
  ['/v1/chat/completions', { format: 'openai', surface: 'chat-completions' }],
  ['/v1/responses', { format: 'openai', surface: 'responses' }],
  ['/v1/completions', { format: 'openai', surface: 'completions' }],
  ['/v1/embeddings', { format: 'openai', surface: 'embeddings' }],
  ['/v1/messages', { format: 'anthropic', surface: 'messages' }],
]);

/** For errors on paths that are not routes: Anthropic-looking paths get Anthropic-shaped errors. */
export const OPENAI_ROUTE: SurfaceRoute = { format: 'openai', surface: 'chat-completions' };
export const ANTHROPIC_ROUTE: SurfaceRoute = { format: 'anthropic', surface: 'messages' };
/** GET /v1/models: OpenAI-shaped errors; its own object so observation can tell it apart (surface `models`). */
export const MODELS_ROUTE: SurfaceRoute = { format: 'openai', surface: 'chat-completions' };

export function errorRouteFor(path: string): SurfaceRoute {
  return path.startsWith('/v1/messages') ? ANTHROPIC_ROUTE : OPENAI_ROUTE;
}

/**
 * ngrok gateway surfaces this gateway does not serve (gateway.md §3: Gemini native, marked later): named in a
 * 501 ERR_NGROK_27205 instead of the 404 of a path that means nothing, so a Gen AI SDK user learns why.
 */
export function unimplementedSurface(method: string | undefined, path: string): string | undefined {
  if (method !== 'POST') return undefined;
  if (path === '/v1beta/interactions') return 'Gemini Interactions';
  if (path.startsWith('/v1beta/models/') && (path.endsWith(':generateContent') || path.endsWith(':streamGenerateContent'))) return 'Gemini native';
  return undefined;
}
