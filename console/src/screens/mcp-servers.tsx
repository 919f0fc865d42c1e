// MCP servers (ngrok's MCP Gateway): the upstream MCP servers the account's keys reach through the gateway, each under a
// label. The list, and an editor: label, description, upstream URL → how the gateway authenticates (each type with only
// its own fields; a stored secret written, never read back) → save. Refusals are shown at the field they are about.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, listAll, when, type McpServer, type ProviderKey } from '../api.ts';
import { AUTH_TYPES, blameOf, describeAuth, emptyServer, fromServer, keyToRotate, secretProvider, toWrite, writesSecret, type McpServerState, type ServerField } from '../mcp-server-model.ts';
import { navigate } from '../nav.ts';
import { ConfirmButton, Empty, ErrorNote, Field, PageHeading, TableWrap, useAction, useResourceList, Loading, FormActions, ListOrEditor } from '../ui.tsx';

function McpServerList() {
  const { items, load, remove, del } = useResourceList<McpServer>('/mcp-servers', 'aiGatewayMcpServers', 'MCP server', 'MCP servers');
  return (
    <section aria-labelledby="mcp-title">
      <PageHeading id="mcp-title">MCP servers</PageHeading>
      <p class="lead">MCP servers your keys reach through the gateway, each under a label: its tools are offered as &lt;label&gt;__&lt;tool&gt; on the gateway's /mcp (or, on /mcp?tools=search, found and called through two tools, search_tools and call_tool), and unprefixed on the server's own path. Configurations can allow some servers and tools only.</p>
      <p><a class="btn btn-primary" href="#/mcp-servers/new">Add MCP server</a></p>
      <ErrorNote error={load.error ?? remove.error} />
      <Loading busy={load.busy} />
      {items && items.length === 0 ? <Empty>No MCP servers yet.</Empty> : null}
      {items && items.length > 0 ? (
        <TableWrap label="MCP server list">
          <table>
            <thead><tr><th scope="col">Label</th><th scope="col">Upstream URL</th><th scope="col">Auth</th><th scope="col">Secret</th><th scope="col">Gateway path</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id} data-id={s.id}>
                  <th scope="row"><a class="mono" href={`#/mcp-servers/${s.id}`}>{s.label}</a>{s.description ? <div class="sub">{s.description}</div> : null}</th>
                  <td data-label="Upstream URL" class="mono">{s.upstreamUrl}</td>
                  <td data-label="Auth">{describeAuth(s.auth)}</td>
                  <td data-label="Secret">{s.hasSecret ? 'Set' : <span class="muted">Not set</span>}</td>
                  <td data-label="Gateway path" class="mono">{s.url}</td>
                  <td data-label="Updated">{when(s.updatedAt)}</td>
                  <td class="actions">
                    <ConfirmButton label="Delete" busy={remove.busy} onConfirm={() => void del(s)}
                      question={`Delete ${s.label}? Keys stop reaching it at once.${s.hasSecret ? ` Its secret (provider key ${secretProvider(s.label)}) stays under Providers until you delete it there; until then no server can take the label.` : ''}`} />
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

/** The secret's write, after the server's: a new `mcp:<label>` key, or the value of the one the gateway sends replaced. */
async function writeSecret(label: string, value: string): Promise<ProviderKey> {
  const provider = secretProvider(label);
  const existing = keyToRotate(await listAll<ProviderKey>(`/provider-keys?provider=${encodeURIComponent(provider)}`, 'aiGatewayProviderKeys'));
  return existing
    ? api<ProviderKey>('POST', `/provider-keys/${existing.id}/rotate`, { name: existing.name, value })
    : api<ProviderKey>('POST', '/provider-keys', { providerId: provider, name: `${label} secret`, value });
}

function McpServerEditor({ id }: { id: string | undefined }) {
  // The server this form writes: set by a create whose secret then failed, so that Save again updates it.
  const [serverId, setServerId] = useState(id);
  const [state, setState] = useState<McpServerState | undefined>(id ? undefined : emptyServer());
  const [server, setServer] = useState<McpServer | undefined>();
  const [blame, setBlame] = useState<ServerField | undefined>();
  const load = useAction();
  const save = useAction();
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (id) void load.run('Loading MCP server', () => api<McpServer>('GET', `/mcp-servers/${encodeURIComponent(id)}`), '').then((s) => { if (s) { setServer(s); setState(fromServer(s)); } });
  }, [id]);
  if (!state) return <section><PageHeading>MCP server</PageHeading><ErrorNote error={load.error} />{load.busy ? <p>Loading…</p> : null}</section>;

  const set = (patch: Partial<McpServerState>) => setState({ ...state, ...patch });
  const submit = async (e: Event) => {
    e.preventDefault();
    const from = document.activeElement;
    const body = toWrite(state, serverId !== undefined);
    // Set once the server is written: a failure after it is the secret's, and the server exists by then.
    const done: { server?: McpServer } = {};
    const send = async () => {
      try {
        done.server = await (serverId ? api<McpServer>('PATCH', `/mcp-servers/${encodeURIComponent(serverId)}`, body) : api<McpServer>('POST', '/mcp-servers', body));
      } catch (err) {
        setBlame(err instanceof ApiError ? blameOf(err.code, err.details) : undefined);
        throw err;
      }
      const written = done.server;
      if (!writesSecret(state)) return written;
      try {
        await writeSecret(written.label, state.secret);
      } catch (err) {
        setBlame(err instanceof ApiError ? blameOf(err.code, err.details, true) : undefined);
        throw err;
      }
      return { ...written, hasSecret: true };
    };
    setBlame(undefined);
    const saved = await save.run('Saving MCP server', send, (s) => `MCP server ${s.label} saved.`);
    if (saved) {
      setServer(saved);
      setState(fromServer(saved));
      if (!serverId) navigate('mcp-servers', saved.id);
      return;
    }
    // The server was written but its secret was not: the form now edits that server, the secret still typed in.
    const written = done.server;
    if (written) {
      setServer(written);
      if (!serverId) {
        setServerId(written.id);
        history.replaceState(null, '', `#/mcp-servers/${encodeURIComponent(written.id)}`);
      }
    }
    setTimeout(() => {
      if (document.activeElement !== from) return;
      formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    });
  };
  const errorAt = (field: ServerField) => (save.error && blame === field ? save.error : undefined);
  const secretField = (
    <Field label="Secret value" error={errorAt('secret')}
      hint={server?.hasSecret
        ? <>A secret is stored (provider key <span class="mono">{secretProvider(server.label)}</span>); it is never shown. Type a new value to replace it, or leave this empty to keep it.</>
        : <>Stored encrypted as the provider key <span class="mono">{secretProvider(state.label || '<label>')}</span> and never shown again.</>}>
      <input type="password" autoComplete="new-password" value={state.secret} onInput={(e) => set({ secret: e.currentTarget.value })} />
    </Field>
  );
  return (
    <form ref={formRef} class="editor" onSubmit={(e) => void submit(e)} aria-labelledby="mcp-editor-title">
      <p><a href="#/mcp-servers">← All MCP servers</a></p>
      <PageHeading id="mcp-editor-title">{serverId ? `Edit ${server?.label ?? state.label}` : 'Add MCP server'}</PageHeading>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <section class="card" aria-labelledby="mcp-details-title">
        <h2 id="mcp-details-title">Server</h2>
        <div class="grid">
          <Field label="Label" error={errorAt('label')}
            hint={'Lowercase letters, digits, "-" and "_", up to 64; not "__". Its tools are offered as <label>__<tool>. While its secret is stored, the label cannot change.'}>
            <input required class="mono" maxLength={64} value={state.label} onInput={(e) => set({ label: e.currentTarget.value })} />
          </Field>
          <Field label="Description" error={errorAt('description')}><input maxLength={255} value={state.description} onInput={(e) => set({ description: e.currentTarget.value })} /></Field>
          <Field label="Upstream URL" hint="The server's Streamable HTTP endpoint, https. No credentials in it: use a stored secret." error={errorAt('upstreamUrl')}>
            <input required type="url" class="mono" maxLength={2048} value={state.upstreamUrl} onInput={(e) => set({ upstreamUrl: e.currentTarget.value })} />
          </Field>
        </div>
        {server ? <p>Gateway path: <span class="mono" data-testid="mcp-url">{server.url}</span> <span class="muted">(after your gateway's address)</span></p> : null}
      </section>
      <section class="card" aria-labelledby="mcp-auth-title">
        <h2 id="mcp-auth-title">Authentication</h2>
        <Field label="Auth type" hint="How the gateway authenticates to the server. Your apps' access keys are never sent to it." error={errorAt('auth.type')}>
          <select value={state.authType} onChange={(e) => set({ authType: e.currentTarget.value as McpServerState['authType'] })}>
            {AUTH_TYPES.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
          </select>
        </Field>
        {state.authType === 'secret' ? (
          <div class="grid">
            <Field label="Send the secret in" error={errorAt('auth.in')}>
              <select value={state.secretIn} onChange={(e) => set({ secretIn: e.currentTarget.value as McpServerState['secretIn'] })}>
                <option value="header">A header</option>
                <option value="query">A query parameter</option>
              </select>
            </Field>
            <Field label={state.secretIn === 'header' ? 'Header name' : 'Query parameter name'} error={errorAt('auth.name')}>
              <input required class="mono" maxLength={128} value={state.secretName} onInput={(e) => set({ secretName: e.currentTarget.value })} />
            </Field>
            {state.secretIn === 'header' ? (
              <Field label="Prefix" hint='Written before the secret, spaces included, e.g. "Bearer ". Empty: the secret alone.' error={errorAt('auth.prefix')}>
                <input class="mono" maxLength={64} value={state.secretPrefix} onInput={(e) => set({ secretPrefix: e.currentTarget.value })} />
              </Field>
            ) : null}
            {secretField}
          </div>
        ) : state.authType === 'forwardHeaders' ? (
          <Field label="Headers to forward" hint="One a line, 1 to 20, copied from each client request. Not Authorization or X-Api-Key: they carry the access key." error={errorAt('auth.headers')}>
            <textarea class="mono" rows={3} value={state.headers} onInput={(e) => set({ headers: e.currentTarget.value })} />
          </Field>
        ) : state.authType === 'oauthPassthrough' ? (
          <p class="hint">The client's own Authorization header is passed to the server unchanged.</p>
        ) : <p class="hint">The gateway sends no credentials.</p>}
        {state.authType === 'secret' && !server?.hasSecret && state.secret === '' ? <p class="warning" role="note">No secret is stored yet: type one, or the gateway has nothing to send.</p> : null}
      </section>
      {save.error && blame === undefined ? <ErrorNote error={save.error} /> : null}
      <FormActions busy={save.busy} save="Save MCP server" route="mcp-servers" />
    </form>
  );
}

export function McpServersScreen({ id }: { id: string | undefined }) {
  return <ListOrEditor id={id} list={McpServerList} editor={McpServerEditor} />;
}
