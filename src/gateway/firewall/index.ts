// Firewall in the pipeline (gateway-behaviour.md "Firewall"): the key's policies and the request's own (`plugins`,
// plugins.ts), found once per request (nothing allocated for a key without one and a request without rules), request
// rules before any attempt, response rules on each tool call of the answer (tool-calls.ts), and the verdicts reported
// in Ngrok-AIG-Firewall and on the access line.
import { blockingFinding, compilePolicy, decisionRulesToJudge, hasRules, judgeRequest, keyPolicies, type CompiledPolicy, type Decided, type FirewallFinding, type RequestParts } from '../../domain/firewall.ts';
import type { ApiSurface } from '../../catalog/types.ts';
import type { RequestContext } from '../context.ts';
import type { AccountSnapshot, ConfigurationState } from '../../state/types.ts';
import { headerText, H_FIREWALL, type OutHeaders } from '../headers.ts';
import { tollgateError } from '../../domain/errors.ts';
import { editedBodyText, repeatedKey } from '../body-edit.ts';
import { requestPolicies } from './plugins.ts';
import { judgeDecisionRules, judgesDecisions, verdictUnawaited } from './decision.ts';
import { requestParts, screenedBedrockTurn, screenedOtherTurn, screenedSurface } from './request-view.ts';

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
 * A request's own rules (`plugins`): read, checked and taken out of the body on every model turn, and on token
 * counting (the same body, counted: nothing is answered that rules could screen). Kept as the request's policies
 * where Firewall screens the turn; on a turn it cannot screen, `firewallFor` refuses the request when they enforce
 * rules it would skip. Anywhere else (embeddings…) nothing would be checked, and the request is refused.
 */
export function takeRequestPlugins(ctx: RequestContext): void {
  const body = ctx.body!;
  if (!Object.hasOwn(body, 'plugins')) return;
  const surface = ctx.route.surface;
  const turn = screenedSurface(surface) || screenedBedrockTurn(surface, body) || screenedOtherTurn(surface, body) || UNSCREENED_TURNS.has(surface);
  if (!turn && surface !== 'count-tokens') throw tollgateError('invalidRequest', { reason: `"plugins" (per-request Firewall rules) applies to model turns, and Firewall does not screen ${surface} requests: nothing in it would be enforced. Send the request without "plugins".` });
  const policies = requestPolicies(body.plugins, judgesDecisions(ctx.deps));
  const { plugins: _, ...rest } = body;
  // Never to the provider: OpenAI, Anthropic and Google refuse an unknown field, and OpenRouter would read it as its own.
  ctx.rawBody = Buffer.from(editedBodyText(ctx.rawBody!.toString('utf8'), body, rest));
  ctx.body = rest;
  if (turn && policies.length > 0) ctx.requestFirewall = policies.map(compilePolicy);
}

/** A policy as a refusal names it: the key's by its id, the request's own by where it sits in `plugins`. */
function policyLabel(policy: CompiledPolicy): string {
  return policy.id.startsWith('plugins[') ? `the request's Firewall rules (${policy.id})` : `this access key's Firewall policy ${policy.id}`;
}

/**
 * The first enforcing policy with rules a path Firewall cannot screen would skip: request rules, and response rules
 * where the model can return tool calls (`toolCalls`).
 */
function skippedPolicy(policies: readonly CompiledPolicy[], toolCalls: boolean): CompiledPolicy | undefined {
  return policies.find((p) => p.mode === 'enforce' && (p.request.length > 0 || (toolCalls && p.response.length > 0)));
}

/**
 * The key's policies for this request, then the request's own (`plugins`), undefined when there are none (or the
 * surface is not one Firewall screens). A model turn on a surface it cannot screen is refused when an enforcing
 * policy has rules it would skip there: request rules anywhere, response rules where the model can return tool calls
 * (all but legacy completions).
 */
export function firewallFor(ctx: RequestContext): readonly CompiledPolicy[] | undefined {
  const accountPolicy = ctx.account!.settings.firewallPolicyId;
  const configurationPolicy = ctx.configuration?.firewallPolicyId;
  const own = ctx.requestFirewall;
  if (!accountPolicy && !configurationPolicy && !own) return undefined;
  const surface = ctx.route.surface;
  const screened = screenedSurface(surface) || screenedBedrockTurn(surface, ctx.body!) || screenedOtherTurn(surface, ctx.body!);
  const unscreened = screened ? undefined : UNSCREENED_TURNS.get(surface);
  if (!screened && !unscreened) return undefined;
  const keys = keyPolicies(accountPolicy, configurationPolicy, ctx.account!.firewallPolicies);
  const policies = own ? [...keys, ...own] : keys;
  if (unscreened) {
    const skipped = skippedPolicy(policies, surface !== 'completions');
    if (skipped) throw tollgateError('invalidRequest', { reason: `${policyLabel(skipped)} enforces rules, and Firewall does not screen ${unscreened}: nothing would be checked. Send the request as chat completions, Responses, Messages (Claude on Bedrock included), Gemini generateContent or Interactions, Bedrock's Converse, or legacy completions with a text prompt, or set the policy's mode to audit.` });
    return undefined;
  }
  return policies.length > 0 ? policies : undefined;
}

/**
 * Request rules on the request as the client sent it: the findings (reported whatever they say), and the one that
 * blocks when an enforcing policy blocks it. A promise only when the policies have decision rules for the decision
 * model to judge first (decision.ts).
 */
export function screenRequest(ctx: RequestContext, policies: readonly CompiledPolicy[]): FirewallFinding | undefined | Promise<FirewallFinding | undefined> {
  if (!hasRules(policies, 'request')) return undefined;
  // The rules read the parse, which keeps a repeated key's last value; the body goes upstream as written, to a parser
  // that may keep the first (nested members are not deduplicated: body-edit.ts). SDKs never repeat a key.
  const twice = repeatedKey(ctx.rawBody!.toString('utf8'));
  if (twice !== undefined) throw tollgateError('invalidRequest', { reason: `the key "${twice.slice(0, 64)}" is given twice in one object: the provider could read the value this access key's Firewall rules did not check. Send it once.` });
  const parts = requestParts(ctx.route.surface, ctx.body!);
  if (!judgesDecisions(ctx.deps) || decisionRulesToJudge(policies, 'request').length === 0) return requestVerdict(ctx, policies, parts);
  // The shutdown grace period cut the judgements (the client has its 503, "retry"), or the client left: no verdict
  // (even onError's) is given, reported or recorded for rules nobody judged. The request goes on to be recorded as its
  // first attempt, never sent (pipeline.ts).
  return judgeDecisionRules(ctx, policies, parts).then((decisions) => verdictUnawaited(ctx) ? undefined : requestVerdict(ctx, policies, parts, (rule) => decisions.get(rule)));
}

function requestVerdict(ctx: RequestContext, policies: readonly CompiledPolicy[], parts: RequestParts, decided?: Decided): FirewallFinding | undefined {
  const findings = judgeRequest(policies, parts, decided);
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
