// Usage: GET /usage/overview as daily stacked bars of requests, errors and cost, grouped by provider or
// by access key, with the window's totals and the same numbers as a table.
import { useEffect, useState } from 'preact/hooks';
import { api, listAll, usd, type AccessKey, type UsageOverview } from '../api.ts';
import { BarChart, type Series } from '../chart.tsx';
import { ErrorNote, Field, PageHeading, TableWrap, useAction, Loading } from '../ui.tsx';

const WINDOWS = [7, 30, 90] as const;

function days(n: number): string[] {
  const out: string[] = [];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (let i = n - 1; i >= 0; i--) out.push(new Date(today - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

function seriesOf(o: UsageOverview, labels: string[], pick: (b: UsageOverview['buckets'][number]) => number, name: (k: string) => string): Series[] {
  const groups = [...new Set(o.buckets.map((b) => b.groupKey))].sort();
  return groups.map((g) => ({
    label: name(g),
    values: labels.map((day) => o.buckets.filter((b) => b.groupKey === g && b.bucketStart.slice(0, 10) === day).reduce((s, b) => s + pick(b), 0)),
  }));
}

export function UsageScreen() {
  const [windowDays, setWindowDays] = useState<number>(7);
  const [groupBy, setGroupBy] = useState<'provider' | 'accessKey'>('provider');
  const [overview, setOverview] = useState<UsageOverview | undefined>();
  const [keyNames, setKeyNames] = useState<Map<string, string>>(new Map());
  const load = useAction();
  const labels = days(windowDays);
  useEffect(() => {
    const q = new URLSearchParams({ startTime: `${labels[0]}T00:00:00Z`, groupBy });
    // An answer to an earlier choice that comes after the latest one's is dropped: it would show another window or grouping.
    let latest = true;
    void load.run('Loading usage', () => api<UsageOverview>('GET', `/usage/overview?${q.toString()}`), '').then((o) => { if (o && latest) setOverview(o); });
    return () => { latest = false; };
  }, [windowDays, groupBy]);
  useEffect(() => {
    void listAll<AccessKey>('/access-keys', 'aiGatewayAccessKeys').then((ks) => setKeyNames(new Map(ks.map((k) => [k.id, k.name ?? k.id]))), () => undefined);
  }, []);
  const name = (k: string) => (groupBy === 'accessKey' ? keyNames.get(k) ?? k : k);
  const count = (n: number) => String(Math.round(n));
  return (
    <section aria-labelledby="usage-title">
      <PageHeading id="usage-title">Usage</PageHeading>
      <div class="card filters" role="group" aria-label="Usage options">
        <Field label="Window">
          <select value={windowDays} onChange={(e) => setWindowDays(Number(e.currentTarget.value))}>
            {WINDOWS.map((d) => <option key={d} value={d}>Last {d} days</option>)}
          </select>
        </Field>
        <Field label="Group by">
          <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as 'provider' | 'accessKey')}>
            <option value="provider">Provider</option><option value="accessKey">Access key</option>
          </select>
        </Field>
      </div>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      {overview ? (
        <>
          <dl class="totals" aria-label="Totals for the window">
            <div><dt>Requests</dt><dd data-testid="total-requests">{overview.totals.requests}</dd></div>
            <div><dt>Errors</dt><dd>{overview.totals.errors}</dd></div>
            <div><dt>Cost</dt><dd data-testid="total-cost">{usd(overview.totals.cost)}</dd></div>
          </dl>
          <div class="charts">
            <BarChart title="Requests per day" labels={labels} series={seriesOf(overview, labels, (b) => b.requests, name)} format={count} integer total={overview.totals.requests} />
            <BarChart title="Errors per day" labels={labels} series={seriesOf(overview, labels, (b) => b.errors, name)} format={count} integer total={overview.totals.errors} />
            <BarChart title="Cost per day" labels={labels} series={seriesOf(overview, labels, (b) => Number(b.cost), name)} format={usd} total={Number(overview.totals.cost)} />
          </div>
          <details class="card">
            <summary>Show the numbers as a table</summary>
            <TableWrap label="Usage by day">
              <table data-testid="usage-table">
                <thead><tr><th scope="col">Day (UTC)</th><th scope="col">{groupBy === 'provider' ? 'Provider' : 'Access key'}</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Cost</th></tr></thead>
                <tbody>
                  {overview.buckets.map((b) => (
                    <tr key={`${b.bucketStart}-${b.groupKey}`}><td data-label="Day">{b.bucketStart.slice(0, 10)}</td><td data-label="Group">{name(b.groupKey)}</td><td data-label="Requests">{b.requests}</td><td data-label="Errors">{b.errors}</td><td data-label="Cost">{usd(b.cost)}</td></tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </details>
        </>
      ) : null}
    </section>
  );
}
