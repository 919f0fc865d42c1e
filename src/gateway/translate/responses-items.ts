// Responses input items other than messages and function calls, as chat (and Messages after it) carries them: the
// calls of the tools only OpenAI's models take and of OpenAI's hosted tools as the assistant's text, their outputs
// as the user's, and a refusal naming any item only OpenAI can give meaning to. A conversation begun on OpenAI — a
// fallback's, a client that changed model — carries them. docs/decisions/translation.md, "Responses → chat completions".
import { obj } from '../formats/types.ts';
import { isItemReference } from '../../domain/stored-state.ts';
import { objects, quotedPartType, type Json } from './json.ts';

/**
 * Calls of the tools only OpenAI's models take that the client runs (Codex's local shell, the shell, apply_patch,
 * computer use), as text: their tools are removed on the way (no chat function is theirs), but a conversation begun
 * on OpenAI — a fallback's — carries their calls and outputs, and chat has no call for them. What was run is the
 * assistant's text, in the turn's message beside its calls; what it returned (below) the user's. Hosted tools'
 * calls go the same way (HOSTED_CALLS); the model's reasoning is left out (chatMessages).
 */
const RUN_CALLS: Readonly<Record<string, (item: Json) => string>> = {
  local_shell_call: (item) => `[Ran in the local shell (call ${String(item.call_id)}):] ${JSON.stringify(obj(item.action)?.command ?? item.action ?? null)}`,
  shell_call: (item) => `[Ran in the shell (call ${String(item.call_id)}):] ${JSON.stringify(obj(item.action)?.commands ?? item.action ?? null)}`,
  apply_patch_call: (item) => `[Applied a patch (call ${String(item.call_id)}):] ${JSON.stringify(item.operation ?? null)}`,
  computer_call: (item) => `[Used the computer (call ${String(item.call_id)}):] ${JSON.stringify(item.action ?? item.actions ?? null)}`,
};

/**
 * The outputs of RUN_CALLS' calls as the user's parts, after the turn's run of tool messages (as an output whose call
 * chat never saw): what the shell printed, how the patch went, the computer's screenshot. Refused, they kept a
 * conversation begun on OpenAI from ever going on elsewhere, though chat and Messages carry text and images.
 */
const RUN_OUTPUTS: Readonly<Record<string, (item: Json) => Json[]>> = {
  local_shell_call_output: (item) => [text(`Output of the local shell (call ${String(item.call_id ?? item.id)}):\n${typeof item.output === 'string' ? item.output : JSON.stringify(item.output ?? null)}`)],
  shell_call_output: (item) => [text([`Output of the shell (call ${String(item.call_id)}):`, ...objects(item.output).map(shellOutput)].join('\n'))],
  apply_patch_call_output: (item) => [text(`Output of apply_patch (call ${String(item.call_id)}): ${String(item.status)}${typeof item.output === 'string' && item.output !== '' ? `\n${item.output}` : ''}`)],
  computer_call_output: (item) => [text(`Output of the computer (call ${String(item.call_id)}):`), ...screenshot(item)],
  // The client's word on an MCP call OpenAI asked approval for (one approved and not yet made is refused: unplacedItemReason).
  mcp_approval_response: (item) => [text(`[${item.approve === true ? 'Approved' : 'Declined'} the MCP call (approval request ${String(item.approval_request_id)})${typeof item.reason === 'string' && item.reason !== '' ? `: ${item.reason}` : ''}]`)],
  // The tools it loaded join the request's (requestTools): the model may call them, and earlier turns did.
  tool_search_output: (item) => [text(`Output of the tool search (call ${String(item.call_id ?? item.id)}): loaded ${objects(item.tools).map((t) => String(t.name ?? t.type)).join(', ') || 'no tools'}`)],
  program_output: (item) => [text(`Output of the program (call ${String(item.call_id)}):\n${String(item.result ?? '')}`)],
};

/**
 * Calls of OpenAI's hosted tools, run at OpenAI within the model's turn (web and file search, code interpreter, image
 * generation, MCP, tool search, programs), as the assistant's text, as RUN_CALLS' are: their tools are removed on the
 * way, but a conversation begun on OpenAI — a fallback's — carries what they did, and the answers after them rest on
 * it. They used to be left out without a word, and the model answered a conversation with holes in it.
 */
const HOSTED_CALLS: Readonly<Record<string, (item: Json) => string>> = {
  web_search_call: (item) => `[Searched the web (${String(item.id)}):] ${JSON.stringify(item.action ?? null)}`,
  file_search_call: (item) => `[Searched the files (${String(item.id)}):] ${JSON.stringify(item.queries ?? [])}${Array.isArray(item.results) ? `\n[Results:] ${JSON.stringify(item.results)}` : ''}`,
  code_interpreter_call: (item) => [`[Ran code (${String(item.id)}):]`, typeof item.code === 'string' ? item.code : '', ...objects(item.outputs).map(codeOutput)].filter((line) => line !== '').join('\n'),
  image_generation_call: (item) => `[Generated an image (${String(item.id)})${typeof item.revised_prompt === 'string' ? `: ${item.revised_prompt}` : ''}]`,
  mcp_list_tools: (item) => `[Listed the tools of the MCP server "${String(item.server_label)}":] ${typeof item.error === 'string' ? `failed: ${item.error}` : objects(item.tools).map((t) => String(t.name)).join(', ')}`,
  mcp_call: (item) => [`[Called "${String(item.name)}" on the MCP server "${String(item.server_label)}" (${String(item.id)}):] ${String(item.arguments ?? '')}`, ...(typeof item.output === 'string' ? [`[Output:] ${item.output}`] : []), ...(item.error !== undefined && item.error !== null ? [`[Error:] ${typeof item.error === 'string' ? item.error : JSON.stringify(item.error)}`] : [])].join('\n'),
  mcp_approval_request: (item) => `[Asked approval to call "${String(item.name)}" on the MCP server "${String(item.server_label)}" (approval request ${String(item.id)}):] ${String(item.arguments ?? '')}`,
  tool_search_call: (item) => `[Searched the tools (call ${String(item.call_id ?? item.id)}):] ${JSON.stringify(item.arguments ?? null)}`,
  program: (item) => `[Ran a program (call ${String(item.call_id)}):]\n${String(item.code ?? '')}`,
};

