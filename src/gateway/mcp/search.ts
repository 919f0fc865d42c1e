// Tool search on the aggregate MCP endpoint (gateway-behaviour.md "MCP gateway", "Tool search"; ours, as ngrok's
// section on it could not be read): with `?tools=search` tools/list offers two tools instead of every server's, one
// that finds the key's tools by keywords and one that calls a tool found, so an agent reaching many servers does not
// carry hundreds of definitions in every prompt.
import { isRecord } from '../../domain/json-value.ts';
import { aggregateToolName } from '../../domain/mcp-server.ts';
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
 * Whether a request's URL asks for tool search (`?tools=search`), or why it is refused: another value of `tools`, or
 * any other parameter (`TOOLS`, `Tools`, `tool`…), which the MCP endpoints do not take. A misspelt mode silently
 * serving every tool would be found out only in the agent's prompts.
 */
export function toolSearchOf(url: string): boolean | string {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const values: string[] = [];
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
    if (name !== TOOL_SEARCH_PARAM) return `Unknown query parameter "${name.slice(0, 32)}": the MCP endpoints take only "${TOOL_SEARCH_PARAM}=${TOOL_SEARCH_VALUE}", which turns on tool search; without it every tool is listed.`;
    values.push(value);
  }
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

/**
 * Characters of each of a tool's texts (name, title, description) scored. A search scans each once per query word, so
 * without a bound one server listing an 8 MiB description made every search take a quarter of a second of the event
 * loop, every request of the process waiting. 4,096: a description is written for a model choosing a tool, and says
 * what the tool does first; one running past 4 KiB goes on with usage notes and examples whose words would only make
 * the tool match queries about something else. Scoring is then at most 16 words over 12 KiB per tool, whatever a
 * server lists; the result still carries the whole description.
 */
export const MAX_SCORED_CHARS = 4096;

/** A tool's texts as scored, and the title and description shown for it. */
interface Indexed { name: string; title: string; description: string; shownTitle: string | undefined; shownDescription: string | undefined }

/**
 * Tools' scored texts, computed once per tool object: a server's list is kept for 30 seconds (upstream.ts) and handed
 * out as the same objects, so every search in that time reuses them; a list fetched again is new objects, and the
 * old ones' entries go with them.
 */
const indexed = new WeakMap<McpTool, Indexed>();

function scoredText(value: string): string {
  return value.slice(0, MAX_SCORED_CHARS).toLowerCase();
}

/**
 * The title shown is the one scored, by MCP's display-name precedence for tools (2025-11-25 schema): `title`, else
 * `annotations.title`.
 */
function titleOf(tool: McpTool): string | undefined {
  if (typeof tool.title === 'string' && tool.title !== '') return tool.title;
  const annotated = isRecord(tool.annotations) ? tool.annotations.title : undefined;
  return typeof annotated === 'string' && annotated !== '' ? annotated : undefined;
}

function indexOf(tool: McpTool): Indexed {
  let found = indexed.get(tool);
  if (!found) {
    const shownTitle = titleOf(tool);
    const { description } = tool;
    const shownDescription = typeof description === 'string' ? description : undefined;
    found = { name: scoredText(tool.name), title: scoredText(shownTitle ?? ''), description: scoredText(shownDescription ?? ''), shownTitle, shownDescription };
    indexed.set(tool, found);
  }
  return found;
}

/** A tool a search may find: its server's label (its aggregate name is `<label>__<name>`) and its server's definition. */
export interface Listed { label: string; tool: McpTool }

export interface Found { name: string; title?: string; description?: string; inputSchema: unknown; outputSchema?: unknown }

/**
 * The tools matching `query`, best first, at most `limit`, and how many matched. A tool scores per query word it
 * holds, by where (name, title, description; a word is found inside longer ones); ties go by name. Substring
 * matching with fixed weights, not a ranking library: the corpus is one key's tools, and what an agent needs is that
 * its words find the tool, which a dependency would not do better. `tools` are the servers' own objects (as their
 * kept lists hold them), not copies, so each one's texts are lowercased once per list.
 */
export function searchTools(tools: readonly Listed[], query: string, limit: number): { tools: Found[]; total: number } {
  const asked = words(query);
  const labels = new Map<string, string>();
  const scored: { name: string; tool: McpTool; index: Indexed; score: number }[] = [];
  for (const { label, tool } of tools) {
    // A word is letters and digits, so it never spans the `__` between label and name: each is matched alone.
    let lower = labels.get(label);
    if (lower === undefined) labels.set(label, lower = label.toLowerCase());
    const index = indexOf(tool);
    let score = 0;
    for (const w of asked) score += lower.includes(w) || index.name.includes(w) ? WEIGHT.name : index.title.includes(w) ? WEIGHT.title : index.description.includes(w) ? WEIGHT.description : 0;
    if (score > 0) scored.push({ name: aggregateToolName(label, tool.name), tool, index, score });
  }
  scored.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const found = scored.slice(0, limit).map(({ name, tool, index }): Found => ({
    name,
    ...(index.shownTitle !== undefined ? { title: index.shownTitle } : {}),
    ...(index.shownDescription !== undefined ? { description: index.shownDescription } : {}),
    // MCP requires one; a server that left it out gets the schema of a tool without arguments.
    inputSchema: isRecord(tool.inputSchema) ? tool.inputSchema : { type: 'object' },
    // What its structured result holds, when the server says: an agent reads call_tool's answer by it.
    ...(isRecord(tool.outputSchema) ? { outputSchema: tool.outputSchema } : {}),
  }));
  return { tools: found, total: scored.length };
}
