// Provider keys (BYOK): stored upstream secrets, grouped per provider. Add, rotate (same id, new secret,
// so routing rules keep working) and delete. Secrets are write-only: the API returns only a masked form. A Bedrock
// key also names its AWS region, and holds either a Bedrock API key or an IAM role the gateway assumes.
import { useState } from 'preact/hooks';
import { api, deletedText, deleteResource, when, type ProviderKey } from '../api.ts';
import { Button, ConfirmButton, Empty, ErrorNote, Field, fieldError, formError, useAction, useInlineForm } from '../ui.tsx';

/** Request fields an API error may name (details.field): such an error is shown at its field. */
const FIELDS = ['providerId', 'name', 'value', 'description', 'aws.region', 'aws.roleArn'] as const;

/** A role key holds no secret: its trust policy names the external ID shown here. */
const isRoleKey = (k: ProviderKey): boolean => k.providerId === 'bedrock' && !!k.aws?.externalId;

function AddKey({ providerIds, onAdded }: { providerIds: string[]; onAdded: (k: ProviderKey) => void }) {
  const [providerId, setProviderId] = useState('');
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [description, setDescription] = useState('');
  const [region, setRegion] = useState('');
  const [byRole, setByRole] = useState(false);
  const [roleArn, setRoleArn] = useState('');
  const action = useAction();
  const bedrock = providerId === 'bedrock';
  const role = bedrock && byRole;
  const submit = async (e: Event) => {
    e.preventDefault();
    const aws = bedrock ? { aws: { region: region.trim(), ...(role && roleArn.trim() ? { roleArn: roleArn.trim() } : {}) } } : {};
    const body = { providerId, name, ...(role ? {} : { value }), ...(description ? { description } : {}), ...aws };
    const k = await action.run('Storing provider key', () => api<ProviderKey>('POST', '/provider-keys', body),
      (r) => (isRoleKey(r) ? `Provider key ${r.name} created: its role must require the external ID ${r.aws!.externalId}.` : `Provider key ${r.name} stored as ${r.keyRedacted}.`));
    if (k) { setName(''); setValue(''); setDescription(''); setRoleArn(''); onAdded(k); }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="add-pk-title">
      <h3 id="add-pk-title">Add a provider key</h3>
      <div class="grid">
        <Field label="Provider for the key" error={fieldError(action, 'providerId')}>
          <select required value={providerId} onChange={(e) => setProviderId(e.currentTarget.value)}>
            <option value="">Choose…</option>
            {providerIds.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </Field>
        <Field label="Key name" error={fieldError(action, 'name')}><input required maxLength={255} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        {bedrock ? (
          <Field label="AWS region" hint="The region whose Bedrock endpoint the key calls, e.g. us-east-1." error={fieldError(action, 'aws.region')}>
            <input required value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
          </Field>
        ) : null}
        {bedrock ? (
          <label class="choice">
            <input type="checkbox" checked={byRole} onChange={(e) => setByRole(e.currentTarget.checked)} /> Use an IAM role instead of a Bedrock API key
          </label>
        ) : null}
        {role ? (
          <Field label="IAM role ARN" hint="Can be set after the key is made: its external ID, shown then, goes in the role's trust policy." error={fieldError(action, 'aws.roleArn')}>
            <input value={roleArn} placeholder="arn:aws:iam::123456789012:role/ngrok-ai-gateway-bedrock" onInput={(e) => setRoleArn(e.currentTarget.value)} />
          </Field>
        ) : (
          <Field label="Secret value" hint="Encrypted at rest and never shown again." error={fieldError(action, 'value')}>
            <input type="password" autoComplete="off" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </Field>
        )}
        <Field label="Key description" error={fieldError(action, 'description')}><input maxLength={255} value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></Field>
      </div>
      <ErrorNote error={formError(action, FIELDS)} />
      <Button type="submit" kind="primary" busy={action.busy}>Add provider key</Button>
    </form>
  );
}

function RotateKey({ k, onDone, onCancel }: { k: ProviderKey; onDone: (k: ProviderKey) => void; onCancel: () => void }) {
  const [name, setName] = useState(k.name);
  const [value, setValue] = useState('');
  const action = useAction();
  const inline = useInlineForm(onCancel);
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await action.run(`Rotating ${k.name}`, () => api<ProviderKey>('POST', `/provider-keys/${k.id}/rotate`, { name, value }), (x) => `Provider key rotated; now ${x.keyRedacted}.`);
    if (r) onDone(r);
  };
  return (
    <form {...inline} class="inline-form" onSubmit={(e) => void submit(e)} aria-label={`Rotate ${k.name}`}>
      <Field label="Name after rotation" error={fieldError(action, 'name')}><input required maxLength={255} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
      <Field label="New secret value" error={fieldError(action, 'value')}><input type="password" autoComplete="off" required value={value} onInput={(e) => setValue(e.currentTarget.value)} /></Field>
      <ErrorNote error={formError(action, FIELDS)} />
      <div class="row">
        <Button type="submit" kind="primary" busy={action.busy}>Rotate</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

/** A role key's IAM role: set once the role exists (its trust policy requiring the key's external ID), or changed. */
function SetRole({ k, onDone, onCancel }: { k: ProviderKey; onDone: (k: ProviderKey) => void; onCancel: () => void }) {
  const [roleArn, setRoleArn] = useState(k.aws?.roleArn ?? '');
  const action = useAction();
  const inline = useInlineForm(onCancel);
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await action.run(`Setting the role of ${k.name}`, () => api<ProviderKey>('PATCH', `/provider-keys/${k.id}`, { aws: { roleArn: roleArn.trim() } }), 'IAM role set.');
    if (r) onDone(r);
  };
  return (
    <form {...inline} class="inline-form" onSubmit={(e) => void submit(e)} aria-label={`Set the IAM role of ${k.name}`}>
      <Field label="IAM role ARN" error={fieldError(action, 'aws.roleArn')}><input required value={roleArn} onInput={(e) => setRoleArn(e.currentTarget.value)} /></Field>
      <ErrorNote error={formError(action, FIELDS)} />
      <div class="row">
        <Button type="submit" kind="primary" busy={action.busy}>Set role</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

export function ProviderKeys({ keys, providerIds, onChange }: { keys: ProviderKey[]; providerIds: string[]; onChange: (keys: ProviderKey[]) => void }) {
  const [rotating, setRotating] = useState<string | undefined>();
  const remove = useAction();
  const groups = new Map<string, ProviderKey[]>();
  for (const k of keys) groups.set(k.providerId, [...(groups.get(k.providerId) ?? []), k]);
  const del = async (k: ProviderKey) => {
    const done = await remove.run(`Deleting provider key ${k.name}`, () => deleteResource(`/provider-keys/${k.id}`), deletedText('Provider key'));
    if (done) onChange(keys.filter((o) => o.id !== k.id));
  };
  return (
    <section aria-labelledby="pk-title">
      <h2 id="pk-title">Provider keys</h2>
      <AddKey providerIds={providerIds} onAdded={(k) => onChange([k, ...keys])} />
      <ErrorNote error={remove.error} />
      {keys.length === 0 ? <Empty>No provider keys stored. Without one, built-in providers use managed credentials.</Empty> : null}
      {[...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([provider, list]) => (
        <div class="card" key={provider}>
          <h3>{provider} <span class="muted">({list.length})</span></h3>
          <ul class="plain-list" aria-label={`Keys for ${provider}`}>
            {list.map((k) => (
              <li key={k.id} data-id={k.id}>
                <div class="row spread">
                  <span>
                    <strong>{k.name}</strong> {isRoleKey(k) ? <span class="badge">IAM role</span> : <span class="mono">{k.keyRedacted}</span>}
                    {k.aws?.region ? <span class="sub"> {k.aws.region}</span> : null} <span class="sub">last used {when(k.lastUsed)}</span>
                    {isRoleKey(k) ? (
                      <div class="sub" data-testid="role-key">
                        {k.aws!.roleArn ? <>Role <span class="mono">{k.aws!.roleArn}</span> · </> : <>No role yet · </>}external ID <span class="mono">{k.aws!.externalId}</span>
                      </div>
                    ) : null}
                  </span>
                  <span class="actions">
                    {isRoleKey(k)
                      ? <Button aria-expanded={rotating === k.id} aria-label={`Set the IAM role of ${k.name}`} onClick={() => setRotating(rotating === k.id ? undefined : k.id)}>Set role</Button>
                      : <Button aria-expanded={rotating === k.id} aria-label={`Rotate ${k.name}`} onClick={() => setRotating(rotating === k.id ? undefined : k.id)}>Rotate</Button>}
                    <ConfirmButton label="Delete" question={`Delete ${k.name}? Rules that use it must be changed first.`} busy={remove.busy} onConfirm={() => void del(k)} />
                  </span>
                </div>
                {rotating === k.id ? (isRoleKey(k)
                  ? <SetRole k={k} onCancel={() => setRotating(undefined)} onDone={(r) => { setRotating(undefined); onChange(keys.map((o) => (o.id === r.id ? r : o))); }} />
                  : <RotateKey k={k} onCancel={() => setRotating(undefined)} onDone={(r) => { setRotating(undefined); onChange(keys.map((o) => (o.id === r.id ? r : o))); }} />
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}
