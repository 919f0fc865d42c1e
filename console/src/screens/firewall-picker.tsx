// The Firewall policy picker of the gateway config (the all-keys policy) and of a configuration (its keys' policy):
// none, or one of the account's policies by name. Policies are made and edited on the Firewall screen.
import type { ComponentChildren } from 'preact';
import { ApiError, listAll, type FirewallPolicy } from '../api.ts';
import { policyChoices, refusesPolicy } from '../firewall-model.ts';
import { Field } from '../ui.tsx';

/** The request field a picker's value is sent as, and an error placed at the picker is blamed on. */
export const POLICY_FIELD = 'firewallPolicyId';

export const loadFirewallPolicies = (): Promise<FirewallPolicy[]> => listAll<FirewallPolicy>('/firewall-policies', 'aiGatewayFirewallPolicies');

/** A refusal worded by the console: its message is whole, without the API name of the field it is shown at. */
class PolicyRefusal extends ApiError {
  override get explanation(): string { return this.message; }
}

/**
 * `send` (a save that writes `firewallPolicyId`), with the API's "not found" for the chosen policy — deleted in another
 * tab since the picker was filled — blamed on the picker, which then takes the focus, and naming the policy by name.
 */
export async function attachingPolicy<T>(send: () => Promise<T>, policies: readonly FirewallPolicy[] | undefined): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof ApiError) || !refusesPolicy(err.status, err.details)) throw err;
    const name = policies?.find((p) => p.id === err.details.id)?.name;
    const which = name ? `“${name}”` : (err.details.id ?? '');
    throw new PolicyRefusal(err.status, `Firewall policy ${which} was not found: it was deleted after this page listed it. Choose another policy, or None.`, err.code, { field: POLICY_FIELD });
  }
}

export function FirewallPolicyPicker({ label, hint, value, policies, error, onChange }: {
  label: string; hint: ComponentChildren; value: string; policies: readonly FirewallPolicy[] | undefined; error: string | undefined; onChange: (id: string) => void;
}) {
  const none = policies?.length === 0 ? 'The account has no policies yet: ' : '';
  return (
    <Field label={label} error={error} hint={<>{hint} {none}<a href="#/firewall">{none ? 'create one under Firewall' : 'Policies are edited under Firewall'}</a>.</>}>
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {policyChoices(policies, value).map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
      </select>
    </Field>
  );
}
