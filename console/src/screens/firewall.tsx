// Firewall (ngrok's Firewall policies): named rule sets that screen what agents send to a model (request rules) and
// the tool calls a model returns (response rules). The list, and an editor: name, mode, on error → request rules →
// response rules → save. The API's refusals name their field (`rules.2.pattern`): each is shown at its rule.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, when, type FirewallPolicy } from '../api.ts';
import { READS, TIERS, emptyPolicy, emptyRule, fromPolicy, ruleOf, rulesOfPhase, toWrite, type Phase, type PolicyState, type Read, type RuleState } from '../firewall-model.ts';
import { navigate } from '../nav.ts';
import { Button, ConfirmButton, Empty, ErrorNote, Field, PageHeading, TableWrap, fieldError, neighbour, useAction, useFocusAfterRender, useResourceList, Loading, FormActions, ListOrEditor } from '../ui.tsx';

/** A refusal of one rule: the rule's own field it names (`pattern` of `rules.2.pattern`; `toolNames` of `rules.0.toolNames.3`) and the text. */
interface RuleError { field: string; text: string }

const MODES = { enforce: 'Enforce', audit: 'Dry run' } as const;
const ON_ERROR = { block: 'Block', log: 'Continue' } as const;

function FirewallList() {
  const { items, load, remove, del } = useResourceList<FirewallPolicy>('/firewall-policies', 'aiGatewayFirewallPolicies', 'Firewall policy', 'Firewall policies');
  return (
    <section aria-labelledby="firewall-title">
      <PageHeading id="firewall-title">Firewall</PageHeading>
      <p class="lead">A Firewall policy checks what agents send to a model and the tool calls a model returns. Attach one to every key in Credits &amp; settings, or to some keys through their configuration.</p>
      <p><a class="btn btn-primary" href="#/firewall/new">New firewall policy</a></p>
      <ErrorNote error={load.error ?? remove.error} />
      <Loading busy={load.busy} />
      {items && items.length === 0 ? <Empty>No Firewall policies yet.</Empty> : null}
      {items && items.length > 0 ? (
        <TableWrap label="Firewall policy list">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Mode</th><th scope="col">On error</th><th scope="col">Rules</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id} data-id={p.id}>
                  <th scope="row"><a href={`#/firewall/${p.id}`}>{p.name}</a>{p.allKeys ? <span class="badge">All keys</span> : null}{p.description ? <div class="sub">{p.description}</div> : null}</th>
                  <td data-label="Mode">{MODES[p.mode]}</td>
                  <td data-label="On error">{ON_ERROR[p.onError]}</td>
                  <td data-label="Rules">{p.rules.filter((r) => r.phase === 'request').length} request, {p.rules.filter((r) => r.phase === 'response').length} response</td>
                  <td data-label="Updated">{when(p.updatedAt)}</td>
                  <td class="actions">
                    <ConfirmButton label="Delete" question={`Delete ${p.name}? Keys stop being checked by it at once.`} busy={remove.busy} onConfirm={() => void del(p)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </section>
  );
}

function RuleCard({ rule, index, error, onChange, onRemove }: { rule: RuleState; index: number; error: RuleError | undefined; onChange: (r: RuleState) => void; onRemove: () => void }) {
  // Shown at the field the API named (which then takes the focus), else under the rule.
  const at = (field: string) => (error?.field === field ? error.text : undefined);
  const general = error && !['name', 'type', 'tier', 'toolNames', 'pattern'].includes(error.field) ? error.text : undefined;
  const set = (patch: Partial<RuleState>) => onChange({ ...rule, ...patch });
  const toggleRead = (read: Read, on: boolean) => set({ reads: on ? [...rule.reads, read] : rule.reads.filter((r) => r !== read) });
  const label = rule.name || `rule ${index + 1}`;
  return (
    <li class="card rule" data-rule={index}>
      <div class="grid">
        <Field label="Rule name" hint="The agent sees it when the rule blocks something." error={at('name')}><input required maxLength={255} value={rule.name} onInput={(e) => set({ name: e.currentTarget.value })} /></Field>
        <Field label="Type" error={at('type')}>
          <select value={rule.type} onChange={(e) => set({ type: e.currentTarget.value as RuleState['type'] })}>
            <option value="toolNames">Tool names</option>
            <option value="regex">Regex</option>
            <option value="decision">Decision</option>
          </select>
        </Field>
        <Field label="Tier" error={at('tier')}>
          <select value={rule.tier} onChange={(e) => set({ tier: e.currentTarget.value as RuleState['tier'] })}>
            {TIERS.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
          </select>
        </Field>
      </div>
      {rule.type === 'toolNames' ? (
        <Field label="Tool names" hint="One a line; whole names, case-sensitive; * matches any characters (mcp__payments__*)." error={at('toolNames')}>
          <textarea class="mono" rows={3} value={rule.toolNames} onInput={(e) => set({ toolNames: e.currentTarget.value })} />
        </Field>
      ) : rule.type === 'regex' ? (
        <Field label="Pattern" hint="RE2 syntax, case-sensitive unless it starts with (?i). Against a tool call it matches the tool name, a space and the JSON arguments." error={at('pattern')}>
          <input class="mono" maxLength={4096} value={rule.pattern} onInput={(e) => set({ pattern: e.currentTarget.value })} />
        </Field>
      ) : (
        <Field label="Instructions" hint="The risk in plain language (Deletes files outside the project directory.), judged by the decision model the operator names; without one the API refuses the rule." error={at('instructions')}>
          <textarea rows={3} maxLength={4000} value={rule.instructions} onInput={(e) => set({ instructions: e.currentTarget.value })} />
        </Field>
      )}
      {rule.phase === 'request' ? (
        <fieldset class="checks">
          <legend>Reads (none checked: all of them)</legend>
          {READS.map((r) => (
            <label class="choice" key={r.value}>
              <input type="checkbox" checked={rule.reads.includes(r.value)} onChange={(e) => toggleRead(r.value, e.currentTarget.checked)} /> {r.label}
            </label>
          ))}
        </fieldset>
      ) : null}
      {general ? <ErrorNote id={`rule-${index}-error`} error={general} /> : null}
      <div class="row">
        <Button data-remove="rule" aria-label={`Remove ${label}`} aria-describedby={general ? `rule-${index}-error` : undefined} onClick={onRemove}>Remove rule</Button>
      </div>
    </li>
  );
}

function RuleSection({ phase, title, hint, rules, errorAt, onChange }: {
  phase: Phase; title: string; hint: string; rules: RuleState[]; errorAt: (index: number) => RuleError | undefined; onChange: (rules: RuleState[]) => void;
}) {
  const listRef = useRef<HTMLOListElement>(null);
  const focusLater = useFocusAfterRender();
  const mine = rulesOfPhase(rules, phase);
  const add = () => {
    onChange([...rules, emptyRule(phase)]);
    focusLater(() => listRef.current?.querySelector<HTMLElement>('li:last-child input'));
  };
  const remove = (index: number, position: number) => {
    onChange(rules.filter((_, j) => j !== index));
    focusLater(() => neighbour(listRef.current, position, '[data-remove="rule"]') ?? listRef.current?.closest('section')?.querySelector<HTMLElement>('[data-add]'));
  };
  const id = `${phase}-rules-title`;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <p class="hint">{hint}</p>
      {mine.length === 0 ? <p class="muted">No {phase} rules.</p> : null}
      <ol ref={listRef} class="rules" aria-label={title}>
        {mine.map(({ rule, index }, position) => (
          <RuleCard key={index} rule={rule} index={index} error={errorAt(index)}
            onChange={(r) => onChange(rules.map((x, j) => (j === index ? r : x)))} onRemove={() => remove(index, position)} />
        ))}
      </ol>
      <Button data-add={phase} onClick={add}>Add rule</Button>
    </section>
  );
}

function FirewallEditor({ id }: { id: string | undefined }) {
  const [state, setState] = useState<PolicyState | undefined>(id ? undefined : emptyPolicy());
  const load = useAction();
  const save = useAction();
  useEffect(() => {
    if (id) void load.run('Loading Firewall policy', () => api<FirewallPolicy>('GET', `/firewall-policies/${encodeURIComponent(id)}`), '').then((p) => p && setState(fromPolicy(p)));
  }, [id]);
  if (!state) return <section><PageHeading>Firewall policy</PageHeading><ErrorNote error={load.error} />{load.busy ? <p>Loading…</p> : null}</section>;

  const set = (patch: Partial<PolicyState>) => setState({ ...state, ...patch });
  const setRules = (rules: RuleState[]) => {
    set({ rules });
    // A refusal of one rule names it by index, which an added or removed rule moves.
    if (save.field?.startsWith('rules')) save.clear();
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = toWrite(state, id !== undefined);
    const saved = await save.run('Saving Firewall policy', () => (id ? api<FirewallPolicy>('PATCH', `/firewall-policies/${encodeURIComponent(id)}`, body) : api<FirewallPolicy>('POST', '/firewall-policies', body)),
      (p) => `Firewall policy ${p.name} saved.`);
    if (saved) {
      setState(fromPolicy(saved));
      if (!id) navigate('firewall', saved.id);
    }
  };
  const blamedRule = ruleOf(save.field);
  const errorAt = (index: number): RuleError | undefined => (blamedRule === index && save.error ? { field: save.field!.split('.')[2] ?? '', text: save.error } : undefined);
  const fieldErr = (field: string) => fieldError(save, field);
  const elsewhere = save.error && blamedRule === undefined && !['name', 'description', 'environment', 'mode', 'onError'].includes(save.field?.split('.')[0] ?? '') ? save.error : undefined;
  return (
    <form class="editor" onSubmit={(e) => void submit(e)} aria-labelledby="fw-editor-title">
      <p><a href="#/firewall">← All Firewall policies</a></p>
      <PageHeading id="fw-editor-title">{id ? `Edit ${state.name || 'Firewall policy'}` : 'New firewall policy'}</PageHeading>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <section class="card" aria-labelledby="fw-details-title">
        <h2 id="fw-details-title">Policy</h2>
        <div class="grid">
          <Field label="Name" error={fieldErr('name')}><input required maxLength={255} value={state.name} onInput={(e) => set({ name: e.currentTarget.value })} /></Field>
          <Field label="Description" error={fieldErr('description')}><input maxLength={255} value={state.description} onInput={(e) => set({ description: e.currentTarget.value })} /></Field>
          <Field label="Mode" hint="Dry run lets everything through and reports what the rules flag; Enforce blocks it." error={fieldErr('mode')}>
            <select value={state.mode} onChange={(e) => set({ mode: e.currentTarget.value as PolicyState['mode'] })}>
              {Object.entries(MODES).map(([v, l]) => <option key={v} value={v}>{l}</option>)}
            </select>
          </Field>
          <Field label="On error" hint="What happens to what Firewall can't check: block it, or let it through." error={fieldErr('onError')}>
            <select value={state.onError} onChange={(e) => set({ onError: e.currentTarget.value as PolicyState['onError'] })}>
              {Object.entries(ON_ERROR).map(([v, l]) => <option key={v} value={v}>{l}</option>)}
            </select>
          </Field>
        </div>
        <Field label="Environment details" hint="Facts about where the agents run, one a line, up to 32." error={save.field?.startsWith('environment') ? save.error : undefined}>
          <textarea rows={2} value={state.environment} onInput={(e) => set({ environment: e.currentTarget.value })} />
        </Field>
      </section>
      <RuleSection phase="request" title="Request rules" hint="Checked before the request reaches the model; a blocked request never reaches it." rules={state.rules} errorAt={errorAt} onChange={setRules} />
      <RuleSection phase="response" title="Response rules" hint="Checked on each tool call the model returns; a blocked call is removed before the agent receives it." rules={state.rules} errorAt={errorAt} onChange={setRules} />
      {elsewhere ? <ErrorNote error={elsewhere} /> : null}
      <FormActions busy={save.busy} save="Save policy" route="firewall" />
    </form>
  );
}

export function FirewallScreen({ id }: { id: string | undefined }) {
  return <ListOrEditor id={id} list={FirewallList} editor={FirewallEditor} />;
}
