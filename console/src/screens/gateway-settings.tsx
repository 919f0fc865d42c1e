// Account-wide gateway settings: timeouts (Go duration strings), token caps (empty = no cap), the all-keys Firewall
// policy (none = null) and request capture. Only the fields the form changed are sent: a written totalTimeout also bounds streamed answers
// (an unwritten one lets them run 15 minutes), so saving a cap must not write the timeout shown as its default.
import { useEffect, useState } from 'preact/hooks';
import { api, type FirewallPolicy, type GatewayConfig } from '../api.ts';
import { Button, ErrorNote, Field, fieldError, formError, useAction, Loading } from '../ui.tsx';
import { attachingPolicy, FirewallPolicyPicker, loadFirewallPolicies, POLICY_FIELD } from './firewall-picker.tsx';

const cap = (s: string): number | null => (s.trim() === '' ? null : Number(s));
const FIELDS = ['totalTimeout', 'perRequestTimeout', 'maxInputTokens', 'maxOutputTokens', POLICY_FIELD, 'requestCapture'] as const;

export function GatewaySettings() {
  const [cfg, setCfg] = useState<GatewayConfig | undefined>();
  const [form, setForm] = useState({ totalTimeout: '', perRequestTimeout: '', maxInputTokens: '', maxOutputTokens: '', firewallPolicyId: '', requestCapture: false });
  const [policies, setPolicies] = useState<FirewallPolicy[] | undefined>();
  const load = useAction();
  const save = useAction();
  const show = (c: GatewayConfig) => {
    setCfg(c);
    setForm({ totalTimeout: c.totalTimeout, perRequestTimeout: c.perRequestTimeout, maxInputTokens: c.maxInputTokens?.toString() ?? '', maxOutputTokens: c.maxOutputTokens?.toString() ?? '', firewallPolicyId: c.firewallPolicyId ?? '', requestCapture: c.requestCapture ?? false });
  };
  useEffect(() => {
    void load.run('Loading gateway settings', () => api<GatewayConfig>('GET', '/gateway-config'), '').then((c) => c && show(c));
    void load.run('Loading Firewall policies', loadFirewallPolicies, '').then((l) => l && setPolicies(l));
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const next = { totalTimeout: form.totalTimeout.trim(), perRequestTimeout: form.perRequestTimeout.trim(), maxInputTokens: cap(form.maxInputTokens), maxOutputTokens: cap(form.maxOutputTokens), firewallPolicyId: form.firewallPolicyId || null, requestCapture: form.requestCapture };
    // An account that never set request capture reads false: unchanged, it is not sent.
    const current = (k: keyof typeof next) => (k === 'requestCapture' ? cfg?.requestCapture ?? false : cfg?.[k]);
    const body = Object.fromEntries(Object.entries(next).filter(([k, v]) => current(k as keyof typeof next) !== v));
    const c = await save.run('Saving gateway settings', () => attachingPolicy(() => api<GatewayConfig>('PATCH', '/gateway-config', body), policies), 'Gateway settings saved.');
    if (c) show(c);
  };
  const input = (k: keyof typeof form) => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [k]: e.currentTarget.value });
  const setPolicy = (firewallPolicyId: string) => setForm({ ...form, firewallPolicyId });
  return (
    <section aria-labelledby="gw-title">
      <h2 id="gw-title">Gateway settings</h2>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      {cfg ? (
        <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="gw-title">
          <div class="grid">
            <Field label="Total timeout" error={fieldError(save, 'totalTimeout')} hint="Whole request including failover, e.g. 120s or 2m. Once saved it bounds streamed answers too, which otherwise may run up to the stream limit (15 minutes by default)."><input required value={form.totalTimeout} onInput={input('totalTimeout')} /></Field>
            <Field label="Per-attempt timeout" error={fieldError(save, 'perRequestTimeout')} hint="One upstream attempt, e.g. 60s."><input required value={form.perRequestTimeout} onInput={input('perRequestTimeout')} /></Field>
            <Field label="Max input tokens" error={fieldError(save, 'maxInputTokens')} hint="Empty for no cap."><input type="number" min={1} value={form.maxInputTokens} onInput={input('maxInputTokens')} /></Field>
            <Field label="Max output tokens" error={fieldError(save, 'maxOutputTokens')} hint="Empty for no cap."><input type="number" min={1} value={form.maxOutputTokens} onInput={input('maxOutputTokens')} /></Field>
            <FirewallPolicyPicker label="All-keys Firewall policy" hint="Checks the traffic of every access key, besides the policy of the key's configuration." value={form.firewallPolicyId}
              policies={policies} error={fieldError(save, POLICY_FIELD)} onChange={setPolicy} />
          </div>
          <label class="choice">
            <input type="checkbox" checked={form.requestCapture} onChange={(e) => setForm({ ...form, requestCapture: e.currentTarget.checked })} /> Request capture
          </label>
          <p class="hint">Keeps each request's body and the answer (their first 64 KiB, encrypted, for a week) so Logs can show them. Prompts and answers are then stored: turn it on while debugging.</p>
          {/* An error the API tied to a field is shown at that field, marking it invalid and describing it. */}
          <ErrorNote error={formError(save, FIELDS)} />
          <Button type="submit" kind="primary" busy={save.busy}>Save gateway settings</Button>
        </form>
      ) : null}
    </section>
  );
}