/** A code interpreter's output as a line: what it logged, or the address of an image it made. */
function codeOutput(output: Json): string {
  return output.type === 'logs' ? `[Output:] ${String(output.logs)}` : output.type === 'image' ? `[Image: ${String(output.url)}]` : '';
}

/**
 * The image an image generation call made, as the user's parts after it (as a computer call's screenshot is): chat
 * and Messages take no image in an assistant turn, and the model answering next may be asked about it.
 */
function generatedImage(item: Json): Json[] {
  if (typeof item.result !== 'string' || item.result === '') return [];
  const format = typeof item.output_format === 'string' ? item.output_format : 'png';
  return [text(`Image generated (${String(item.id)}):`), { type: 'image_url', image_url: { url: `data:image/${format};base64,${item.result}` } }];
}

const text = (value: string): Json => ({ type: 'text', text: value });

/** Items that only declare something (tools made available, a new reasoning effort): read by request(), no turn of their own. */
const DECLARATIONS = new Set(['additional_tools', 'configuration_update']);

/** Every input item type the translation places: messages, calls and outputs of every kind, reasoning, declarations, references. */
const PLACED_ITEMS = new Set(['message', 'function_call', 'function_call_output', 'custom_tool_call', 'custom_tool_call_output', 'reasoning', 'item_reference', ...DECLARATIONS, ...Object.keys(RUN_CALLS), ...Object.keys(HOSTED_CALLS), ...Object.keys(RUN_OUTPUTS)]);

/**
 * Why a Responses request's input items cannot go to `target`, if they cannot: an item whose meaning only OpenAI can
 * give — a `compaction` (the earlier conversation, encrypted by OpenAI), a `compaction_trigger` (a request to compact,
 * which only OpenAI's Responses API does), an MCP call approved but not made yet (only OpenAI's hosted MCP tool would
 * make it) — or an item of a type the translation does not know (a newer one). Each used to be left out on the way,
 * and the model answered without it, the client never told.
 */
export function unplacedItemReason(input: unknown, target: string): string | undefined {
  const items = objects(input);
  for (const item of items) {
    const type = item.type ?? 'message';
    if (type === 'compaction') return `it sends a "compaction" item, the earlier conversation compacted and encrypted by OpenAI, which ${target} cannot read; send the conversation uncompacted, or use a model that serves Responses`;
    if (type === 'compaction_trigger') return `it asks for the conversation to be compacted ("compaction_trigger"), which OpenAI's Responses API alone does; use a model that serves Responses`;
    if (type === 'mcp_approval_response' && item.approve === true && !items.some((i) => i.type === 'mcp_call' && i.approval_request_id === item.approval_request_id)) {
      return `it approves an MCP tool call ("mcp_approval_response" to "${String(item.approval_request_id).slice(0, 64)}"), which only OpenAI's hosted MCP tool makes; use a model that serves Responses`;
    }
    if (!PLACED_ITEMS.has(String(type)) && !isItemReference(item)) return `it sends an input item of type ${quotedPartType(type)}, which ${target} cannot carry`;
  }
  return undefined;
}

/** One run of a shell call's commands: what it printed, and how it ended. */
function shellOutput(run: Json): string {
  const outcome = obj(run.outcome);
  const end = outcome?.type === 'exit' ? `[exit code ${String(outcome.exit_code)}]` : outcome?.type === 'timeout' ? '[timed out]' : '';
  return [run.stdout, typeof run.stderr === 'string' && run.stderr !== '' ? `[stderr]\n${run.stderr}` : '', end].filter((t) => typeof t === 'string' && t !== '').join('\n');
}

/** What a computer call's screenshot is, as a chat image (one stored at OpenAI, by file id alone, is refused before). */
function screenshot(item: Json): Json[] {
  const url = obj(item.output)?.image_url;
  return typeof url === 'string' ? [{ type: 'image_url', image_url: { url } }] : [];
}

/** The entry of a record for an item's type, its own only (`constructor` is no item type). */
function entry<T>(record: Readonly<Record<string, T>>, type: unknown): T | undefined {
  return Object.hasOwn(record, String(type)) ? record[String(type)] : undefined;
}

/** An item the assistant did (a call of a tool chat has no call for), as the assistant's text; undefined for any other. */
export function assistantText(item: Json): string | undefined {
  return (entry(RUN_CALLS, item.type) ?? entry(HOSTED_CALLS, item.type))?.(item);
}

/**
 * An item's parts the user's turn carries after it: a client-run call's output, the client's word on an MCP call, a
 * tool search's or a program's output, the image an image generation made; undefined for an item with none.
 */
export function userParts(item: Json): Json[] | undefined {
  if (item.type === 'image_generation_call') return generatedImage(item);
  return entry(RUN_OUTPUTS, item.type)?.(item);
}

/** Whether an item is one of the outputs `userParts` carries (they wait with a run's media, as tool outputs do). */
export const isRunOutput = (type: unknown): boolean => entry(RUN_OUTPUTS, type) !== undefined;
