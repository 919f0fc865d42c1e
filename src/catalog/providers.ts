// Built-in providers (gateway.md §11): ids, upstream base URLs, how they authenticate and which API
// surfaces they serve. Models and prices live in models.ts.
import type { CatalogProvider, SurfaceSpec } from './types.ts';
import { modelsByProvider } from './models.ts';

const openaiChat: SurfaceSpec = { format: 'openai', surface: 'chat-completions', path: '/chat/completions' };

const OPENAI_SURFACES: readonly SurfaceSpec[] = [
  openaiChat,
  { format: 'openai', surface: 'responses', path: '/responses' },
  { format: 'openai', surface: 'completions', path: '/completions' },
  { format: 'openai', surface: 'embeddings', path: '/embeddings' },
  // A WebSocket at the base URL's `/realtime` (wss:// for https://), reached through GET /v1/realtime (gateway/realtime/).
  { format: 'openai', surface: 'realtime', path: '/realtime' },
];

/**
 * Gemini's own API (GenerateContent), which the Gen AI SDK calls: the model is in the path, the key in
 * `x-goog-api-key`. Streaming rides on it (resolve.ts), at `:streamGenerateContent?alt=sse`.
 */
const geminiGenerate: SurfaceSpec = { format: 'gemini', surface: 'generate-content', path: '/models/{model}:generateContent', auth: 'x-goog-api-key', besideBase: true };
/**
 * Gemini's embeddings as the Gen AI SDK asks for them: `embedContent` (one content or several) calls
 * `:batchEmbedContents` on the Gemini API, never `:embedContent`.
 */
const geminiEmbed: SurfaceSpec = { format: 'gemini', surface: 'embeddings', path: '/models/{model}:batchEmbedContents', auth: 'x-goog-api-key', besideBase: true };
/**
 * Google's OpenAI-compatible embeddings (`…/v1beta/openai/embeddings`, its OpenAI compatibility guide: "gemini-embedding-001
 * for text-only embeddings"), where OpenAI's `/v1/embeddings` on a Gemini embedding model passes through. Its answer
 * carries no `usage`: the input is billed on the gateway's estimate, as `:batchEmbedContents` is.
 */
const openaiEmbed: SurfaceSpec = { format: 'openai', surface: 'embeddings', path: '/embeddings' };

/**
 * Bedrock Runtime's own API, as the AWS SDK calls it: the model id in the path (percent-encoded: ids hold `:`), the
 * body the operation's JSON (Converse's, or the model's own for InvokeModel), the answer JSON or AWS event-stream
 * frames. A Bedrock API key goes as a bearer token.
 */
const BEDROCK_SURFACES: readonly SurfaceSpec[] = [
  { format: 'bedrock', surface: 'converse', path: '/model/{model}/converse' },
  { format: 'bedrock', surface: 'converse-stream', path: '/model/{model}/converse-stream' },
  { format: 'bedrock', surface: 'invoke', path: '/model/{model}/invoke' },
  { format: 'bedrock', surface: 'invoke-stream', path: '/model/{model}/invoke-with-response-stream' },
  // Bedrock's OpenAI-compatible chat completions, on its other endpoint (`bedrock-mantle`, AWS's "Generate responses
  // using OpenAI APIs"): the models served nowhere else (Gemma 4) and the open-weight ones. Same keys (a Bedrock API
  // key as bearer; a role key signs for service `bedrock-mantle`, as the OpenAI SDK's own Bedrock client does).
  // TOLLGATE_PROVIDER_BEDROCK_BASE_URL replaces this base URL too (catalog/index.ts), the path kept under it.
  { format: 'openai', surface: 'chat-completions', path: '/v1/chat/completions', baseUrl: 'https://bedrock-mantle.{region}.api.aws' },
];

function provider(p: Omit<CatalogProvider, 'models'>): CatalogProvider {
  return { ...p, models: modelsByProvider[p.id] ?? [] };
}

