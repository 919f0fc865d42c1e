// Logs: usage events from GET /usage (includeRetries), newest first, one row per request; selecting a
// request shows its attempts side by side, and `#/logs/<requestId>` (the Playground's link) opens one by its id.
// The API filters by time and access key only: with a provider, model or status filter set, pages are read on
// until a page's worth of requests match or the range ends.
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, listAll, pathOf, usd, when, type AccessKey, type GatewayConfig, type ProviderKey, type Schemas, type UsageEvent } from '../api.ts';
import { REQUEST_ASK_EVERY_MS, REQUEST_ASKS, requestMayBeLogged, CAPTURE_ASK_EVERY_MS, CAPTURE_ASKS, captureMayArrive, capturedSize, groupRequests, isFiltering, matches, mergeEvents, partialRequests, shownTokens, RANGES, startOf, type ClientFilter, type RangeId, type RequestRow } from '../logs-model.ts';
import { routeHash } from '../nav.ts';
import { Button, Empty, ErrorNote, Field, LoadMore, PageHeading, TableWrap, useAction, useFocusAfterRender, Loading } from '../ui.tsx';

type UsageList = Schemas['AIGatewayUsageList'];

/** "≈" marks the gateway's estimates (the provider reported no usage). */
function tokensText(e: UsageEvent): string {
  const t = shownTokens(e);
  return `${t.estimated ? '≈ ' : ''}${t.input} in · ${t.output} out`;
}

function tokensPair(e: UsageEvent): string {
  const t = shownTokens(e);
  return `${t.estimated ? '≈ ' : ''}${t.input} / ${t.output}`;
}
type RequestAttempts = Schemas['AIGatewayRequest'];
type RequestCapture = Schemas['AIGatewayRequestCapture'];
const PAGE = 50;
/** Pages one filtered search reads before it pauses (Load more goes on): a 30-day range can hold a great many. */
const SEARCH_PAGES = 20;

/** The cost's non-zero parts; web searches have none of their own and are what the parts leave of the total. */
function costParts(e: UsageEvent): string {
  const parts: Array<[string, string]> = [
    ['input', e.inputTokenCost], ['cache read', e.cacheReadCost], ['cache write', e.cacheWriteCost],
    ['output', e.outputTokenCost], ['processing fee', e.ngrokProcessingFee],
  ];
  return parts.filter(([, v]) => Number(v) !== 0).map(([name, v]) => `${name} ${usd(v)}`).join(' · ');
}

/** The stored key an attempt used, by the name the user gave it; the masked secret when the key is gone. */
function KeyUsed({ e, keys }: { e: UsageEvent; keys: ReadonlyMap<string, ProviderKey> }) {
  const k = e.providerKeyId ? keys.get(e.providerKeyId) : undefined;
  if (k) return <>{e.keySource} · {k.name} <span class="mono muted">{k.keyRedacted}</span></>;
  return <>{e.keySource}{e.providerKeyDisplayName ? ` · ${e.providerKeyDisplayName}` : ''}{e.providerKeyId ? <span class="muted"> (key deleted)</span> : null}</>;
}

function Attempt({ e, keys }: { e: UsageEvent; keys: ReadonlyMap<string, ProviderKey> }) {
  const parts = costParts(e);
  return (
    <article class={`attempt card ${e.isError ? 'is-error' : 'is-ok'}`} aria-label={`Attempt ${e.attemptNumber}`}>
      <h3>Attempt {e.attemptNumber}{e.isFinalAttempt ? ' (final)' : ''}</h3>
      <dl>
        <dt>Status</dt><dd>{e.statusCode}{e.timedOut ? ' (timed out)' : ''}</dd>
        <dt>Provider</dt><dd>{e.providerDisplayName} <span class="mono muted">{e.provider}</span></dd>
        <dt>Model</dt><dd class="mono">{e.model}</dd>
        <dt>Key source</dt><dd data-testid="attempt-key"><KeyUsed e={e} keys={keys} /></dd>
        <dt>Tokens</dt><dd>{tokensText(e)}{e.cacheReadTokens ? ` · ${e.cacheReadTokens} cached` : ''}{e.cacheWriteTokens ? ` · ${e.cacheWriteTokens} written to cache` : ''}{e.reasoningTokens ? ` · ${e.reasoningTokens} reasoning` : ''}</dd>
        <dt>Cost</dt><dd data-testid="attempt-cost">{usd(e.totalCost)}{parts ? ` (${parts})` : ''}</dd>
        <dt>Stream</dt><dd>{e.isStreaming ? 'yes' : 'no'}</dd>
        <dt>Stop reason</dt><dd>{e.stopReason || '—'}</dd>
        <dt>Time</dt><dd>{when(e.eventTime)}</dd>
      </dl>
    </article>
  );
}

