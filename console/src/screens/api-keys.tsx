// Management API keys (what this console signs in with): paged list, create (token shown once), delete.
import { useEffect, useState } from 'preact/hooks';
import { api, deletedText, deleteResource, pathOf, when, type ApiKey, type Schemas } from '../api.ts';
import { Button, ConfirmButton, ErrorNote, Field, LoadMore, SecretOnce, TableWrap, useAction, Loading } from '../ui.tsx';

type ApiKeyList = Schemas['AIGatewayAPIKeyList'];

export function ApiKeys({ currentKeyId, onSessionGone }: { currentKeyId: string; onSessionGone: () => void }) {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState<string | undefined>();
  const load = useAction();
  const create = useAction();
  const remove = useAction();
  const fetchPage = async (path: string, append: boolean) => {
    const page = await load.run('Loading API keys', () => api<ApiKeyList>('GET', path), '');
    if (!page) return;
    setKeys((old) => (append ? [...old, ...page.aiGatewayApiKeys] : page.aiGatewayApiKeys));
    setNext(page.nextPageUri);
  };
  useEffect(() => { void fetchPage('/api-keys?limit=20', false); }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = await create.run('Creating API key', () => api<ApiKey>('POST', '/api-keys', name ? { name } : {}), 'API key created.');
    if (k) { setName(''); setFresh(k.token); setKeys((old) => [k, ...old]); }
  };
  const del = async (k: ApiKey) => {
    const own = k.id === currentKeyId;
    const done = await remove.run(`Deleting API key ${k.name ?? k.id}`, () => deleteResource(`/api-keys/${k.id}`), own ? '' : deletedText('API key'));
    // Deleting the key this session signed in with ends the session (as the confirmation said).
    if (done && own) return onSessionGone();
    if (done) setKeys((old) => old.filter((o) => o.id !== k.id));
  };
  return (
    <section aria-labelledby="apikeys-title">
      <h2 id="apikeys-title">API keys</h2>
      <p class="hint">API keys call the control-plane API and sign in to this console.</p>
      <p class="hint">
        Coding agents can use an API key too: this API is an MCP server at <code class="mono">{location.origin}/mcp</code> (read models and
        usage, set up keys and virtual models). For Claude Code: <code class="mono">claude mcp add --transport http tollgate {location.origin}/mcp
        --header "Authorization: Bearer &lt;API key&gt;"</code>
      </p>
      {fresh ? <SecretOnce label="API key token" value={fresh} onDone={() => setFresh(undefined)} /> : (
        <form class="card row" onSubmit={(e) => void submit(e)} aria-label="Create an API key">
          <Field label="API key name"><input maxLength={255} value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
          <Button type="submit" kind="primary" busy={create.busy}>Create API key</Button>
          <ErrorNote error={create.error} />
        </form>
      )}
      <ErrorNote error={load.error ?? remove.error} />
      <Loading busy={load.busy} />
      <TableWrap label="API key list">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Last used</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-id={k.id}>
                <th scope="row">{k.name ?? <em>unnamed</em>}{k.id === currentKeyId ? <span class="badge">this session</span> : null}<div class="sub mono">{k.id}</div></th>
                <td data-label="Key" class="mono">{k.keyRedacted}</td>
                <td data-label="Last used">{when(k.lastUsed)}</td>
                <td data-label="Created">{when(k.createdAt)}</td>
                <td class="actions">
                  <ConfirmButton label="Delete" busy={remove.busy} onConfirm={() => void del(k)}
                    question={k.id === currentKeyId ? 'Delete the key this session uses? You will be signed out.' : `Delete ${k.name ?? k.id}? Scripts using it stop working.`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <LoadMore next={next} busy={load.busy} onLoad={() => next && void fetchPage(pathOf(next), true)} />
    </section>
  );
}
