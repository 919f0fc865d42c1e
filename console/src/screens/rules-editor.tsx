// Routing rules: one per provider or per model, each an ordered chain of steps. A step uses managed
// credentials (`ngrok`, billed to credits) or stored provider keys tried in the order shown here.
import { useRef, useState } from 'preact/hooks';
import type { ProviderKey } from '../api.ts';
import { providerOfModel } from '../catalog.ts';
import { move, type RuleError, type RuleState, type StepState } from '../config-model.ts';
import { Button, enabledButton, ErrorNote, Field, neighbour, useFocusAfterRender } from '../ui.tsx';

interface Ctx { providerIds: string[]; keys: ProviderKey[] }
type Dir = 'up' | 'down';

function KeyPicker({ candidates, onAdd, label }: { candidates: ProviderKey[]; onAdd: (id: string) => void; label: string }) {
  const [choice, setChoice] = useState('');
  const picked = choice || candidates[0]?.id || '';
  if (candidates.length === 0) return <p class="hint">No more stored keys for this provider. Add one under Providers → Provider keys.</p>;
  return (
    <div class="row">
      <Field label={label}>
        <select data-key-picker value={picked} onChange={(e) => setChoice(e.currentTarget.value)}>
          {candidates.map((k) => <option key={k.id} value={k.id}>{k.name} ({k.providerId}, {k.keyRedacted})</option>)}
        </select>
      </Field>
      <Button onClick={() => { if (picked) { onAdd(picked); setChoice(''); } }}>Add key</Button>
    </div>
  );
}

