// Firewall in the pipeline (gateway-behaviour.md "Firewall"): the key's policies, found once per request (nothing
// allocated for a key without one), request rules before any attempt, response rules on each tool call of
// the answer (tool-calls.ts), and the verdicts reported in Ngrok-AIG-Firewall and on the access line.
import { blockingFinding, hasRules, judgeRequest, keyPolicies, type CompiledPolicy, type FirewallFinding } from '../../domain/firewall.ts';
import type { ApiSurface } from '../../catalog/types.ts';
import type { RequestContext } from '../context.ts';
import type { AccountSnapshot, ConfigurationState } from '../../state/types.ts';
import { headerText, H_FIREWALL, type OutHeaders } from '../headers.ts';
import { tollgateError } from '../../domain/errors.ts';
import { repeatedKey } from '../body-edit.ts';
import { requestParts, screenedBedrockTurn, screenedOtherTurn, screenedSurface } from './request-view.ts';

/**
 * ngrok's per-request Firewall rules come in the body's `plugins` field, whose shape could not be read. A request
 * sending it expects its rules enforced: forwarded, the provider would refuse an unknown field (OpenAI, Anthropic,
 * Google) or read it as something else (OpenRouter's plugins); stripped, the rules would silently not run. Refused
 * instead, on the four surfaces Firewall screens, naming what to do.
 */
export function requestPluginsProblem(surface: ApiSurface, body: Record<string, unknown>): string | undefined {
  if (!('plugins' in body) || !screenedSurface(surface)) return undefined;
  return '"plugins" (per-request Firewall rules) is not supported by this gateway: nothing in it would be enforced. Attach a Firewall policy to the access key\'s configuration, or as the account\'s all-keys policy (firewallPolicyId on the gateway config), and send the request without "plugins".';
}

/**
 * Model turns Firewall cannot screen, as their clients know them. Served unscreened under an enforcing policy, they
 * would be the way around it: the same agent, on another path, with nothing checked.
 */
const UNSCREENED_TURNS: ReadonlyMap<ApiSurface, string> = new Map([
  ['completions', 'legacy completions (/v1/completions) whose prompt is token ids'],
  ['invoke', 'Bedrock\'s InvokeModel for a body other than Claude\'s Messages'],
  ['invoke-stream', 'Bedrock\'s InvokeModelWithResponseStream for a body other than Claude\'s Messages'],
]);

/**
 * The first enforcing policy with rules a path Firewall cannot screen would skip: request rules, and response rules
 * where the model can return tool calls (`toolCalls`).
 */
function skippedPolicy(policies: readonly CompiledPolicy[], toolCalls: boolean): CompiledPolicy | undefined {
  return policies.find((p) => p.mode === 'enforce' && (p.request.length > 0 || (toolCalls && p.response.length > 0)));
}

/**
 * The key's policies for this request, undefined when it has none (or the surface is not one Firewall screens). A
 * model turn on a surface it cannot screen is refused when an enforcing policy has rules it would skip there: request
 * rules anywhere, response rules where the model can return tool calls (all but legacy completions).
 */
export function firewallFor(ctx: RequestContext): readonly CompiledPolicy[] | undefined {
  const accountPolicy = ctx.account!.settings.firewallPolicyId;
  const configurationPolicy = ctx.configuration?.firewallPolicyId;
  if (!accountPolicy && !configurationPolicy) return undefined;
  const surface = ctx.route.surface;
  const screened = screenedSurface(surface) || screenedBedrockTurn(surface, ctx.body!) || screenedOtherTurn(surface, ctx.body!);
  const unscreened = screened ? undefined : UNSCREENED_TURNS.get(surface);
  if (!screened && !unscreened) return undefined;
  const policies = keyPolicies(accountPolicy, configurationPolicy, ctx.account!.firewallPolicies);
  if (unscreened) {
    const skipped = skippedPolicy(policies, surface !== 'completions');
    if (skipped) throw tollgateError('invalidRequest', { reason: `this access key's Firewall policy ${skipped.id} enforces rules, and Firewall does not screen ${unscreened}: nothing would be checked. Send the request as chat completions, Responses, Messages (Claude on Bedrock included), Gemini generateContent or Interactions, Bedrock's Converse, or legacy completions with a text prompt, or set the policy's mode to audit.` });
    return undefined;
  }
  return policies.length > 0 ? policies : undefined;
}

/**
 * Request rules on the request as the client sent it: the findings (reported whatever they say), and the one that
 * blocks when an enforcing policy blocks it.
 */
export function screenRequest(ctx: RequestContext, policies: readonly CompiledPolicy[]): FirewallFinding | undefined {
  if (!hasRules(policies, 'request')) return undefined;
  // The rules read the parse, which keeps a repeated key's last value; the body goes upstream as written, to a parser
  // that may keep the first (nested members are not deduplicated: body-edit.ts). SDKs never repeat a key.
  const twice = repeatedKey(ctx.rawBody!.toString('utf8'));
  if (twice !== undefined) throw tollgateError('invalidRequest', { reason: `the key "${twice.slice(0, 64)}" is given twice in one object: the provider could read the value this access key's Firewall rules did not check. Send it once.` });
  const findings = judgeRequest(policies, requestParts(ctx.route.surface, ctx.body!));
  if (findings.length === 0) return undefined;
  ctx.firewallFindings = findings;
  return blockingFinding(findings);
}

/** A finding as it is reported: what happened, the rule (quoted: names hold spaces and commas), its tier and policy. */
function reported(f: FirewallFinding): string {
  const outcome = f.blocked ? 'blocked' : f.unchecked ? 'unchecked' : 'flagged';
  return `${outcome}; rule="${f.rule.replace(/["\\]/g, '\\$&')}"; tier=${f.tier}; policy=${f.policyId}`;
}

/** Findings as Ngrok-AIG-Firewall and the access line report them. */
export function firewallReport(findings: readonly FirewallFinding[]): string {
  return headerText(findings.map(reported).join(', '));
}

/** The findings so far on the answer's headers (Ngrok-AIG-Firewall), when there are any. */
export function withFirewallHeader(ctx: RequestContext, headers: OutHeaders): void {
  const findings = ctx.firewallFindings;
  if (findings && findings.length > 0) headers[H_FIREWALL] = firewallReport(findings);
}

/**
 * A realtime session: Firewall reads none of its events (the model's function calls included), so a key whose
 * enforcing policy has rules is refused the session rather than given a way around them. Audit policies let it
 * through, as on the paths they cannot screen.
 */
export function refuseUnscreenedSession(account: AccountSnapshot, configuration: ConfigurationState | null | undefined): void {
  const accountPolicy = account.settings.firewallPolicyId;
  const configurationPolicy = configuration?.firewallPolicyId;
  if (!accountPolicy && !configurationPolicy) return;
  const skipped = skippedPolicy(keyPolicies(accountPolicy, configurationPolicy, account.firewallPolicies), true);
  if (skipped) throw tollgateError('invalidRequest', { reason: `this access key's Firewall policy ${skipped.id} enforces rules, and Firewall does not screen realtime sessions: nothing would be checked. Use chat completions or Responses, or set the policy's mode to audit.` });
}
