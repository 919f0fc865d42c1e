// Providers: stored provider keys on top (the guide's BYOK step), then tabs for the built-in catalog and
// for custom providers.
import { useEffect, useRef, useState } from 'preact/hooks';
import { loadCatalog, perMillion, type Catalog } from '../catalog.ts';
import { ErrorNote, PageHeading, TableWrap, useAction, Loading } from '../ui.tsx';
import { ProviderKeys } from './provider-keys.tsx';
import { CustomProviders } from './custom-providers.tsx';

function BuiltIn({ catalog }: { catalog: Catalog }) {
  return (
    <div class="catalog">
      {[...catalog.builtIn.entries()].map(([provider, models]) => (
        <details class="card" key={provider}>
          <summary><strong>{provider}</strong> — {models.length} models</summary>
          <p class="hint">Catalog prices in US dollars per million tokens (what managed credentials bill; your own keys are billed by the provider).</p>
          <TableWrap label={`${provider} models and prices`}>
            <table class="prices">
              <thead><tr><th scope="col">Model</th><th scope="col">Input</th><th scope="col">Output</th><th scope="col">Cached input</th></tr></thead>
              <tbody>
                {models.map((id) => {
                  const rates = catalog.prices.get(id);
                  const cell = (type: string) => perMillion(rates, type) ?? <span class="muted">—</span>;
                  return (
                    <tr key={id}>
                      <th scope="row" class="mono">{id}</th>
                      <td data-label="Input">{cell('prompt')}</td>
                      <td data-label="Output">{cell('completion')}</td>
                      <td data-label="Cached input">{cell('input_cache_read')}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        </details>
      ))}
    </div>
  );
}

const TABS = [{ id: 'builtin', label: 'Built-in' }, { id: 'custom', label: 'Custom' }] as const;

export function ProvidersScreen() {
  const [catalog, setCatalog] = useState<Catalog | undefined>();
  const [tab, setTab] = useState<'builtin' | 'custom'>('builtin');
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  const load = useAction();
  useEffect(() => { void load.run('Loading providers', loadCatalog, '').then((c) => c && setCatalog(c)); }, []);
  const onTabKey = (e: KeyboardEvent, i: number) => {
    // Arrow keys move between tabs, Home and End to the first and last, as the ARIA tabs pattern expects.
    const moves: Record<string, number> = { ArrowRight: (i + 1) % TABS.length, ArrowLeft: (i + TABS.length - 1) % TABS.length, Home: 0, End: TABS.length - 1 };
    const next = moves[e.key];
    if (next === undefined) return;
    e.preventDefault(); // Home and End would scroll the page too
    setTab(TABS[next]!.id);
    tabRefs.current[next]?.focus();
  };
  // Only the selected tab names its panel in aria-controls: the other panel is not on the page.
  return (
    <section aria-labelledby="providers-title">
      <PageHeading id="providers-title">Providers</PageHeading>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      {catalog ? (
        <>
          <ProviderKeys keys={catalog.keys} providerIds={catalog.providerIds} onChange={(keys) => setCatalog({ ...catalog, keys })} />
          <h2>Catalog</h2>
          <div role="tablist" aria-label="Provider kinds" class="tabs">
            {TABS.map((t, i) => (
              <button key={t.id} ref={(el) => { tabRefs.current[i] = el; }} type="button" role="tab" id={`tab-${t.id}`}
                aria-controls={tab === t.id ? `panel-${t.id}` : undefined}
                aria-selected={tab === t.id} tabIndex={tab === t.id ? 0 : -1} onClick={() => setTab(t.id)} onKeyDown={(e) => onTabKey(e, i)}>
                {t.label}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} tabIndex={0}>
            {tab === 'builtin'
              ? <BuiltIn catalog={catalog} />
              : <CustomProviders providers={catalog.custom} onChange={(custom) => setCatalog({ ...catalog, custom, providerIds: [...new Set([...catalog.builtIn.keys(), ...custom.map((p) => p.providerId)])].sort() })} />}
          </div>
        </>
      ) : null}
    </section>
  );
}