function StepEditor({ step, index, count, provider, ctx, onChange, onMove, onRemove, prefix }: {
  step: StepState; index: number; count: number; provider: string | undefined; ctx: Ctx; prefix: string;
  onChange: (s: StepState) => void; onMove: (dir: Dir) => void; onRemove: () => void;
}) {
  const byId = new Map(ctx.keys.map((k) => [k.id, k]));
  const candidates = ctx.keys.filter((k) => !step.keys.includes(k.id) && (!provider || k.providerId === provider));
  const label = `${prefix} step ${index + 1}`;
  const keysRef = useRef<HTMLOListElement>(null);
  const stepRef = useRef<HTMLFieldSetElement>(null);
  const focusLater = useFocusAfterRender();
  const moveKey = (i: number, id: string, dir: Dir) => {
    onChange({ ...step, keys: move(step.keys, i, dir === 'up' ? -1 : 1) });
    // The moved key's button keeps the focus; at the end of the list (now disabled) its opposite does.
    const other = dir === 'up' ? 'down' : 'up';
    focusLater(() => enabledButton(keysRef.current?.querySelector(`[data-key="${id}"]`), `[data-move="${dir}"]`, `[data-move="${other}"]`));
  };
  // Adding the last stored key removes the picker with its focused button: the focus goes to the added key.
  const addKey = (id: string) => {
    onChange({ ...step, keys: [...step.keys, id] });
    focusLater(() => (stepRef.current?.contains(document.activeElement) ? null : keysRef.current?.lastElementChild?.querySelector<HTMLElement>('[data-remove="key"]')));
  };
  // A removed key's button is gone: the focus goes to the next key's (else the previous one's), else to the picker.
  const removeKey = (i: number, id: string) => {
    onChange({ ...step, keys: step.keys.filter((x) => x !== id) });
    focusLater(() => neighbour(keysRef.current, i, '[data-remove="key"]') ?? stepRef.current?.querySelector<HTMLElement>('[data-key-picker]'));
  };
  return (
    <li class="step">
      <fieldset ref={stepRef} aria-label={label}>
        <legend>Step {index + 1}</legend>
        <Field label="Credentials">
          <select value={step.type} onChange={(e) => onChange({ type: e.currentTarget.value as StepState['type'], keys: step.keys })}>
            <option value="ngrok">Managed (operator credentials, billed to credits)</option>
            <option value="user">Stored provider keys, tried in order</option>
          </select>
        </Field>
        {step.type === 'user' ? (
          <>
            {step.keys.length === 0 ? <p class="warning" role="note">Add at least one stored key to this step.</p> : (
              <ol ref={keysRef} class="keys" aria-label={`Keys of ${label}, in the order they are tried`}>
                {step.keys.map((id, i) => {
                  const k = byId.get(id);
                  const name = k ? `${k.name} (${k.keyRedacted})` : id;
                  return (
                    <li key={id} data-key={id}>
                      <span>{name}</span>
                      <Button data-move="up" aria-label={`Move key ${k?.name ?? id} up`} disabled={i === 0} onClick={() => moveKey(i, id, 'up')}>↑</Button>
                      <Button data-move="down" aria-label={`Move key ${k?.name ?? id} down`} disabled={i === step.keys.length - 1} onClick={() => moveKey(i, id, 'down')}>↓</Button>
                      <Button data-remove="key" aria-label={`Remove key ${k?.name ?? id}`} onClick={() => removeKey(i, id)}>Remove</Button>
                    </li>
                  );
                })}
              </ol>
            )}
            <KeyPicker label="Stored key to add" candidates={candidates} onAdd={addKey} />
          </>
        ) : <p class="hint">Uses the operator's managed credentials for built-in providers (TOLLGATE_MANAGED_…_API_KEY).</p>}
        <div class="row">
          <Button data-move-step="up" aria-label={`Move ${label} up`} disabled={index === 0} onClick={() => onMove('up')}>Move step up</Button>
          <Button data-move-step="down" aria-label={`Move ${label} down`} disabled={index === count - 1} onClick={() => onMove('down')}>Move step down</Button>
          <Button data-remove="step" aria-label={`Remove ${label}`} onClick={onRemove}>Remove step</Button>
        </div>
      </fieldset>
    </li>
  );
}

function RuleEditor({ rule, index, ctx, error, onChange, onRemove }: { rule: RuleState; index: number; ctx: Ctx; error: RuleError | undefined; onChange: (r: RuleState) => void; onRemove: () => void }) {
  const provider = rule.target === 'provider' ? rule.provider : providerOfModel(rule.model);
  const prefix = `Rule ${index + 1}`;
  const setStep = (i: number, s: StepState) => onChange({ ...rule, steps: rule.steps.map((o, j) => (j === i ? s : o)) });
  const stepsRef = useRef<HTMLOListElement>(null);
  const ruleRef = useRef<HTMLLIElement>(null);
  const focusLater = useFocusAfterRender();
  // A new step takes the focus at its first control; a removed one passes it to the step now in its place (else
  // the one before it), else to Add step.
  const addStep = () => {
    onChange({ ...rule, steps: [...rule.steps, { type: 'user', keys: [] }] });
    focusLater(() => stepsRef.current?.children[rule.steps.length]?.querySelector('select'));
  };
  const removeStep = (i: number) => {
    onChange({ ...rule, steps: rule.steps.filter((_, j) => j !== i) });
    focusLater(() => neighbour(stepsRef.current, i, '[data-remove="step"]') ?? ruleRef.current?.querySelector<HTMLElement>('[data-add="step"]'));
  };
  const moveStep = (i: number, dir: Dir) => {
    const to = dir === 'up' ? i - 1 : i + 1;
    onChange({ ...rule, steps: move(rule.steps, i, dir === 'up' ? -1 : 1) });
    // Steps are keyed by position, so the focused button would stay put while the step moves away from it:
    // focus follows the step to its new place instead.
    const other = dir === 'up' ? 'down' : 'up';
    focusLater(() => enabledButton(stepsRef.current?.children[to], `[data-move-step="${dir}"]`, `[data-move-step="${other}"]`));
  };
  // A problem with the rule's target goes on its Provider or Model field; one inside its steps under them.
  const fieldError = error?.onTarget ? error.text : undefined;
  return (
    <li ref={ruleRef} class="rule card">
      <fieldset aria-label={prefix}>
        <legend>{prefix}: {rule.target === 'provider' ? (rule.provider || 'choose a provider') : (rule.model || 'enter a model')}</legend>
        <div class="grid">
          <Field label="Applies to">
            <select value={rule.target} onChange={(e) => onChange({ ...rule, target: e.currentTarget.value as RuleState['target'] })}>
              <option value="provider">A provider</option>
              <option value="model">A model (wins over a provider rule)</option>
            </select>
          </Field>
          {rule.target === 'provider' ? (
            <Field label="Provider" error={fieldError}>
              <select aria-required="true" value={rule.provider} onChange={(e) => onChange({ ...rule, provider: e.currentTarget.value })}>
                <option value="">Choose…</option>
                {ctx.providerIds.map((p) => <option key={p} value={p}>{p}</option>)}
              </select>
            </Field>
          ) : (
            <Field label="Model" hint="Provider-qualified, e.g. openai:gpt-4o." error={fieldError}>
              <input aria-required="true" list="model-suggestions" value={rule.model} onInput={(e) => onChange({ ...rule, model: e.currentTarget.value })} />
            </Field>
          )}
        </div>
        <ol ref={stepsRef} class="steps">
          {rule.steps.map((s, i) => (
            <StepEditor key={i} step={s} index={i} count={rule.steps.length} provider={provider} ctx={ctx} prefix={prefix}
              onChange={(n) => setStep(i, n)} onMove={(dir) => moveStep(i, dir)}
              onRemove={() => removeStep(i)} />
          ))}
        </ol>
        {error && !error.onTarget ? <ErrorNote error={error.text} /> : null}
        <div class="row">
          <Button data-add="step" onClick={addStep}>Add step</Button>
          <Button data-remove="rule" kind="danger" aria-label={`Remove ${prefix}`} onClick={onRemove}>Remove rule</Button>
        </div>
      </fieldset>
    </li>
  );
}

export function RulesEditor({ rules, onChange, ctx, errors }: { rules: RuleState[]; onChange: (r: RuleState[]) => void; ctx: Ctx; errors: ReadonlyMap<number, RuleError> }) {
  const rulesRef = useRef<HTMLOListElement>(null);
  const addRef = useRef<HTMLDivElement>(null);
  const focusLater = useFocusAfterRender();
  // As with steps: a new rule takes the focus at its first control, a removed one passes it on.
  const addRule = () => {
    onChange([...rules, { target: 'provider', provider: '', model: '', steps: [{ type: 'user', keys: [] }] }]);
    focusLater(() => rulesRef.current?.children[rules.length]?.querySelector('select'));
  };
  const removeRule = (i: number) => {
    onChange(rules.filter((_, j) => j !== i));
    focusLater(() => neighbour(rulesRef.current, i, '[data-remove="rule"]') ?? addRef.current?.querySelector('button'));
  };
  return (
    <>
      {/* The default order of src/domain/routing.ts (planAttempts without a rule), which also applies to every
          provider that has no rule here. */}
      <p class="hint">{rules.length === 0 ? 'No rules: ' : 'Providers without a rule: '}each request tries your stored provider keys for that provider first (oldest first), then the operator's managed credentials for a built-in provider if the operator set them up. A custom provider with no stored key is called without credentials.</p>
      <ol ref={rulesRef} class="rules">
        {rules.map((r, i) => (
          <RuleEditor key={i} rule={r} index={i} ctx={ctx} error={errors.get(i)} onChange={(n) => onChange(rules.map((o, j) => (j === i ? n : o)))}
            onRemove={() => removeRule(i)} />
        ))}
      </ol>
      <div ref={addRef}><Button onClick={addRule}>Add routing rule</Button></div>
    </>
  );
}
