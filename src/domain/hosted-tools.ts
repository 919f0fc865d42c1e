// Provider-hosted tools a managed key serves although the provider bills them apart from tokens, because the answer
// shows what to bill (docs/decisions/gateway-routing.md, "Credentials"): OpenAI's code interpreter and hosted shell (a
// container session per container its answer names) and Anthropic's code execution where Anthropic charges nothing for it.
import type { ApiSurface } from '../catalog/types.ts';
import { isRecord } from './json-value.ts';

/** OpenAI's container memory tiers (`memory_limit`): each prices its container sessions. */
export const CONTAINER_TIERS = ['1g', '4g', '16g', '64g'] as const;
export type ContainerTier = (typeof CONTAINER_TIERS)[number];

/**
 * An OpenAI tool that runs in a container OpenAI bills by the session: `code_interpreter`, and `shell` in a hosted
 * environment (`container_auto`, or a container named by `container_reference`); a local shell (no environment, or
 * `local`) runs on the client's machine and costs tokens only.
 */
export function runsInContainer(tool: unknown): boolean {
  if (!isRecord(tool)) return false;
  if (tool.type === 'code_interpreter') return true;
  return tool.type === 'shell' && isRecord(tool.environment) && tool.environment.type !== 'local';
}

/**
 * The memory tier of the container such a tool lets OpenAI create (`code_interpreter`'s `container: {type: "auto"}`,
 * `shell`'s `environment: {type: "container_auto"}`; 1 GB unless `memory_limit` says otherwise); undefined when the
 * tool names a container by id, whose tier was set where this gateway did not see it (an unknown tier cannot be
 * priced), or a tier OpenAI does not list.
 */
export function containerTier(tool: unknown): ContainerTier | undefined {
  if (!isRecord(tool)) return undefined;
  const auto = tool.type === 'code_interpreter' ? tool.container : tool.type === 'shell' ? tool.environment : undefined;
  if (!isRecord(auto) || auto.type !== (tool.type === 'shell' ? 'container_auto' : 'auto')) return undefined;
  const limit = auto.memory_limit;
  if (limit === undefined || limit === null) return '1g';
  return CONTAINER_TIERS.find((tier) => tier === limit);
}

/**
 * The tiers of the containers a Responses request's container tools may create, one per tool (OpenAI's auto mode
 * creates one container for the request and the model runs all its code there): what a credit hold covers. None
 * when the attempt's provider serves another surface (translate/ sends no hosted tool).
 */
export function containerTiers(body: Record<string, unknown>, attemptSurface: ApiSurface, clientSurface: ApiSurface): ContainerTier[] {
  if (attemptSurface !== clientSurface || attemptSurface !== 'responses' || !Array.isArray(body.tools)) return [];
  const tiers: ContainerTier[] = [];
  for (const tool of body.tools) if (runsInContainer(tool)) tiers.push(containerTier(tool) ?? '64g');
  return tiers;
}

/**
 * The tier an answer's containers are billed at: the request's container tool's (the answer's `code_interpreter_call`
 * and `shell_call` items name a container, not its memory), the dearest when several tools differ.
 */
export function billedContainerTier(body: Record<string, unknown>): ContainerTier {
  let most = 0;
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      if (!runsInContainer(tool)) continue;
      const at = CONTAINER_TIERS.indexOf(containerTier(tool) ?? '64g');
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
