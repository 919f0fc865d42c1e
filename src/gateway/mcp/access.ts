// Which MCP servers and tools an access key may reach (gateway-behaviour.md "MCP gateway"): its configuration's
// `mcpServers` allow list (labels) and `mcpTools` allow list (`<label>/<tool>`, `*` any characters, case-sensitive,
// as Firewall's tool-name rules match). An absent list allows everything; an empty one nothing.
import type { AccessScope } from '../../state/types.ts';

/** Compiled patterns, per pattern text: allow lists are few and shared by every request of their keys. */
const compiled = new Map<string, RegExp>();
const MAX_COMPILED = 10_000;

function patternOf(text: string): RegExp {
  let re = compiled.get(text);
  if (!re) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    re = new RegExp(`^${text.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`);
    compiled.set(text, re);
  }
  return re;
}

export function mcpServerAllowed(scope: AccessScope | null | undefined, label: string): boolean {
  const allow = scope?.mcpServers?.allow;
  return allow === undefined || allow.includes(label);
}

/** Whether the key may call `tool` of the server labelled `label` (the server's own allow list included). */
export function mcpToolAllowed(scope: AccessScope | null | undefined, label: string, tool: string): boolean {
  if (!mcpServerAllowed(scope, label)) return false;
  const allow = scope?.mcpTools?.allow;
  if (allow === undefined) return true;
  const name = `${label}/${tool}`;
  return allow.some((pattern) => (pattern.includes('*') ? patternOf(pattern).test(name) : pattern === name));
}
