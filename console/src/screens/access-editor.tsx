// One access dimension of a configuration (providers, models, MCP servers or MCP tools): an explicit choice between
// "allow all" and "allow only these", with a loud note that an empty allow list blocks everything.
import { useRef, useState } from 'preact/hooks';
import type { DimensionState } from '../config-model.ts';
import { Button, ErrorNote, Field, neighbour, useFocusAfterRender } from '../ui.tsx';

export type Dimension = 'providers' | 'models' | 'mcpServers' | 'mcpTools';

/** What an entry typed in is checked for before it is added: a blocking problem keeps it out, another is a warning. */
export type EntryCheck = (entry: string) => { text: string; blocking: boolean } | undefined;

/** How each dimension is picked and named: the known ones ticked (checks), or entries typed (text) with suggestions. */
const DIMENSIONS: Record<Dimension, { legend: string; plural: string; one: string; picker: 'checks' | 'text'; field?: string; hint?: string; add?: string; chip?: string }> = {
  providers: { legend: 'Providers', plural: 'providers', one: 'provider', picker: 'checks' },
  models: { legend: 'Models', plural: 'models', one: 'model', picker: 'text', field: 'Model to allow', hint: 'As sent by apps, e.g. openai/gpt-4o. Exact match; no wildcards.', add: 'Add model', chip: 'model' },
  mcpServers: { legend: 'MCP servers', plural: 'MCP servers', one: 'MCP server', picker: 'checks' },
  mcpTools: {
    legend: 'MCP tools', plural: 'MCP tools', one: 'MCP tool', picker: 'text', field: 'Tool pattern to allow',
    hint: '<label>/<tool>, e.g. docs/search; * matches any characters (docs/*, docs/get_*).', add: 'Add tool pattern', chip: 'tool pattern',
  },
};

interface Props {
  what: Dimension;
  value: DimensionState;
  onChange: (d: DimensionState) => void;
  /**
   * Known choices: checkboxes for providers and MCP servers, suggestions for models and MCP tools. Undefined while not
   * known (the list failed to load): an allowed entry is then not called unknown.
   */
  choices: string[] | undefined;
  /** Checks an entry typed in (MCP tools). */
  check?: EntryCheck;
  /** The API's refusal of this dimension (its `details.field` names it): shown at the entry field, which takes the focus. */
  error?: string | undefined;
  /** Said while "allow all" is chosen, instead of "No restriction on …". */
  allHint?: string;
}

export function AccessDimensionEditor({ what, value, onChange, choices: known, check, error, allHint }: Props) {
  const choices = known ?? [];
  const d = DIMENSIONS[what];
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<{ text: string; blocking: boolean } | undefined>();
  const name = `access-${what}`;
  const chipsRef = useRef<HTMLUListElement>(null);
  const draftRef = useRef<HTMLInputElement>(null);
  const focusLater = useFocusAfterRender();
  const toggle = (id: string, on: boolean) =>
    onChange({ ...value, allow: on ? [...value.allow, id] : value.allow.filter((x) => x !== id) });
  const add = () => {
    const id = draft.trim();
    const found = id ? check?.(id) : undefined;
    setProblem(found);
    // Kept in the field to be corrected; said at the field, which keeps the focus.
    if (found?.blocking) { focusLater(() => draftRef.current); return; }
    if (id && !value.allow.includes(id)) onChange({ ...value, allow: [...value.allow, id] });
    setDraft('');
    // With the field empty, the Add button is disabled, which would drop its focus: the field takes it for the next entry.
    focusLater(() => draftRef.current);
  };
  // The removed entry's button is gone: the focus goes to the next entry's (else the previous one's), else the field.
  const removeEntry = (i: number, id: string) => {
    toggle(id, false);
    focusLater(() => neighbour(chipsRef.current, i, 'button') ?? draftRef.current);
  };
  const extra = value.allow.filter((id) => !choices.includes(id));
  const fieldError = error ?? (problem?.blocking ? problem.text : undefined);
  return (
    <fieldset class="dimension" data-testid={name}>
      <legend>{d.legend}</legend>
      <label class="choice">
        <input type="radio" name={name} checked={value.mode === 'all'} onChange={() => onChange({ mode: 'all', allow: [] })} />
        Allow all {d.plural}
      </label>
      <label class="choice">
        <input type="radio" name={name} checked={value.mode === 'only'} onChange={() => onChange({ mode: 'only', allow: value.allow })} />
        Allow only these {d.plural}
      </label>
      {value.mode === 'only' ? (
        <div class="allow-list">
          {value.allow.length === 0
            ? <p class="warning" role="note">Nothing is allowed yet: an empty list blocks every {d.one}.</p>
            : null}
          {d.picker === 'checks' ? (
            <div class="checks">
              {choices.length === 0 && extra.length === 0 ? <p class="muted">None to choose from yet.</p> : null}
              {[...choices, ...extra].map((id) => (
                <label class="choice" key={id}>
                  <input type="checkbox" checked={value.allow.includes(id)} onChange={(e) => toggle(id, e.currentTarget.checked)} /> {id}
                  {what === 'mcpServers' && known && !known.includes(id) ? <span class="muted"> (no such server: allows nothing)</span> : null}
                </label>
              ))}
              <ErrorNote error={error} />
            </div>
          ) : (
            <>
              <ul ref={chipsRef} class="chips" aria-label={`Allowed ${d.plural}`}>
                {value.allow.map((id, i) => (
                  <li key={id}><span class="mono">{id}</span> <Button aria-label={`Remove ${d.chip} ${id}`} onClick={() => removeEntry(i, id)}>×</Button></li>
                ))}
              </ul>
              <div class="row">
                <Field label={d.field!} hint={d.hint} error={fieldError}>
                  <input ref={draftRef} list={`${name}-suggestions`} value={draft} onInput={(e) => { setDraft(e.currentTarget.value); setProblem(undefined); }}
                    onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} />
                </Field>
                <Button onClick={add} disabled={draft.trim() === ''}>{d.add}</Button>
              </div>
              {problem && !problem.blocking ? <p class="warning" role="note">{problem.text}</p> : null}
              <datalist id={`${name}-suggestions`}>{choices.map((id) => <option key={id} value={id} />)}</datalist>
            </>
          )}
        </div>
      ) : <p class="hint">{allHint ?? `No restriction on ${d.plural}.`}</p>}
    </fieldset>
  );
}
