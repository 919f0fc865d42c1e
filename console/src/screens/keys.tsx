// Access keys: the credentials apps send to the gateway. Paged list, create (token shown once), edit
// name/description/metadata, link or unlink a configuration, delete with confirmation.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, deletedText, deleteResource, listAll, pathOf, when, type AccessKey, type Configuration, type Schemas } from '../api.ts';
import { Button, ConfirmButton, Empty, ErrorNote, Field, LoadMore, PageHeading, SecretOnce, TableWrap, useAction, useInlineForm, Loading } from '../ui.tsx';

type KeyList = Schemas['AIGatewayAccessKeyList'];

// What the gateway does without a configuration (src/domain/routing.ts, planAttempts with no rule): a user can
// be billed on their own provider key without choosing a configuration, so the picker says so.
const DEFAULT_ROUTING_HINT = 'Without a configuration the key may call every provider and model, and each request uses your stored provider keys for that provider first (oldest first), then the operator\'s managed credentials if the operator set them up.';
const PAGE = 20;

function ConfigurationSelect({ value, onChange, configurations }: { value: string; onChange: (v: string) => void; configurations: Configuration[] }) {
  return (
    <Field label="Configuration" hint={DEFAULT_ROUTING_HINT}>
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">None (allow all, your stored keys first)</option>
        {configurations.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
      </select>
    </Field>
  );
}

function CreateKey({ configurations, onCreated }: { configurations: Configuration[]; onCreated: (k: AccessKey) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [configurationId, setConfigurationId] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { name, ...(description ? { description } : {}), ...(configurationId ? { accessKeyConfigurationId: configurationId } : {}) };
    const created = await action.run('Creating access key', () => api<AccessKey>('POST', '/access-keys', body), (k) => `Access key ${k.name ?? k.id} created.`);
    if (created) { setName(''); setDescription(''); setConfigurationId(''); onCreated(created); }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create an access key</h2>
      <div class="grid">
        <Field label="Name"><input value={name} required maxLength={255} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <Field label="Description"><input value={description} maxLength={255} onInput={(e) => setDescription(e.currentTarget.value)} /></Field>
        <ConfigurationSelect value={configurationId} onChange={setConfigurationId} configurations={configurations} />
      </div>
      <ErrorNote error={action.error} />
      <Button type="submit" kind="primary" busy={action.busy}>Create access key</Button>
    </form>
  );
}

function EditKey({ accessKey, configurations, onSaved, onCancel }: { accessKey: AccessKey; configurations: Configuration[]; onSaved: (k: AccessKey) => void; onCancel: () => void }) {
  const [name, setName] = useState(accessKey.name ?? '');
  const [description, setDescription] = useState(accessKey.description ?? '');
  const [metadata, setMetadata] = useState(accessKey.metadata ?? '');
  const [configurationId, setConfigurationId] = useState(accessKey.accessKeyConfiguration?.id ?? '');
  const action = useAction();
  const inline = useInlineForm(onCancel);
  const submit = async (e: Event) => {
    e.preventDefault();
    // Empty text clears the field (null) rather than storing "": the contract's tri-state PATCH.
    const body = { name: name || null, description: description || null, metadata: metadata || null, accessKeyConfigurationId: configurationId || null };
    const saved = await action.run('Saving access key', () => api<AccessKey>('PATCH', `/access-keys/${accessKey.id}`, body), 'Access key saved.');
    if (saved) onSaved(saved);
  };
  return (
    <form {...inline} class="card edit" onSubmit={(e) => void submit(e)} aria-label={`Edit access key ${accessKey.name ?? accessKey.id}`}>
      <div class="grid">
        <Field label="Name"><input value={name} maxLength={255} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <Field label="Description"><input value={description} maxLength={255} onInput={(e) => setDescription(e.currentTarget.value)} /></Field>
        <Field label="Metadata" hint="Free text or JSON, up to 4096 bytes."><textarea rows={2} value={metadata} maxLength={4096} onInput={(e) => setMetadata(e.currentTarget.value)} /></Field>
        <ConfigurationSelect value={configurationId} onChange={setConfigurationId} configurations={configurations} />
      </div>
      <ErrorNote error={action.error} />
      <div class="row">
        <Button type="submit" kind="primary" busy={action.busy}>Save</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

export function KeysScreen() {
  const [keys, setKeys] = useState<AccessKey[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const [configurations, setConfigurations] = useState<Configuration[]>([]);
  const [fresh, setFresh] = useState<AccessKey | undefined>();
  const [editing, setEditing] = useState<string | undefined>();
  const load = useAction();
  const remove = useAction();

  const loadPage = async (path: string, append: boolean) => {
    const page = await load.run('Loading access keys', () => api<KeyList>('GET', path), '');
    if (!page) return;
    setKeys((old) => (append ? [...old, ...page.aiGatewayAccessKeys] : page.aiGatewayAccessKeys));
    setNext(page.nextPageUri);
  };
  useEffect(() => {
    void loadPage(`/access-keys?limit=${PAGE}`, false);
    void listAll<Configuration>('/access-key-configurations', 'aiGatewayAccessKeyConfigurations').then(setConfigurations, () => undefined);
  }, []);

  const replace = (k: AccessKey) => setKeys((old) => old.map((o) => (o.id === k.id ? k : o)));
  const del = async (k: AccessKey) => {
    const done = await remove.run(`Deleting access key ${k.name ?? k.id}`, () => deleteResource(`/access-keys/${k.id}`), deletedText('Access key'));
    if (done) setKeys((old) => old.filter((o) => o.id !== k.id));
  };

  return (
    <section aria-labelledby="keys-title">
      <PageHeading id="keys-title">Access keys</PageHeading>
      <p class="lead">Apps send an access key to the gateway. A key's configuration decides which providers and models it may call and which credentials are used.</p>
      {fresh?.token
        ? <SecretOnce label="Access key token" value={fresh.token} onDone={() => setFresh(undefined)} />
        : <CreateKey configurations={configurations} onCreated={(k) => { setFresh(k); setKeys((old) => [k, ...old]); }} />}
      <section aria-labelledby="key-list-title">
        <h2 id="key-list-title">Your access keys</h2>
        <ErrorNote error={load.error ?? remove.error} />
        <Loading busy={load.busy} />
        {keys.length === 0 && !load.busy ? <Empty>No access keys yet.</Empty> : (
          <TableWrap label="Access key list">
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Configuration</th><th scope="col">Last used</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
              <tbody>
                {keys.map((k) => (
                  <Fragment key={k.id}>
                    <tr data-id={k.id}>
                      <th scope="row">{k.name ?? <em>unnamed</em>}<div class="sub mono">{k.id}</div>{k.description ? <div class="sub">{k.description}</div> : null}</th>
                      <td data-label="Key" class="mono">{k.keyRedacted}</td>
                      <td data-label="Configuration">{k.accessKeyConfiguration ? <a href={`#/configurations/${k.accessKeyConfiguration.id}`}>{k.accessKeyConfiguration.name}</a> : <span class="muted">None (allow all)</span>}</td>
                      <td data-label="Last used">{when(k.lastUsed)}</td>
                      <td data-label="Created">{when(k.createdAt)}</td>
                      <td class="actions">
                        <Button onClick={() => setEditing(editing === k.id ? undefined : k.id)} aria-expanded={editing === k.id} aria-label={`Edit ${k.name ?? k.id}`}>Edit</Button>
                        <ConfirmButton label="Delete" question={`Delete ${k.name ?? k.id}? Apps using it stop working at once.`} busy={remove.busy} onConfirm={() => void del(k)} />
                      </td>
                    </tr>
                    {editing === k.id ? (
                      <tr><td colSpan={6}>
                        <EditKey accessKey={k} configurations={configurations} onCancel={() => setEditing(undefined)} onSaved={(s) => { replace(s); setEditing(undefined); }} />
                      </td></tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <LoadMore next={next} busy={load.busy} onLoad={() => next && void loadPage(pathOf(next), true)} />
      </section>
    </section>
  );
}
