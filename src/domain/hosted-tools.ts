// Provider-hosted tools a managed key serves although the provider bills them apart from tokens, because the answer
// shows what to bill (docs/decisions/gateway-routing.md, "Credentials"): OpenAI's code interpreter (a container
// session per container its answer names) and Anthropic's code execution where Anthropic charges nothing for it.
import type { ApiSurface } from '../catalog/types.ts';
import { isRecord } from './json-value.ts';

/** OpenAI's code interpreter memory tiers (`container.memory_limit`): each prices its container sessions. */
export const CONTAINER_TIERS = ['1g', '4g', '16g', '64g'] as const;
export type ContainerTier = (typeof CONTAINER_TIERS)[number];

/**
 * The memory tier of the container a `code_interpreter` tool lets OpenAI create (`container: {type: "auto"}`, 1 GB
 * unless `memory_limit` says otherwise); undefined when the tool names a container by id, whose tier was set where
 * this gateway did not see it (an unknown tier cannot be priced), or a tier OpenAI does not list.
 */
export function codeInterpreterTier(tool: unknown): ContainerTier | undefined {
  if (!isRecord(tool) || !isRecord(tool.container) || tool.container.type !== 'auto') return undefined;
  const limit = tool.container.memory_limit;
  if (limit === undefined || limit === null) return '1g';
  return CONTAINER_TIERS.find((tier) => tier === limit);
}

const isCodeInterpreter = (tool: unknown): boolean => isRecord(tool) && tool.type === 'code_interpreter';

/**
 * The tiers of the containers a Responses request's code interpreter tools may create, one per tool (OpenAI's auto
 * mode creates one container for the request and the model runs all its code there): what a credit hold covers.
 * None when the attempt's provider serves another surface (translate/ sends no hosted tool).
 */
export function codeInterpreterTiers(body: Record<string, unknown>, attemptSurface: ApiSurface, clientSurface: ApiSurface): ContainerTier[] {
  if (attemptSurface !== clientSurface || attemptSurface !== 'responses' || !Array.isArray(body.tools)) return [];
  const tiers: ContainerTier[] = [];
  for (const tool of body.tools) if (isCodeInterpreter(tool)) tiers.push(codeInterpreterTier(tool) ?? '64g');
  return tiers;
}

/**
 * The tier an answer's containers are billed at: the request's code interpreter tool's (the answer's
 * `code_interpreter_call` items name a container, not its memory), the dearest when several tools differ.
 */
export function billedContainerTier(body: Record<string, unknown>): ContainerTier {
  let most = 0;
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      if (!isCodeInterpreter(tool)) continue;
      const at = CONTAINER_TIERS.indexOf(codeInterpreterTier(tool) ?? '64g');
      if (at > most) most = at;
    }
  }
  return CONTAINER_TIERS[most]!;
}

/**
 * The first web search or web fetch tool version with which Anthropic charges nothing for code execution ("Code
 * execution is free when used with web search or web fetch": `web_search_20260209`, `web_fetch_20260209`). Later
 * versions are the same tools' successors and keep the rule.
 */
const FREE_CODE_EXECUTION_SINCE = 20260209;
const DATED_WEB_TOOL = /^web_(?:search|fetch)_(\d{8})$/;

/** The request offers a web search or fetch tool that makes Anthropic's code execution free (tokens only). */
export function codeExecutionIsFree(tools: readonly unknown[]): boolean {
  for (const tool of tools) {
    const match = isRecord(tool) && typeof tool.type === 'string' ? DATED_WEB_TOOL.exec(tool.type) : null;
    if (match && Number(match[1]) >= FREE_CODE_EXECUTION_SINCE) return true;
  }
  return false;
}