/** A captured body as it was sent, JSON indented for reading; a cut or non-text body is said to be one. */
function CapturedBody({ label, part }: { label: string; part: RequestCapture['request'] | RequestCapture['response'] }) {
  let shown = part.body;
  if (part.bodyEncoding === 'utf8' && !part.bodyTruncated) {
    try { shown = JSON.stringify(JSON.parse(part.body), null, 2); } catch { /* not JSON (an SSE stream): as sent */ }
  }
  return (
    <div class="captured">
      <h4>{label}</h4>
      <dl class="mono">{Object.entries(part.headers).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{v}</dd></Fragment>)}</dl>
      <p class="muted">{capturedSize(part)}{part.bodyEncoding === 'base64' ? ', not text (base64)' : ''}</p>
      <pre class="body" tabIndex={0}>{shown}</pre>
    </div>
  );
}

/**
 * Reads `load` for a resource written a moment after it is linked (a request's usage, its capture): a 404 is asked
 * again every `everyMs`, at most `asks` times, while `mayArrive` says it may still come (`waiting` meanwhile), and is
 * final otherwise (`missing`). Returns the cancel for an effect: an answer that comes after it is not for what is shown.
 */
function askWhileOnItsWay<T>(load: () => Promise<T>, on: {
  asks: number; everyMs: number; mayArrive: () => boolean | Promise<boolean>;
  found: (value: T) => void; waiting: () => void; missing: () => void; failed: (error: unknown) => void;
}): () => void {
  let current = true;
  let again: ReturnType<typeof setTimeout> | undefined;
  const ask = (asks: number): void => {
    load().then((value) => { if (current) on.found(value); }, async (e: unknown) => {
      if (!current) return;
      if (!(e instanceof ApiError && e.status === 404)) return on.failed(e);
      const mayArrive = asks < on.asks && await on.mayArrive();
      if (!current) return;
      if (!mayArrive) return on.missing();
      on.waiting();
      again = setTimeout(() => ask(asks + 1), on.everyMs);
    });
  };
  ask(1);
  return () => { current = false; clearTimeout(again); };
}

/**
 * What the client sent and got, when request capture kept it (Settings); a request not captured says why it may not be.
 * `endedAt`: when the request ended (its final attempt's time). A capture is written about a second after its usage is
 * listed: one not found yet, for a request that just ended on an account that captures, is asked for again meanwhile.
 */
function Capture({ requestId, endedAt }: { requestId: string; endedAt: string }) {
  const [capture, setCapture] = useState<RequestCapture | null | 'onItsWay' | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    setCapture(undefined);
    setError(undefined);
    // Read once, and only when a capture is not found: most requests opened are not on their way.
    let capturing: Promise<boolean> | undefined;
    return askWhileOnItsWay(() => api<RequestCapture>('GET', `/usage/requests/${encodeURIComponent(requestId)}/capture`), {
      asks: CAPTURE_ASKS, everyMs: CAPTURE_ASK_EVERY_MS,
      mayArrive: async () => captureMayArrive(endedAt, Date.now(), await (capturing ??= api<GatewayConfig>('GET', '/gateway-config').then((c) => c.requestCapture === true, () => false))),
      found: setCapture,
      waiting: () => setCapture('onItsWay'),
      missing: () => setCapture(null),
      failed: (e) => setError(`Could not load the captured bodies: ${e instanceof Error ? e.message : String(e)}`),
    });
  }, [requestId, endedAt]);
  if (error) return <ErrorNote error={error} />;
  if (capture === undefined) return null;
  if (capture === null) return <p class="muted" data-testid="capture-none">Bodies not captured: request capture was off (Settings), or the capture expired.</p>;
  if (capture === 'onItsWay') return <p class="muted" role="status" data-testid="capture-on-its-way">The captured bodies are still being written (a second or so after the request ended)…</p>;
  return (
    <section class="card capture" aria-label="Captured request and answer" data-testid="capture">
      <h3>{capture.request.method} <span class="mono">{capture.request.path}</span> → {capture.response.statusCode}{capture.response.complete ? '' : ' (ended early)'}</h3>
      <div class="attempts">
        <CapturedBody label="Request" part={capture.request} />
        <CapturedBody label="Answer" part={capture.response} />
      </div>
      <p class="muted">Kept until {when(capture.expiresAt)}.</p>
    </section>
  );
}

