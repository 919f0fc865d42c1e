// One access dimension (providers or models) of a configuration: an explicit choice between "allow all"
// and "allow only these", with a loud note that an empty allow list blocks everything.
import { useRef, useState } from 'preact/hooks';
import type { DimensionState } from '../config-model.ts';
import { Button, Field, neighbour, useFocusAfterRender } from '../ui.tsx';

interface Props {
  what: 'providers' | 'models';
  value: DimensionState;
  onChange: (d: DimensionState) => void;
  /** Known choices: checkboxes for providers, suggestions for models. */
  choices: string[];
}

export function AccessDimensionEditor({ what, value, onChange, choices }: Props) {
  const [draft, setDraft] = useState('');
  const name = `access-${what}`;
  const chipsRef = useRef<HTMLUListElement>(null);
  const draftRef = useRef<HTMLInputElement>(null);
  const focusLater = useFocusAfterRender();
  const toggle = (id: string, on: boolean) =>
    onChange({ ...value, allow: on ? [...value.allow, id] : value.allow.filter((x) => x !== id) });
  const add = () => {
    const id = draft.trim();
    if (id && !value.allow.includes(id)) onChange({ ...value, allow: [...value.allow, id] });
    setDraft('');
    // With the field empty, Add model is disabled, which would drop its focus: the field takes it for the next model.
    focusLater(() => draftRef.current);
  };
  // The removed model's button is gone: the focus goes to the next model's (else the previous one's), else the field.
  const removeModel = (i: number, id: string) => {
    toggle(id, false);
    focusLater(() => neighbour(chipsRef.current, i, 'button') ?? draftRef.current);
  };
  const extra = value.allow.filter((id) => !choices.includes(id));
  return (
    <fieldset class="dimension" data-testid={name}>
      <legend>{what === 'providers' ? 'Providers' : 'Models'}</legend>
      <label class="choice">
        <input type="radio" name={name} checked={value.mode === 'all'} onChange={() => onChange({ mode: 'all', allow: [] })} />
        Allow all {what}
      </label>
      <label class="choice">
        <input type="radio" name={name} checked={value.mode === 'only'} onChange={() => onChange({ mode: 'only', allow: value.allow })} />
        Allow only these {what}
      </label>
      {value.mode === 'only' ? (
        <div class="allow-list">
          {value.allow.length === 0
            ? <p class="warning" role="note">Nothing is allowed yet: an empty list blocks every {what === 'providers' ? 'provider' : 'model'}.</p>
            : null}
          {what === 'providers' ? (
            <div class="checks">
              {[...choices, ...extra].map((id) => (
                <label class="choice" key={id}>
                  <input type="checkbox" checked={value.allow.includes(id)} onChange={(e) => toggle(id, e.currentTarget.checked)} /> {id}
                </label>
              ))}
            </div>
          ) : (
            <>
              <ul ref={chipsRef} class="chips" aria-label="Allowed models">
                {value.allow.map((id, i) => (
                  <li key={id}><span class="mono">{id}</span> <Button aria-label={`Remove model ${id}`} onClick={() => removeModel(i, id)}>×</Button></li>
                ))}
              </ul>
              <div class="row">
                <Field label="Model to allow" hint="As sent by apps, e.g. openai/gpt-4o. Exact match; no wildcards.">
                  <input ref={draftRef} list="model-suggestions" value={draft} onInput={(e) => setDraft(e.currentTarget.value)}
                    onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} />
                </Field>
                <Button onClick={add} disabled={draft.trim() === ''}>Add model</Button>
              </div>
              <datalist id="model-suggestions">{choices.map((id) => <option key={id} value={id} />)}</datalist>
            </>
          )}
        </div>
      ) : <p class="hint">No restriction on {what}.</p>}
    </fieldset>
  );
}
