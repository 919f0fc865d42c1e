import type { ApiFormat } from '../../catalog/types.ts';
import { anthropic } from './anthropic.ts';
import { gemini } from './gemini.ts';
import { openai } from './openai.ts';
import type { FormatCodec } from './types.ts';

export const codecs: Readonly<Record<ApiFormat, FormatCodec>> = { openai, anthropic, gemini };