/** A request id no usage event has: unknown to this account, or still under way (an answer is logged when it ends). */
const notLogged = (requestId: string): string => `No request ${requestId} in this account's logs. A request still under way is logged when it ends: reload this page then.`;

/** The request `#/logs/<id>` names, from its own resource: it may be older than the range listed, or not on the page loaded. */
type Linked = { requestId: string; row?: RequestRow; error?: string; waiting?: boolean };

export function LogsScreen({ requestId }: { requestId?: string | undefined }) {
  const [range, setRange] = useState<RangeId>('24h');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [includeRetries, setIncludeRetries] = useState(true);
  const [filter, setFilter] = useState<ClientFilter>({ provider: '', model: '', status: 'all' });
  const [events, setEvents] = useState<UsageEvent[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const [keys, setKeys] = useState<AccessKey[]>([]);
  const [open, setOpen] = useState<string | undefined>();
  const [providerKeys, setProviderKeys] = useState<ProviderKey[]>([]);
  const [linked, setLinked] = useState<Linked | undefined>();
  // Requests (matching the filters) the list should show before a filtered search pauses; Load more raises it.
  const [goal, setGoal] = useState(PAGE);
  const load = useAction();
  // A refresh (another range or key) starts a new search: answers to an older one are dropped.
  const generation = useRef(0);
  const inFlight = useRef(false);
  const pagesLeft = useRef(SEARCH_PAGES);
  const panelRef = useRef<HTMLElement>(null);
  const focusLater = useFocusAfterRender();

  const fetchPage = async (path: string, append: boolean) => {
    const mine = generation.current;
    inFlight.current = true;
    const page = await load.run('Loading logs', async () => {
      const listed = await api<UsageList>('GET', path);
      let events = listed.aiGatewayUsage;
      // A request cut by the page boundary is completed from its own resource, so its row counts every attempt
      // (not when retries are left out: then each request shows its final attempt alone, as asked).
      if (listed.nextPageUri && includeRetries) {
        for (const requestId of partialRequests(events)) {
          const request = await api<RequestAttempts>('GET', `/usage/requests/${encodeURIComponent(requestId)}`).catch(() => undefined);
          if (request) events = mergeEvents(events, request.attempts.map((a) => a.event));
        }
      }
      return { ...listed, aiGatewayUsage: events };
    }, '');
    if (mine !== generation.current) return;
    inFlight.current = false;
    if (!page) return;
    setEvents((old) => (append ? mergeEvents(old, page.aiGatewayUsage) : page.aiGatewayUsage));
    setNext(page.nextPageUri);
  };
  const refresh = () => {
    const q = new URLSearchParams({ startTime: startOf(range), includeRetries: String(includeRetries), limit: String(PAGE) });
    if (accessKeyId) q.set('accessKeyId', accessKeyId);
    generation.current++;
    pagesLeft.current = SEARCH_PAGES;
    setGoal(PAGE);
    setOpen(undefined);
    // The previous search's rows and cursor are not this one's: Load more must never continue the old range.
    setEvents([]);
    setNext(undefined);
    void fetchPage(`/usage?${q.toString()}`, false);
  };
  useEffect(refresh, [range, accessKeyId, includeRetries]);
  useEffect(() => {
    void listAll<AccessKey>('/access-keys', 'aiGatewayAccessKeys').then(setKeys, () => undefined);
    void listAll<ProviderKey>('/provider-keys', 'aiGatewayProviderKeys').then(setProviderKeys, () => undefined);
  }, []);

  const all = groupRequests(events);
  const rows = all.filter((r) => matches(r, filter));
  const filtering = isFiltering(filter);
  // A changed filter is a new search: it gets a fresh budget of pages.
  useEffect(() => { pagesLeft.current = SEARCH_PAGES; }, [filter.provider, filter.model, filter.status]);
  // The filters apply to loaded rows only, so while too few match and the range has more, read the next page.
  useEffect(() => {
    if (!filtering || !next || inFlight.current || rows.length >= goal || pagesLeft.current <= 0) return;
    pagesLeft.current--;
    void fetchPage(pathOf(next), true);
  }, [events, next, filter.provider, filter.model, filter.status, goal]);
  const loadMore = () => {
    if (!next || inFlight.current) return;
    pagesLeft.current = SEARCH_PAGES;
    setGoal(rows.length + PAGE);
    void fetchPage(pathOf(next), true);
  };

  // Opening a request brings its attempts (below the list) into view and focus; closing returns to its row.
  const openRequest = (id: string | undefined) => {
    const closing = open;
    setOpen(id);
    if (id) {
      focusLater(() => { panelRef.current?.scrollIntoView({ block: 'start' }); return panelRef.current; });
    } else if (closing) {
      // A linked request may have no row in the list: the focus goes to the page's heading, not to <body>.
      focusLater(() => document.querySelector<HTMLElement>(`tr[data-request-id="${CSS.escape(closing)}"] button`) ?? document.getElementById('logs-title'));
      // Closed, the address no longer names it (a reload would open it again); no hashchange, so no new screen.
      if (closing === requestId) history.replaceState(null, '', routeHash('logs'));
    }
  };
  // Declared after the list's refresh, which closes any open request: at mount, the linked one opens after it.
  useEffect(() => {
    setLinked(undefined);
    if (!requestId) return;
    return askWhileOnItsWay(() => api<RequestAttempts>('GET', `/usage/requests/${encodeURIComponent(requestId)}`), {
      asks: REQUEST_ASKS, everyMs: REQUEST_ASK_EVERY_MS,
      // Just begun (the Playground links it as its answer arrives): its usage may be a moment from being stored.
      mayArrive: () => requestMayBeLogged(requestId, Date.now()),
      found: (request) => {
        const row = groupRequests(request.attempts.map((a) => a.event))[0];
        setLinked(row ? { requestId, row } : { requestId, error: notLogged(requestId) });
        if (row) openRequest(requestId);
      },
      waiting: () => setLinked({ requestId, waiting: true }),
      missing: () => setLinked({ requestId, error: notLogged(requestId) }),
      failed: (e) => setLinked({ requestId, error: `Could not load request ${requestId}: ${e instanceof Error ? e.message : String(e)}` }),
    });
  }, [requestId]);

  const keysById = new Map(providerKeys.map((k) => [k.id, k]));
  // The linked request as its own resource has it (every attempt), rather than as the loaded pages do.
  const selected: RequestRow | undefined = linked?.row && linked.requestId === open ? linked.row : rows.find((r) => r.requestId === open);
  return (
    <section aria-labelledby="logs-title">
      <PageHeading id="logs-title">Logs</PageHeading>
      <form class="card filters" aria-label="Log filters" onSubmit={(e) => { e.preventDefault(); refresh(); }}>
        <Field label="Time range">
          <select value={range} onChange={(e) => setRange(e.currentTarget.value as RangeId)}>
            {RANGES.map((r) => <option key={r.id} value={r.id}>{r.label}</option>)}
          </select>
        </Field>
        <Field label="Access key">
          <select value={accessKeyId} onChange={(e) => setAccessKeyId(e.currentTarget.value)}>
            <option value="">All access keys</option>
            {keys.map((k) => <option key={k.id} value={k.id}>{k.name ?? k.id}</option>)}
          </select>
        </Field>
        <Field label="Provider contains"><input value={filter.provider} onInput={(e) => setFilter({ ...filter, provider: e.currentTarget.value })} /></Field>
        <Field label="Model contains"><input value={filter.model} onInput={(e) => setFilter({ ...filter, model: e.currentTarget.value })} /></Field>
        <Field label="Status">
          <select value={filter.status} onChange={(e) => setFilter({ ...filter, status: e.currentTarget.value as ClientFilter['status'] })}>
            <option value="all">All</option><option value="ok">Succeeded</option><option value="error">Failed</option>
          </select>
        </Field>
        <label class="choice"><input type="checkbox" checked={includeRetries} onChange={(e) => setIncludeRetries(e.currentTarget.checked)} /> Include retried attempts</label>
        <Button type="submit" busy={load.busy}>Refresh</Button>
      </form>
      <ErrorNote error={load.error} />
      <ErrorNote error={linked?.error} />
      {linked?.waiting ? <p class="muted" role="status" data-testid="request-on-its-way">Request <span class="mono">{linked.requestId}</span> is not logged yet: a request is logged a moment after it ends. Looking again…</p> : null}
      <Loading busy={load.busy} />
      {/* A live region, kept on the page while empty (one that appears with its text is not reliably announced):
          screen-reader users hear how a filtered search went without hunting for this line. */}
      <p class="muted search-note" role="status" data-testid="logs-searched">
        {!filtering ? null : next
          ? `Searched the newest ${all.length} requests of this range; ${rows.length} match. ${load.busy ? 'Searching further…' : 'Older requests are not searched yet: Load more searches on.'}`
          : `Searched all ${all.length} requests in this range; ${rows.length} match.`}
      </p>
      {rows.length === 0 && !load.busy ? (
        // "No requests in this range" only once the whole range has been read.
        <Empty>{next ? `No matching requests among the ${all.length} searched so far.` : filtering && all.length > 0 ? 'No requests in this range match these filters.' : 'No requests in this range.'}</Empty>
      ) : null}
      {rows.length > 0 ? (
        <TableWrap label="Requests">
          <table class="logs">
            <thead><tr><th scope="col">Time</th><th scope="col">Status</th><th scope="col">Model</th><th scope="col">Provider</th><th scope="col">Tokens (in / out)</th><th scope="col">Cost</th><th scope="col">Key source</th><th scope="col">Attempts</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.requestId} data-request-id={r.requestId} class={open === r.requestId ? 'selected' : undefined}>
                  <td data-label="Time">
                    {/* aria-controls only while the attempts are shown: a reference to nothing misleads assistive tech. */}
                    <button type="button" class="linklike" aria-expanded={open === r.requestId} aria-controls={open === r.requestId ? 'attempts' : undefined}
                      onClick={() => openRequest(open === r.requestId ? undefined : r.requestId)}>
                      {when(r.final.eventTime)}
                      {/* Named by more than its time, so a list of these buttons (a screen reader's) says which request is which. */}
                      <span class="sr-only">: {r.final.model}, {r.final.isError ? 'failed' : 'succeeded'} ({r.final.statusCode})</span>
                    </button>
                  </td>
                  <td data-label="Status"><span class={`badge ${r.final.isError ? 'bad' : 'good'}`}>{r.final.statusCode}</span></td>
                  <td data-label="Model" class="mono">{r.final.model}</td>
                  <td data-label="Provider">{r.final.provider}</td>
                  <td data-label="Tokens in / out">{tokensPair(r.final)}</td>
                  <td data-label="Cost" data-testid="cost">{usd(r.cost)}</td>
                  <td data-label="Key source">{r.final.keySource}</td>
                  <td data-label="Attempts">{r.attempts.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      {/* An older search finishing clears the shared busy flag while this one still loads: the ref says. */}
      <LoadMore next={next} busy={load.busy || inFlight.current} onLoad={loadMore} />
      {selected ? (
        <section id="attempts" ref={panelRef} tabIndex={-1} aria-label={`Attempts of request ${selected.requestId}`} class="attempts-panel"
          onKeyDown={(e) => { if (e.key === 'Escape') { e.preventDefault(); openRequest(undefined); } }}>
          <div class="row spread">
            <h2>Request <span class="mono">{selected.requestId}</span></h2>
            <Button onClick={() => openRequest(undefined)}>Close</Button>
          </div>
          <div class="attempts">{selected.attempts.map((e) => <Attempt key={e.id} e={e} keys={keysById} />)}</div>
          <Capture requestId={selected.requestId} endedAt={selected.final.eventTime} />
        </section>
      ) : null}
    </section>
  );
}
