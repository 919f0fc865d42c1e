// User-defined providers: an OpenAI- or Anthropic-compatible upstream with its base URL, API surfaces
// and model list. Create, edit (providerId is fixed once created) and delete.
import { useState } from 'preact/hooks';
import { api, deletedText, deleteResource, type Provider, type Schemas } from '../api.ts';
import { Button, ConfirmButton, Empty, ErrorNote, Field, fieldError, formError, useAction, useInlineForm } from '../ui.tsx';

type Surface = Schemas['SupportedAPISurface'];
const SURFACES: { format: string; surface: string; label: string }[] = [
  { format: 'openai', surface: 'chat-completions', label: 'OpenAI chat completions' },
  { format: 'openai', surface: 'responses', label: 'OpenAI responses' },
  { format: 'openai', surface: 'completions', label: 'OpenAI completions' },
  { format: 'openai', surface: 'embeddings', label: 'OpenAI embeddings' },
  { format: 'anthropic', surface: 'messages', label: 'Anthropic messages' },
];
// A surface declared by its format alone is that format's default one (src/domain/resolve.ts), and is shown as such.
const keyOf = (s: Surface) => `${s.format}/${s.surface ?? (s.format === 'anthropic' ? 'messages' : 'chat-completions')}`;
const DEFAULT_SURFACES = ['openai/chat-completions'];
/** The request fields the form has a control for: an API error about one of them is shown at that control. */
const FIELDS = ['providerId', 'name', 'baseUrl', 'metadata'] as const;

function ProviderForm({ existing, onSaved, onCancel }: { existing?: Provider; onSaved: (p: Provider) => void; onCancel?: () => void }) {
  const [providerId, setProviderId] = useState(existing?.providerId ?? '');
  const [name, setName] = useState(existing?.name ?? '');
  const [baseUrl, setBaseUrl] = useState(existing?.baseUrl ?? '');
  const [metadata, setMetadata] = useState(existing?.metadata ?? '');
  const [surfaces, setSurfaces] = useState<string[]>(existing?.supportedApiSurfaces?.map(keyOf) ?? DEFAULT_SURFACES);
  const [models, setModels] = useState((existing?.models ?? []).map((m) => m.modelId).join('\n'));
  const action = useAction();
  const inline = useInlineForm(onCancel ?? (() => undefined));
  const keptSurfaces = new Map((existing?.supportedApiSurfaces ?? []).map((s) => [keyOf(s), s] as const));
  // Model ids are matched as the API matches them (case-insensitively).
  const keptModels = new Map((existing?.models ?? []).map((m) => [m.modelId.toLowerCase(), m] as const));
  const keptModel = (modelId: string) => {
    const m = keptModels.get(modelId.toLowerCase());
    return m ? { modelId, ...(m.providerModelId !== undefined ? { providerModelId: m.providerModelId } : {}), unsupportedParams: m.unsupportedParams } : { modelId };
  };
  // Emptied in place after a create (not remounted), so the focus stays on its button.
  const clear = () => { setProviderId(''); setName(''); setBaseUrl(''); setMetadata(''); setSurfaces(DEFAULT_SURFACES); setModels(''); };
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      ...(existing ? {} : { providerId: providerId.trim() }),
      name: name.trim(),
      baseUrl: baseUrl.trim(),
      ...(metadata ? { metadata } : existing ? { metadata: null } : {}),
      // A kept surface or model is sent as the API has it: what the form does not show (a surface's own baseUrl and
      // params, a model's upstream id and unsupported params) must not be wiped by an edit of its name.
      supportedApiSurfaces: surfaces.map((k) => keptSurfaces.get(k) ?? (() => { const [format, surface] = k.split('/'); return { format: format!, surface: surface! }; })()),
      models: models.split('\n').map((m) => m.trim()).filter(Boolean).map((modelId) => keptModel(modelId)),
    };
    const p = await action.run(existing ? 'Saving provider' : 'Creating provider',
      () => (existing ? api<Provider>('PATCH', `/providers/${existing.id}`, body) : api<Provider>('POST', '/providers', body)),
      (r) => `Provider ${r.providerId} saved.`);
    if (p && !existing) clear();
    if (p) onSaved(p);
  };
  return (
    <form {...(existing ? inline : {})} class="card" onSubmit={(e) => void submit(e)} aria-label={existing ? `Edit provider ${existing.providerId}` : 'Create a custom provider'}>
      {existing ? null : <h3>Create a custom provider</h3>}
      <div class="grid">
        {existing ? null : (
          <Field label="Provider id" hint="Slug used in model strings, e.g. my-ollama in my-ollama:llama3.2." error={fieldError(action, 'providerId')}>
            <input required maxLength={255} value={providerId} onInput={(e) => setProviderId(e.currentTarget.value)} />
          </Field>
        )}
        <Field label="Display name" error={fieldError(action, 'name')}><input required maxLength={255} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <Field label="Base URL" hint="Root URL of the upstream API (HTTPS unless the operator allows private upstreams)." error={fieldError(action, 'baseUrl')}>
          <input required type="url" maxLength={2048} value={baseUrl} onInput={(e) => setBaseUrl(e.currentTarget.value)} />
        </Field>
        <Field label="Models" hint="One model id per line.">
          <textarea rows={3} value={models} onInput={(e) => setModels(e.currentTarget.value)} />
        </Field>
        <Field label="Provider metadata" error={fieldError(action, 'metadata')}><input maxLength={4096} value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} /></Field>
      </div>
      <fieldset>
        <legend>API surfaces</legend>
        <div class="checks">
          {SURFACES.map((s) => {
            const k = `${s.format}/${s.surface}`;
            return (
              <label class="choice" key={k}>
                <input type="checkbox" checked={surfaces.includes(k)} onChange={(e) => setSurfaces(e.currentTarget.checked ? [...surfaces, k] : surfaces.filter((x) => x !== k))} /> {s.label}
              </label>
            );
          })}
        </div>
      </fieldset>
      <ErrorNote error={formError(action, FIELDS)} />
      <div class="row">
        <Button type="submit" kind="primary" busy={action.busy}>{existing ? 'Save provider' : 'Create provider'}</Button>
        {onCancel ? <Button onClick={onCancel}>Cancel</Button> : null}
      </div>
    </form>
  );
}