export const builtinProviders: readonly CatalogProvider[] = [
  provider({ id: 'openai', displayName: 'OpenAI', baseUrl: 'https://api.openai.com/v1', website: 'https://openai.com', managed: true, auth: 'bearer', surfaces: OPENAI_SURFACES, pricesAsOf: '2026-11-01' }),
  provider({
    id: 'anthropic', displayName: 'Anthropic', baseUrl: 'https://api.anthropic.com/v1', website: 'https://anthropic.com', managed: true, auth: 'x-api-key',
    surfaces: [{ format: 'anthropic', surface: 'messages', path: '/messages' }, { ...openaiChat, compatibility: true }], pricesAsOf: '2026-11-01',
  }),
  provider({ id: 'google', displayName: 'Google', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai', website: 'https://ai.google.dev', managed: true, auth: 'bearer', surfaces: [openaiChat, geminiGenerate, geminiEmbed, openaiEmbed], pricesAsOf: '2026-11-01' }),
  provider({ id: 'deepseek', displayName: 'DeepSeek', baseUrl: 'https://api.deepseek.com', website: 'https://deepseek.com', managed: true, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'groq', displayName: 'Groq', baseUrl: 'https://api.groq.com/openai/v1', website: 'https://groq.com', managed: false, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'moonshotai', displayName: 'Moonshot AI', baseUrl: 'https://api.moonshot.ai/v1', website: 'https://moonshot.ai', managed: true, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'z-ai', displayName: 'Z.ai', baseUrl: 'https://api.z.ai/api/paas/v4', website: 'https://z.ai', managed: true, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'openrouter', displayName: 'OpenRouter', baseUrl: 'https://openrouter.ai/api/v1', website: 'https://openrouter.ai', managed: false, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'hyperbolic', displayName: 'Hyperbolic', baseUrl: 'https://api.hyperbolic.xyz/v1', website: 'https://hyperbolic.xyz', managed: false, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'inceptionlabs', displayName: 'Inception Labs', baseUrl: 'https://api.inceptionlabs.ai/v1', website: 'https://inceptionlabs.ai', managed: false, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  provider({ id: 'inference-net', displayName: 'Inference.net', baseUrl: 'https://api.inference.net/v1', website: 'https://inference.net', managed: false, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-11-01' }),
  // Bring-your-own-key only (ngrok: no credits for Bedrock): the Bedrock API key's own AWS region picks the endpoint.
  provider({ id: 'bedrock', displayName: 'Amazon Bedrock', baseUrl: 'https://bedrock-runtime.{region}.amazonaws.com', website: 'https://aws.amazon.com/bedrock', managed: false, auth: 'bearer', surfaces: BEDROCK_SURFACES, pricesAsOf: '2026-12-01' }),
  provider({ id: 'xai', displayName: 'xAI', baseUrl: 'https://api.x.ai/v1', website: 'https://x.ai', managed: true, auth: 'bearer', surfaces: [openaiChat, { format: 'openai', surface: 'responses', path: '/responses' }], pricesAsOf: '2026-11-01' }),
  // MiniMax's OpenAI-compatible API (its Anthropic-compatible one, at /anthropic beside it, is not used: the gateway
  // translates Messages requests into chat completions). Only chat completions: MiniMax documents no /responses.
  provider({ id: 'minimax', displayName: 'MiniMax', baseUrl: 'https://api.minimax.io/v1', website: 'https://www.minimax.io', managed: true, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-12-06' }),
  // Alibaba's international Model Studio (DashScope) endpoint, which QwenCloud keys call; no models catalogued yet, so
  // `qwencloud:<model>` passes through on the account's own key (docs/decisions/gateway-routing.md, "Catalog").
  provider({ id: 'qwencloud', displayName: 'QwenCloud', baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', website: 'https://qwencloud.com', managed: true, auth: 'bearer', surfaces: [openaiChat], pricesAsOf: '2026-12-06' }),
];

const byId = new Map(builtinProviders.map((p) => [p.id, p]));

export function builtinProvider(id: string): CatalogProvider | undefined {
  return byId.get(id);
}

export function isBuiltinProviderId(id: string): boolean {
  return byId.has(id);
}
