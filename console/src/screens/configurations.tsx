// Configurations: the list, and the guide's editor (name and description → Access → Routing → Firewall → save).
// Validation errors from the API are shown next to the section they concern.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, deletedText, deleteResource, ApiError, listAll, when, type Configuration, type FirewallPolicy, type McpServer } from '../api.ts';
import { loadCatalog, type Catalog } from '../catalog.ts';
import { emptyConfig, fromConfiguration, ruleOfError, ruleProblems, ruleWords, sectionOf, summarizeAccess, toWrite, type ConfigState, type RuleError } from '../config-model.ts';
import { policyName } from '../firewall-model.ts';
import { toolPatternProblem } from '../mcp-server-model.ts';
import { navigate } from '../nav.ts';
import { announce, ConfirmButton, Empty, ErrorNote, Field, fieldError, PageHeading, TableWrap, useAction, useFocusAfterRender, Loading, FormActions, ListOrEditor } from '../ui.tsx';
import { AccessDimensionEditor, type Dimension } from './access-editor.tsx';
import { attachingPolicy, FirewallPolicyPicker, loadFirewallPolicies, POLICY_FIELD } from './firewall-picker.tsx';
import { RulesEditor } from './rules-editor.tsx';

function ConfigurationList() {
  const [items, setItems] = useState<Configuration[] | undefined>();
  const [policies, setPolicies] = useState<FirewallPolicy[] | undefined>();
  const load = useAction();
  const remove = useAction();
  useEffect(() => {
    void load.run('Loading configurations', () => listAll<Configuration>('/access-key-configurations', 'aiGatewayAccessKeyConfigurations'), '').then((l) => l && setItems(l));
    void load.run('Loading Firewall policies', loadFirewallPolicies, '').then((l) => l && setPolicies(l));
  }, []);
  const del = async (c: Configuration) => {
    const done = await remove.run(`Deleting configuration ${c.name}`, () => deleteResource(`/access-key-configurations/${c.id}`), deletedText('Configuration'));
    if (done) setItems((old) => old?.filter((o) => o.id !== c.id));
  };
  return (
    <section aria-labelledby="configs-title">
      <PageHeading id="configs-title">Configurations</PageHeading>
      <p class="lead">A configuration bundles an access scope (which providers and models) with routing rules (which credentials). Assign it to access keys under Access keys.</p>
      <p><a class="btn btn-primary" href="#/configurations/new">New configuration</a></p>
      <ErrorNote error={load.error ?? remove.error} />
      <Loading busy={load.busy} />
      {items && items.length === 0 ? <Empty>No configurations yet.</Empty> : null}
      {items && items.length > 0 ? (
        <TableWrap label="Configuration list">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Access</th><th scope="col">Routing rules</th><th scope="col">Firewall policy</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-id={c.id}>
                  <th scope="row"><a href={`#/configurations/${c.id}`}>{c.name}</a>{c.description ? <div class="sub">{c.description}</div> : null}</th>
                  <td data-label="Access">{summarizeAccess(c)}</td>
                  <td data-label="Routing">{(c.router?.rules ?? []).map((r) => r.model ?? r.provider).join(', ') || <span class="muted">none</span>}</td>
                  <td data-label="Firewall policy">{policyName(policies, c.firewallPolicyId) ?? <span class="muted">none</span>}</td>
                  <td data-label="Updated">{when(c.updatedAt)}</td>
                  <td class="actions">
                    <ConfirmButton label="Delete" question={`Delete ${c.name}?`} busy={remove.busy} onConfirm={() => void del(c)} />
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

function ConfigurationEditor({ id }: { id: string | undefined }) {
  const [state, setState] = useState<ConfigState | undefined>(id ? undefined : emptyConfig());
  const [catalog, setCatalog] = useState<Catalog | undefined>();
  const [policies, setPolicies] = useState<FirewallPolicy[] | undefined>();
  const [mcpLabels, setMcpLabels] = useState<string[] | undefined>();
  const load = useAction();
  const save = useAction();
  // Set by a save refused in the browser: from then on, rules missing their provider or model say so.
  const [checked, setChecked] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const focusLater = useFocusAfterRender();
  useEffect(() => {
    void load.run('Loading providers and keys', loadCatalog, '').then((c) => c && setCatalog(c));
    void load.run('Loading Firewall policies', loadFirewallPolicies, '').then((l) => l && setPolicies(l));
    void load.run('Loading MCP servers', () => listAll<McpServer>('/mcp-servers', 'aiGatewayMcpServers'), '').then((l) => l && setMcpLabels(l.map((m) => m.label).sort()));
    if (id) void load.run('Loading configuration', () => api<Configuration>('GET', `/access-key-configurations/${encodeURIComponent(id)}`), '').then((c) => c && setState(fromConfiguration(c)));
  }, [id]);
  if (!state) return <section><PageHeading>Configuration</PageHeading><ErrorNote error={load.error} />{load.busy ? <p>Loading…</p> : null}</section>;

  const set = (patch: Partial<ConfigState>) => setState({ ...state, ...patch });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (ruleProblems(state.rules).size > 0) {
      // Checked here, not by the API: its answer names the rule zero-based and lands away from the field.
      setChecked(true);
      save.clear();
      announce('Not saved: a routing rule is missing its provider or model.', 'error', false);
      focusLater(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]'));
      return;
    }
    const body = toWrite(state, id !== undefined);
    const send = async () => {
      try {
        return await (id ? api<Configuration>('PATCH', `/access-key-configurations/${encodeURIComponent(id)}`, body) : api<Configuration>('POST', '/access-key-configurations', body));
      } catch (err) {
        // "rules[0].steps[1]" becomes "Rule 1, step 2", as the editor numbers them.
        if (!(err instanceof ApiError)) throw err;
        throw new ApiError(err.status, ruleWords(err.message), err.code, Object.fromEntries(Object.entries(err.details).map(([k, v]) => [k, ruleWords(v)])));
      }
    };
    const saved = await save.run('Saving configuration', () => attachingPolicy(send, policies), (c) => `Configuration ${c.name} saved.`);
    if (saved) {
      setState(fromConfiguration(saved));
      if (!id) navigate('configurations', saved.id);
    }
  };
  const apiRule = save.error ? ruleOfError(save.error) : undefined;
  const ruleErrors = checked ? ruleProblems(state.rules) : new Map<number, RuleError>();
  if (apiRule && !ruleErrors.has(apiRule.index)) ruleErrors.set(apiRule.index, apiRule.error);
  // An error about one rule is shown in that rule (RulesEditor), not again at the foot of the section. Only the API's
  // validation (400) is about a section; any other failure (the configuration deleted meanwhile, the server not
  // reached) is about the save itself, and sits by the Save button, where the user is. A refusal of the chosen Firewall
  // policy is at its picker.
  // A refusal naming an allow list (`access.mcpTools.allow.2`) is shown at that list's entry field.
  const dimensionError = (what: Dimension) => (save.field === `access.${what}` || save.field?.startsWith(`access.${what}.`) ? save.error : undefined);
  const atDimension = (['providers', 'models', 'mcpServers', 'mcpTools'] as const).some((w) => dimensionError(w) !== undefined);
  const section = !save.error || apiRule || save.field === POLICY_FIELD || atDimension ? undefined : save.status === 400 ? sectionOf(save.error) : 'save';
  const modelChoices = catalog ? catalog.modelIds : [];
  return (
    <form ref={formRef} class="editor" onSubmit={(e) => void submit(e)} aria-labelledby="editor-title" noValidate={false}>
      <p><a href="#/configurations">← All configurations</a></p>
      <PageHeading id="editor-title">{id ? `Edit ${state.name || 'configuration'}` : 'New configuration'}</PageHeading>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <section class="card" aria-labelledby="details-title">
        <h2 id="details-title">Details</h2>
        <div class="grid">
          <Field label="Configuration name"><input required maxLength={255} value={state.name} onInput={(e) => set({ name: e.currentTarget.value })} /></Field>
          <Field label="Description"><input maxLength={255} value={state.description} onInput={(e) => set({ description: e.currentTarget.value })} /></Field>
          <Field label="Metadata" hint="Optional, up to 4096 bytes."><textarea rows={2} maxLength={4096} value={state.metadata} onInput={(e) => set({ metadata: e.currentTarget.value })} /></Field>
        </div>
        {section === 'details' ? <ErrorNote error={save.error} /> : null}
      </section>
      <section class="card" aria-labelledby="access-title">
        <h2 id="access-title">Access</h2>
        <p class="hint">Allow only the providers and models this key should use. Leaving both on "allow all" means no restriction.</p>
        <div class="grid two">
          <AccessDimensionEditor what="providers" value={state.providers} onChange={(providers) => set({ providers })} choices={catalog?.providerIds ?? []} error={dimensionError('providers')} />
          <AccessDimensionEditor what="models" value={state.models} onChange={(models) => set({ models })} choices={modelChoices} error={dimensionError('models')} />
        </div>
        <p class="hint">MCP servers by label, and their tools as &lt;label&gt;/&lt;tool&gt; patterns (MCP servers screen).</p>
        <div class="grid two">
          <AccessDimensionEditor what="mcpServers" value={state.mcpServers} onChange={(mcpServers) => set({ mcpServers })} choices={mcpLabels} error={dimensionError('mcpServers')} />
          <AccessDimensionEditor what="mcpTools" value={state.mcpTools} onChange={(mcpTools) => set({ mcpTools })} error={dimensionError('mcpTools')}
            choices={(mcpLabels ?? []).map((l) => `${l}/*`)} check={(entry) => toolPatternProblem(entry, mcpLabels)}
            allHint="No restriction on MCP tools: every tool of the servers allowed." />
        </div>
        {section === 'access' ? <ErrorNote error={save.error} /> : null}
      </section>
      <section class="card" aria-labelledby="routing-title">
        <h2 id="routing-title">Routing</h2>
        <p class="hint">A rule per provider (or model): managed credentials, or your stored provider keys tried in order. Later steps are fallbacks.</p>
        <RulesEditor rules={state.rules} onChange={(rules) => set({ rules })} ctx={{ providerIds: catalog?.providerIds ?? [], keys: catalog?.keys ?? [] }} errors={ruleErrors} />
        {section === 'routing' ? <ErrorNote error={save.error} /> : null}
      </section>
      <section class="card" aria-labelledby="config-firewall-title">
        <h2 id="config-firewall-title">Firewall</h2>
        <FirewallPolicyPicker label="Firewall policy" hint="Checks the traffic of the keys linked to this configuration, besides the all-keys policy (Credits & settings)."
          value={state.firewallPolicyId} policies={policies} error={fieldError(save, POLICY_FIELD)} onChange={(firewallPolicyId) => set({ firewallPolicyId })} />
      </section>
      {section === 'save' ? <ErrorNote error={save.error} /> : null}
      <FormActions busy={save.busy} save="Save configuration" route="configurations" />
    </form>
  );
}

export function ConfigurationsScreen({ id }: { id: string | undefined }) {
  return <ListOrEditor id={id} list={ConfigurationList} editor={ConfigurationEditor} />;
}
