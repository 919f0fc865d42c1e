// Tool search on the aggregate MCP endpoint (gateway-behaviour.md "MCP gateway", "Tool search"; ours, as ngrok's
// section on it could not be read): with `?tools=search` tools/list offers two tools instead of every server's, one
// that finds the key's tools by keywords and one that calls a tool found, so an agent reaching many servers does not
// carry hundreds of definitions in every prompt.
import { isRecord } from '../../domain/json-value.ts';
import type { McpTool } from './upstream.ts';

/** The query parameter that turns tool search on, and its one value. */
export const TOOL_SEARCH_PARAM = 'tools';
export const TOOL_SEARCH_VALUE = 'search';

// Their names hold no `__`, so no aggregate tool (`<label>__<tool>`) can be taken for them, or them for one.
export const SEARCH_TOOLS = 'search_tools';
export const CALL_TOOL = 'call_tool';

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;
const MAX_QUERY_CHARS = 1000;
/** Words of a query scored: every tool's texts are scanned once per word. */
const MAX_QUERY_WORDS = 16;

/** A hit in a tool's name weighs more than one in its title, which weighs more than one in its description. */
const WEIGHT = { name: 4, title: 2, description: 1 } as const;

export const SEARCH_INSTRUCTIONS = `Tool search: this endpoint lists two tools. Call ${SEARCH_TOOLS} with keywords to find the tools you may call (their names, descriptions and input schemas), then ${CALL_TOOL} with a name it gave and that tool's arguments.`;

export const META_TOOLS: readonly McpTool[] = [
  {
    name: SEARCH_TOOLS,
    title: 'Search tools',
    description: `Finds the tools you may call by keywords matched against their names, titles and descriptions, best first. Each result has the tool's name (for ${CALL_TOOL}), description and input schema.`,
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_CHARS, description: 'Keywords, e.g. "create ticket".' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Most results returned.' },
      },
      required: ['query'],
    },
    outputSchema: {
      type: 'object',
      properties: {
        tools: {
          type: 'array',
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, title: { type: 'string' }, description: { type: 'string' }, inputSchema: { type: 'object' }, outputSchema: { type: 'object' } },
            required: ['name', 'inputSchema'],
          },
        },
        total: { type: 'integer', description: 'How many tools matched; more than returned when the limit cut the list.' },
      },
      required: ['tools', 'total'],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: CALL_TOOL,
    title: 'Call a tool',
    description: `Calls a tool ${SEARCH_TOOLS} found, by its name, with its arguments (as its input schema describes them). Returns that tool's result.`,
    inputSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, description: `The tool's name, as ${SEARCH_TOOLS} gave it.` },
        arguments: { type: 'object', description: 'The tool\'s arguments.' },
      },
      required: ['name'],
    },
  },
];

/**
 * Whether a request's URL asks for tool search (`?tools=search`), or, for another value of `tools`, why it is refused:
 * a misspelt mode silently serving every tool would be found out only in the agent's prompts.
 */
export function toolSearchOf(url: string): boolean | string {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const values = new URLSearchParams(url.slice(q + 1)).getAll(TOOL_SEARCH_PARAM);
  if (values.length === 0) return false;
  if (values.every((v) => v === TOOL_SEARCH_VALUE)) return true;
  return `Unknown ${TOOL_SEARCH_PARAM}=${values.find((v) => v !== TOOL_SEARCH_VALUE)!.slice(0, 32)}: "${TOOL_SEARCH_PARAM}=${TOOL_SEARCH_VALUE}" turns on tool search; without it every tool is listed.`;
}

export interface SearchArgs { query: string; limit: number }
export interface CallArgs { name: string; arguments: Record<string, unknown> | undefined }

/** search_tools' arguments, or why they are not (an invalid-params error's message). */
export function searchArgs(args: unknown): SearchArgs | string {
  const given = args ?? {};
  if (!isRecord(given)) return `${SEARCH_TOOLS} takes an object of arguments.`;
  const { query, limit } = given;
  if (typeof query !== 'string' || query.length > MAX_QUERY_CHARS || words(query).length === 0) {
    return `${SEARCH_TOOLS} needs arguments.query: a string of keywords (at most ${MAX_QUERY_CHARS} characters).`;
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)) {
    return `${SEARCH_TOOLS}'s arguments.limit must be an integer from 1 to ${MAX_LIMIT}.`;
  }
  return { query, limit: limit ?? DEFAULT_LIMIT };
}

/** call_tool's arguments, or why they are not. */
export function callArgs(args: unknown): CallArgs | string {
  const given = args ?? {};
  if (!isRecord(given)) return `${CALL_TOOL} takes an object of arguments.`;
  if (typeof given.name !== 'string' || given.name === '') return `${CALL_TOOL} needs arguments.name: a tool's name, as ${SEARCH_TOOLS} gave it.`;
  if (given.arguments !== undefined && !isRecord(given.arguments)) return `${CALL_TOOL}'s arguments.arguments must be an object: the tool's arguments.`;
  return { name: given.name, arguments: given.arguments };
}

/** A query's words: lowercased runs of letters and digits, so `read_file` or `read-file` is `read` and `file`. */
function words(query: string): string[] {
  return [...new Set(query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== ''))].slice(0, MAX_QUERY_WORDS);
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase() : '';
}

export interface Found { name: string; title?: string; description?: string; inputSchema: unknown; outputSchema?: unknown }

/**
 * The tools matching `query`, best first, at most `limit`, and how many matched. A tool scores per query word it
 * holds, by where (name, title, description; a word is found inside longer ones); ties go by name. Substring
 * matching with fixed weights, not a ranking library: the corpus is one key's tools, and what an agent needs is that
 * its words find the tool, which a dependency would not do better.
 */
export function searchTools(tools: readonly McpTool[], query: string, limit: number): { tools: Found[]; total: number } {
  const asked = words(query);
  const scored: { tool: McpTool; score: number }[] = [];
  for (const tool of tools) {
    const name = tool.name.toLowerCase();
    const title = textOf(tool.title) || (isRecord(tool.annotations) ? textOf(tool.annotations.title) : '');
    const description = textOf(tool.description);
    let score = 0;
    for (const w of asked) score += name.includes(w) ? WEIGHT.name : title.includes(w) ? WEIGHT.title : description.includes(w) ? WEIGHT.description : 0;
    if (score > 0) scored.push({ tool, score });
  }
  scored.sort((a, b) => b.score - a.score || (a.tool.name < b.tool.name ? -1 : a.tool.name > b.tool.name ? 1 : 0));
  const found = scored.slice(0, limit).map(({ tool }): Found => ({
    name: tool.name,
    ...(typeof tool.title === 'string' ? { title: tool.title } : {}),
    ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
    // MCP requires one; a server that left it out gets the schema of a tool without arguments.
    inputSchema: isRecord(tool.inputSchema) ? tool.inputSchema : { type: 'object' },
    // What its structured result holds, when the server says: an agent reads call_tool's answer by it.
    ...(isRecord(tool.outputSchema) ? { outputSchema: tool.outputSchema } : {}),
  }));
  return { tools: found, total: scored.length };
}
