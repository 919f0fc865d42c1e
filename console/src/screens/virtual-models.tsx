// Virtual models (ngrok's Virtual Models): a name clients send as `model` for an ordered list of models, tried in
// order until one answers. The list, and an editor: name and description → models (add, reorder, remove) → save.
// The API's refusals are placed by their code and target: virtual-model-model.ts says where each is shown.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, when, type VirtualModel } from '../api.ts';
import { loadCatalog } from '../catalog.ts';
import { move } from '../config-model.ts';
import { blameOf, describeTarget, emptyVirtualModel, firstChoice, fromVirtualModel, targetChoices, targetOf, toWrite, type Blame, type TargetChoice, type VirtualModelState } from '../virtual-model-model.ts';
import { navigate } from '../nav.ts';
import { Button, ConfirmButton, Empty, ErrorNote, Field, PageHeading, TableWrap, enabledButton, neighbour, useAction, useFocusAfterRender, useResourceList, Loading, FormActions, ListOrEditor } from '../ui.tsx';

function VirtualModelList() {
  const { items, load, remove, del } = useResourceList<VirtualModel>('/virtual-models', 'aiGatewayVirtualModels', 'virtual model', 'virtual models');
  return (
    <section aria-labelledby="virtual-models-title">
      <PageHeading id="virtual-models-title">Virtual models</PageHeading>
      <p class="lead">A virtual model is a name your apps send as the model. Each request tries its models in order and fails over to the next one.</p>
      <p><a class="btn btn-primary" href="#/virtual-models/new">Create virtual model</a></p>
      <ErrorNote error={load.error ?? remove.error} />
      <Loading busy={load.busy} />
      {items && items.length === 0 ? <Empty>No virtual models yet.</Empty> : null}
      {items && items.length > 0 ? (
        <TableWrap label="Virtual model list">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Models, in order</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.id} data-id={v.id}>
                  <th scope="row"><a class="mono" href={`#/virtual-models/${v.id}`}>{v.name}</a>{v.description ? <div class="sub">{v.description}</div> : null}</th>
                  <td data-label="Models">
                    <ol class="target-summary">{v.targets.map((t, i) => <li key={i}><span class="mono">{t}</span> <span class="muted">({describeTarget(t)})</span></li>)}</ol>
                  </td>
                  <td data-label="Updated">{when(v.updatedAt)}</td>
                  <td class="actions">
                    <ConfirmButton label="Delete" question={`Delete ${v.name}? Requests naming it stop working at once.`} busy={remove.busy} onConfirm={() => void del(v)} />
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

/** The catalog's and the custom providers' models, each with "any provider" or a provider to pin; else free text. */
function TargetPicker({ choices, onAdd }: { choices: TargetChoice[]; onAdd: (target: string) => void }) {
  const [modelId, setModelId] = useState('');
  const [provider, setProvider] = useState('');
  const [typed, setTyped] = useState('');
  const choice = choices.find((c) => c.id === modelId) ?? firstChoice(choices);
  // A custom model has no "any provider" address: its own provider is the only choice.
  const shownProvider = choice && targetOf(choice, provider) !== undefined ? provider : choice?.pinned[0]?.provider ?? '';
  const target = choice ? targetOf(choice, shownProvider) : undefined;
  return (
    <fieldset class="card" aria-label="Add a model">
      <legend>Add a model</legend>
      {choice ? (
        <div class="row">
          <Field label="Model">
            <select value={choice.id} onChange={(e) => { setModelId(e.currentTarget.value); setProvider(''); }}>
              {choices.map((c) => <option key={c.id} value={c.id}>{c.label}</option>)}
            </select>
          </Field>
          {choice.automatic ? null : (
            <Field label="Provider" hint="Any provider lets the gateway choose one serving the model; a provider pins it.">
              <select value={shownProvider} onChange={(e) => setProvider(e.currentTarget.value)}>
                {choice.anyProvider !== undefined ? <option value="">Any provider ({choice.anyProvider})</option> : null}
                {choice.pinned.map((p) => <option key={p.provider} value={p.provider}>{p.provider} ({p.address})</option>)}
              </select>
            </Field>
          )}
          <Button onClick={() => { if (target) onAdd(target); }}>Add model</Button>
        </div>
      ) : null}
      <div class="row">
        <Field label="Other model" hint="Any model a request could name, e.g. openai:gpt-5-preview, or ngrok/auto on its own.">
          <input class="mono" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        </Field>
        <Button onClick={() => { if (typed.trim()) { onAdd(typed.trim()); setTyped(''); } }}>Add this model</Button>
      </div>
    </fieldset>
  );
}

function TargetList({ targets, onChange, errors }: { targets: string[]; onChange: (t: string[]) => void; errors: ReadonlyMap<number, string> }) {
  const listRef = useRef<HTMLOListElement>(null);
  const focusLater = useFocusAfterRender();
  // Items are keyed by position (a target may be there twice until the API refuses it): the focus follows the moved
  // one to its new place; at the end of the list (its button now disabled) the opposite button takes it.
  const moveTarget = (i: number, dir: 'up' | 'down') => {
    onChange(move(targets, i, dir === 'up' ? -1 : 1));
    const other = dir === 'up' ? 'down' : 'up';
    focusLater(() => enabledButton(listRef.current?.children[dir === 'up' ? i - 1 : i + 1], `[data-move="${dir}"]`, `[data-move="${other}"]`));
  };
  const removeTarget = (i: number) => {
    onChange(targets.filter((_, j) => j !== i));
    focusLater(() => neighbour(listRef.current, i, '[data-remove="target"]') ?? listRef.current?.closest('section')?.querySelector<HTMLElement>('fieldset select, fieldset input'));
  };
  if (targets.length === 0) return <p class="warning" role="note">Add at least one model: the first one is tried first.</p>;
  return (
    <ol ref={listRef} class="targets" aria-label="Models, in the order they are tried">
      {targets.map((t, i) => {
        const error = errors.get(i);
        const errorId = `target-${i}-error`;
        return (
          <li key={i} data-target={t}>
            <span class="target"><span class="pos">{i + 1}.</span> <span class="mono">{t}</span> <span class="muted">({describeTarget(t)})</span></span>
            <Button data-move="up" aria-label={`Move ${t} up`} disabled={i === 0} onClick={() => moveTarget(i, 'up')}>↑</Button>
            <Button data-move="down" aria-label={`Move ${t} down`} disabled={i === targets.length - 1} onClick={() => moveTarget(i, 'down')}>↓</Button>
            <Button data-remove="target" aria-label={`Remove ${t}`} aria-describedby={error ? errorId : undefined} onClick={() => removeTarget(i)}>Remove</Button>
            {error ? <ErrorNote id={errorId} error={error} /> : null}
          </li>
        );
      })}
    </ol>
  );
}

function VirtualModelEditor({ id }: { id: string | undefined }) {
  const [state, setState] = useState<VirtualModelState | undefined>(id ? undefined : emptyVirtualModel());
  const [choices, setChoices] = useState<TargetChoice[]>([]);
  const [blame, setBlame] = useState<Blame | undefined>();
  const load = useAction();
  const save = useAction();
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    void load.run('Loading models', loadCatalog, '').then((c) => c && setChoices(targetChoices(c.models)));
    if (id) void load.run('Loading virtual model', () => api<VirtualModel>('GET', `/virtual-models/${encodeURIComponent(id)}`), '').then((v) => v && setState(fromVirtualModel(v)));
  }, [id]);
  if (!state) return <section><PageHeading>Virtual model</PageHeading><ErrorNote error={load.error} />{load.busy ? <p>Loading…</p> : null}</section>;

  const set = (patch: Partial<VirtualModelState>) => setState({ ...state, ...patch });
  // A refusal of the list or of one target is stale once the list changes: it would sit beside another target.
  const setTargets = (targets: string[]) => {
    set({ targets });
    if (typeof blame === 'number' || blame === 'targets') { save.clear(); setBlame(undefined); }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const from = document.activeElement;
    const body = toWrite(state, id !== undefined);
    const send = async () => {
      try {
        return await (id ? api<VirtualModel>('PATCH', `/virtual-models/${encodeURIComponent(id)}`, body) : api<VirtualModel>('POST', '/virtual-models', body));
      } catch (err) {
        setBlame(err instanceof ApiError ? blameOf(err.code, err.details, state.targets) : undefined);
        throw err;
      }
    };
    setBlame(undefined);
    const saved = await save.run('Saving virtual model', send, (v) => `Virtual model ${v.name} saved.`);
    if (saved) {
      setState(fromVirtualModel(saved));
      if (!id) navigate('virtual-models', saved.id);
      return;
    }
    // As for a field the browser refuses: the focus leaves Save for what to fix (a refused target: its Remove button).
    setTimeout(() => {
      if (document.activeElement !== from) return;
      formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"], .targets [aria-describedby$="-error"]')?.focus();
    });
  };
  const errorAt = (place: Blame) => (save.error && blame === place ? save.error : undefined);
  const targetErrors = new Map<number, string>(typeof blame === 'number' && save.error ? [[blame, save.error]] : []);
  return (
    <form ref={formRef} class="editor" onSubmit={(e) => void submit(e)} aria-labelledby="vm-editor-title">
      <p><a href="#/virtual-models">← All virtual models</a></p>
      <PageHeading id="vm-editor-title">{id ? `Edit ${state.name || 'virtual model'}` : 'Create virtual model'}</PageHeading>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <section class="card" aria-labelledby="vm-details-title">
        <h2 id="vm-details-title">Details</h2>
        <div class="grid">
          <Field label="Name" hint="What apps send as the model. Letters, digits, '.', '_' and '-', at most 64 characters." error={errorAt('name')}>
            <input required class="mono" value={state.name} onInput={(e) => set({ name: e.currentTarget.value })} />
          </Field>
          <Field label="Description" error={errorAt('description')}><input value={state.description} onInput={(e) => set({ description: e.currentTarget.value })} /></Field>
        </div>
      </section>
      <section class="card" aria-labelledby="vm-models-title">
        <h2 id="vm-models-title">Models</h2>
        <p class="hint">Tried in order: the first one first, then each fallback in turn, up to 10 models.</p>
        <TargetList targets={state.targets} onChange={setTargets} errors={targetErrors} />
        {errorAt('targets') ? <ErrorNote error={errorAt('targets')} /> : null}
        <TargetPicker choices={choices} onAdd={(t) => setTargets([...state.targets, t])} />
      </section>
      {save.error && blame === undefined ? <ErrorNote error={save.error} /> : null}
      <FormActions busy={save.busy} save="Save virtual model" route="virtual-models" />
    </form>
  );
}

export function VirtualModelsScreen({ id }: { id: string | undefined }) {
  return <ListOrEditor id={id} list={VirtualModelList} editor={VirtualModelEditor} />;
}