export function CustomProviders({ providers, onChange }: { providers: Provider[]; onChange: (p: Provider[]) => void }) {
  const [editing, setEditing] = useState<string | undefined>();
  const remove = useAction();
  const del = async (p: Provider) => {
    const done = await remove.run(`Deleting provider ${p.providerId}`, () => deleteResource(`/providers/${p.id}`), deletedText('Provider'));
    if (done) onChange(providers.filter((o) => o.id !== p.id));
  };
  return (
    <>
      <ProviderForm onSaved={(p) => onChange([p, ...providers])} />
      <ErrorNote error={remove.error} />
      {providers.length === 0 ? <Empty>No custom providers.</Empty> : null}
      {providers.map((p) => (
        <article class="card" key={p.id} data-id={p.id} aria-label={p.providerId}>
          <div class="row spread">
            <h3>{p.name} <span class="mono muted">{p.providerId}</span></h3>
            <span class="actions">
              <Button aria-expanded={editing === p.id} onClick={() => setEditing(editing === p.id ? undefined : p.id)}>Edit</Button>
              <ConfirmButton label="Delete" question={`Delete ${p.providerId}?`} busy={remove.busy} onConfirm={() => void del(p)} />
            </span>
          </div>
          <p class="mono">{p.baseUrl}</p>
          <p>Surfaces: {(p.supportedApiSurfaces ?? []).map(keyOf).join(', ') || 'none'}</p>
          <p>Models: {(p.models ?? []).map((m) => m.modelId).join(', ') || 'none'}</p>
          {editing === p.id ? <ProviderForm existing={p} onCancel={() => setEditing(undefined)} onSaved={(s) => { setEditing(undefined); onChange(providers.map((o) => (o.id === s.id ? s : o))); }} /> : null}
        </article>
      ))}
    </>
  );
}
