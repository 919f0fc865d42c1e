// Firewall in the pipeline (gateway-behaviour.md "Firewall"): the key's policies, found once per request (nothing
// allocated for a key without one), request rules before any attempt, response rules on each tool call of
// the answer (tool-calls.ts), and the verdicts reported in Ngrok-AIG-Firewall and on the access line.
import { blockingFinding, hasRules, judgeRequest, keyPolicies, type CompiledPolicy, type FirewallFinding } from '../../domain/firewall.ts';
import type { ApiSurface } from '../../catalog/types.ts';
import type { RequestContext } from '../context.ts';
import { headerText, H_FIREWALL, type OutHeaders } from '../headers.ts';
import { requestParts, screenedSurface } from './request-view.ts';

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

/** The key's policies for this request, undefined when it has none (or the surface is not one Firewall screens). */
export function firewallFor(ctx: RequestContext): readonly CompiledPolicy[] | undefined {
  const accountPolicy = ctx.account!.settings.firewallPolicyId;
  const configurationPolicy = ctx.configuration?.firewallPolicyId;
  if (!accountPolicy && !configurationPolicy) return undefined;
  if (!screenedSurface(ctx.route.surface)) return undefined;
  const policies = keyPolicies(accountPolicy, configurationPolicy, ctx.account!.firewallPolicies);
  return policies.length > 0 ? policies : undefined;
}

/**
 * Request rules on the request as the client sent it: the findings (reported whatever they say), and the one that
 * blocks when an enforcing policy blocks it.
 */
export function screenRequest(ctx: RequestContext, policies: readonly CompiledPolicy[]): FirewallFinding | undefined {
  if (!hasRules(policies, 'request')) return undefined;
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
