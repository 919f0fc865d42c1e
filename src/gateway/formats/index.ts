import type { ApiFormat } from '../../catalog/types.ts';
import { anthropic } from './anthropic.ts';
import { bedrock } from './bedrock.ts';
import { gemini } from './gemini.ts';
import { openai } from './openai.ts';
import type { FormatCodec } from './types.ts';

/** Each format's codec, typed as it is (the SSE formats' stream errors are text). */
export const codecs = { openai, anthropic, gemini, bedrock } as const satisfies Readonly<Record<ApiFormat, FormatCodec>>;
