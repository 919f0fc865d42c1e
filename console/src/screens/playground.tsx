// Playground: prompts sent from the browser straight to the gateway as real requests of one of the account's
// access keys (billed, logged and scoped like any other), to up to three models side by side, each answer streamed
// into its own column. The page cannot hold an access key's token (only its hash is stored): it asks the console for
// a 15-minute Playground token for the key it picked (POST /console/playground-token) and sends that instead.
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, ApiError, listAll, type AccessKey, type Model, type PlaygroundToken } from '../api.ts';
import { loadCatalog } from '../catalog.ts';
import { routeHash } from '../nav.ts';
import {
  answerHeaders, applyEvent, attachmentKind, errorOf, heldToken, imageRefusal, MAX_COLUMNS, messagesFor, REASONING_EFFORTS, requestBody, SseParser, userMessage, userTurnParts,
  tokenFresh, withAnswer, withPrompt, withRetry, type Answer, type Attachment, type ChatMessage, type HeldToken, type ReasoningEffort, type Turn,
} from '../playground-model.ts';
import { Button, ErrorNote, Field, Loading, PageHeading, errorText, useAction } from '../ui.tsx';

interface Column {
  id: number; model: string; /** '' : the page's key. */ keyId: string; enabled: boolean; turns: Turn[];
  /** '' : no `reasoning_effort` sent, the model's own default. */ effort: ReasoningEffort | '';
}

/** A token is asked for again this long before it expires: a long stream must not start on one about to lapse. */
const TOKEN_MARGIN_MS = 60_000;

let nextColumnId = 1;
const newColumn = (model = ''): Column => ({ id: nextColumnId++, model, keyId: '', enabled: true, turns: [], effort: '' });

/** The key icon ngrok's Playground marks its key pickers with; decoration only (the label says "key"). */
function KeyIcon() {
  return (
    <svg class="pg-key-icon" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false">
      <circle cx="7.5" cy="15.5" r="4.5" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="M10.7 12.3 20 3m-4 4 3 3m-6-0.5 2 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </svg>
  );
}

function readFile(file: File, kind: 'image' | 'text'): Promise<string> {
  if (kind === 'text') return file.text();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error(`${file.name} could not be read.`));
    reader.readAsDataURL(file);
  });
}

function UserTurn({ message }: { message: ChatMessage }) {
  if (typeof message.content === 'string') return <p class="pg-user">{message.content}</p>;
  return (
    <div class="pg-user">
      {userTurnParts(message).map((p, i) => (p.kind === 'image'
        ? <img key={i} src={p.url} alt="Attached image" class="pg-image" />
        : <p key={i}>{p.kind === 'file' ? <span class="muted">File {p.name} (attached)</span> : p.text}</p>))}
    </div>
  );
}

function AnswerView({ answer }: { answer: Answer }) {
  const u = answer.usage;
  return (
    <div class="pg-answer" aria-busy={answer.state === 'streaming' ? 'true' : undefined}>
      {answer.reasoning ? <details class="pg-fold"><summary>Reasoning</summary><p class="pg-text">{answer.reasoning}</p></details> : null}
      {answer.text ? <p class="pg-text">{answer.text}</p> : answer.state === 'streaming' ? <p class="muted">Waiting for the model…</p> : null}
      {answer.toolCalls.length > 0 ? (
        <details class="pg-fold">
          <summary>Tool calls ({answer.toolCalls.length})</summary>
          <ul class="plain-list">{answer.toolCalls.map((t) => <li key={t.index}><code>{t.name || '(unnamed)'}</code><pre class="body">{t.arguments || '{}'}</pre></li>)}</ul>
        </details>
      ) : null}
      {answer.error ? <ErrorNote error={answer.error.code && !answer.error.message.includes(answer.error.code) ? `${answer.error.message} (${answer.error.code})` : answer.error.message} /> : null}
      <p class="sub">
        {answer.state === 'stopped' ? 'Stopped. ' : ''}
        {answer.finishReason ? `Finish: ${answer.finishReason}. ` : ''}
        {u ? `${u.promptTokens} in · ${u.completionTokens} out${u.reasoningTokens ? ` (${u.reasoningTokens} reasoning)` : ''}. ` : ''}
        {answer.removedParams ? `Not sent to the model: ${answer.removedParams.join(', ')}. ` : ''}
        {/* In a new tab: leaving the Playground would end its streams and lose the conversation, which lives in the page only. */}
        {answer.requestId ? <>Request <a href={routeHash('logs', answer.requestId)} target="_blank" rel="noopener" class="mono" aria-label={`Request ${answer.requestId} in Logs (new tab)`}>{answer.requestId}</a></> : null}
      </p>
    </div>
  );
}

function ColumnView({ column, index, count, keys, modelIds, onChange, onStop, onRetry, onRemove }: {
  column: Column; index: number; count: number; keys: AccessKey[]; modelIds: string[];
  onChange: (c: Partial<Column>) => void; onStop: () => void; onRetry: () => void; onRemove: () => void;
}) {
  const listId = useId();
  const last = column.turns.at(-1);
  const streaming = last?.answer.state === 'streaming';
  return (
    <section class="card pg-column" aria-label={`Column ${index + 1}${column.model ? `: ${column.model}` : ''}`}>
      <div class="pg-column-head">
        <Field label={`Model ${index + 1}`}>
          <input list={listId} value={column.model} placeholder="openai:gpt-4o" onInput={(e) => onChange({ model: e.currentTarget.value.trim() })} />
        </Field>
        <datalist id={listId}>{modelIds.map((m) => <option key={m} value={m} />)}</datalist>
        <Field label={`Key for model ${index + 1}`} hint={<><KeyIcon /> Overrides the Playground's key for this model.</>}>
          <select value={column.keyId} onChange={(e) => onChange({ keyId: e.currentTarget.value })}>
            <option value="">The Playground's key</option>
            {keys.map((k) => <option key={k.id} value={k.id}>{k.name ?? k.id}</option>)}
          </select>
        </Field>
        <Field label={`Reasoning for model ${index + 1}`} hint="Sent as reasoning_effort. Models that do not reason may refuse it: leave the default for them.">
          <select value={column.effort} onChange={(e) => onChange({ effort: e.currentTarget.value as Column['effort'] })}>
            <option value="">Model default (not sent)</option>
            {REASONING_EFFORTS.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </Field>
        <label class="choice"><input type="checkbox" checked={column.enabled} onChange={(e) => onChange({ enabled: e.currentTarget.checked })} /> Send prompts to model {index + 1}</label>
        {count > 1 ? <Button onClick={onRemove} aria-label={`Remove model ${index + 1}`} disabled={streaming}>Remove</Button> : null}
      </div>
      <ol class="pg-turns" aria-live="off">
        {column.turns.map((t, i) => <li key={i}><UserTurn message={t.user} /><AnswerView answer={t.answer} /></li>)}
      </ol>
      {last ? (
        <div class="row">
          {streaming ? <Button kind="danger" onClick={onStop}>Stop</Button> : <Button onClick={onRetry}>Retry last answer</Button>}
        </div>
      ) : null}
    </section>
  );
}

export function PlaygroundScreen() {
  const [keys, setKeys] = useState<AccessKey[]>([]);
  const [keyId, setKeyId] = useState('');
  const [models, setModels] = useState<Model[]>([]);
  const [modelIds, setModelIds] = useState<string[]>([]);
  const [columns, setColumns] = useState<Column[]>(() => [newColumn()]);
  const [prompt, setPrompt] = useState('');
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [refusal, setRefusal] = useState<string | undefined>();
  const load = useAction();
  const tokens = useRef(new Map<string, HeldToken>());
  const running = useRef(new Map<number, AbortController>());

  useEffect(() => {
    void load.run('Loading access keys and models', async () => {
      const [list, catalog] = await Promise.all([listAll<AccessKey>('/access-keys', 'aiGatewayAccessKeys'), loadCatalog()]);
      setKeys(list);
      setKeyId((k) => k || list[0]?.id || '');
      setModels(catalog.models);
      setModelIds(catalog.modelIds);
      return true;
    }, '');
    // Leaving the page ends its streams: nobody is there to read them, and each costs.
    return () => { for (const c of running.current.values()) c.abort(); };
  }, []);

  const tokenFor = async (accessKeyId: string): Promise<HeldToken> => {
    const held = tokens.current.get(accessKeyId);
    if (held && tokenFresh(held, Date.now(), TOKEN_MARGIN_MS)) return held;
    const fresh = heldToken(await api<PlaygroundToken>('POST', '/console/playground-token', { accessKeyId }), Date.now());
    tokens.current.set(accessKeyId, fresh);
    return fresh;
  };

  const update = (id: number, change: (c: Column) => Column) => setColumns((cs) => cs.map((c) => (c.id === id ? change(c) : c)));

  /** Streams the answer to `turns`' last prompt into the column. */
  const run = async (column: Column, turns: Turn[]) => {
    const controller = new AbortController();
    running.current.get(column.id)?.abort();
    running.current.set(column.id, controller);
    // This request's answer only: once cleared or retried, the column's last answer is another request's.
    const own = turns.at(-1)?.run;
    const answer = (change: (a: Answer) => Answer) => update(column.id, (c) => {
      const next = withAnswer(c.turns, own, change);
      return next === c.turns ? c : { ...c, turns: next };
    });
    const fail = (error: Answer['error']) => answer((a) => ({ ...a, state: 'failed', error }));
    try {
      const accessKeyId = column.keyId || keyId;
      if (!accessKeyId) return fail({ message: 'Choose the access key the Playground sends its requests with.' });
      const { token, gatewayUrl } = await tokenFor(accessKeyId);
      const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: 'POST', signal: controller.signal,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(requestBody(column.model, messagesFor(turns, column.model), column.effort || undefined)),
      });
      const said = answerHeaders(res.headers);
      answer((a) => ({ ...a, ...said, model: column.model }));
      if (!res.ok || !res.body) return fail(errorOf(await res.text(), res.status));
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const events = parser.push(value);
        if (events.length > 0) answer((a) => events.reduce(applyEvent, a));
      }
      answer((a) => (a.state === 'streaming' ? { ...a, state: 'done' } : a));
    } catch (e) {
      if (controller.signal.aborted) answer((a) => (a.state === 'streaming' ? { ...a, state: 'stopped' } : a));
      else if (e instanceof ApiError) fail({ message: e.explanation, ...(e.code ? { code: e.code } : {}) });
      else fail({ message: `The gateway could not be reached (${errorText(e)}). Check that it runs and that TOLLGATE_PUBLIC_GATEWAY_URL names it.` });
    } finally {
      if (running.current.get(column.id) === controller) running.current.delete(column.id);
    }
  };

  const send = (e: Event) => {
    e.preventDefault();
    const targets = columns.filter((c) => c.enabled && c.model !== '');
    const why = prompt.trim() === '' && attachments.length === 0 ? 'Write a prompt or attach a file.'
      : targets.length === 0 ? 'Name a model in at least one column that receives prompts.'
        : targets.some((c) => c.turns.at(-1)?.answer.state === 'streaming') ? 'Wait for the answers under way, or stop them.'
          : imageRefusal(models, targets.map((c) => c.model), attachments);
    setRefusal(why);
    if (why) return;
    const message = userMessage(prompt.trim(), attachments);
    const next = new Map(targets.map((c) => [c.id, withPrompt(c.turns, message)]));
    setColumns((cs) => cs.map((c) => (next.has(c.id) ? { ...c, turns: next.get(c.id)! } : c)));
    setPrompt('');
    setAttachments([]);
    for (const c of targets) void run(c, next.get(c.id)!);
  };

  const retry = (c: Column) => {
    const turns = withRetry(c.turns);
    update(c.id, (col) => ({ ...col, turns }));
    void run(c, turns);
  };

  const attach = async (files: FileList | null) => {
    const added: Attachment[] = [];
    const refused: string[] = [];
    for (const file of Array.from(files ?? [])) {
      const kind = attachmentKind(file);
      if ('refused' in kind) { refused.push(kind.refused); continue; }
      try {
        added.push({ name: file.name, kind: kind.kind, size: file.size, content: await readFile(file, kind.kind) });
      } catch (err) {
        refused.push(errorText(err));
      }
    }
    setAttachments((a) => [...a, ...added]);
    setRefusal(refused.length > 0 ? refused.join(' ') : undefined);
  };

  const clear = () => {
    for (const c of running.current.values()) c.abort();
    setColumns((cs) => cs.map((c) => ({ ...c, turns: [] })));
  };

  return (
    <section aria-labelledby="playground-title">
      <PageHeading id="playground-title">Playground</PageHeading>
      <p class="lead">Send prompts through the gateway to up to {MAX_COLUMNS} models side by side. These are real requests of the access key you choose: its configuration applies, they are billed, and they appear in Logs and Usage.</p>
      <ErrorNote error={load.error} />
      <Loading busy={load.busy} />
      <div class="row">
        <Field label="Access key" hint={<><KeyIcon /> Requests are this key's; each model may use another.</>}>
          <select value={keyId} onChange={(e) => setKeyId(e.currentTarget.value)}>
            {keys.length === 0 ? <option value="">No access keys — create one first</option> : null}
            {keys.map((k) => <option key={k.id} value={k.id}>{k.name ?? k.id}</option>)}
          </select>
        </Field>
        {columns.length < MAX_COLUMNS ? <Button onClick={() => setColumns((cs) => [...cs, newColumn()])}>Add a model to compare</Button> : null}
        <Button onClick={clear}>Clear conversation</Button>
      </div>
      <div class="pg-columns">
        {columns.map((c, i) => (
          <ColumnView key={c.id} column={c} index={i} count={columns.length} keys={keys} modelIds={modelIds}
            onChange={(change) => update(c.id, (col) => ({ ...col, ...change }))}
            onStop={() => running.current.get(c.id)?.abort()}
            onRetry={() => retry(c)}
            onRemove={() => { running.current.get(c.id)?.abort(); setColumns((cs) => cs.filter((o) => o.id !== c.id)); }} />
        ))}
      </div>
      <form class="card" onSubmit={send}>
        <Field label="Prompt" hint="Sent to every model that receives prompts; each keeps its own conversation.">
          <textarea rows={4} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) send(e); }} />
        </Field>
        {attachments.length > 0 ? (
          <ul class="chips" aria-label="Attachments">
            {attachments.map((a, i) => (
              <li key={i}>{a.name}
                <button type="button" class="status-close" aria-label={`Remove ${a.name}`} onClick={() => setAttachments((as) => as.filter((_, j) => j !== i))}>×</button>
              </li>
            ))}
          </ul>
        ) : null}
        <ErrorNote error={refusal} />
        <div class="row spread">
          <Field label="Attach images or text files" hint="Images up to 5 MB (for models that take images), text files up to 200 KB.">
            <input type="file" multiple accept="image/png,image/jpeg,image/gif,image/webp,text/*,.md,.json,.csv,.yaml,.yml,.ts,.js,.py" onChange={(e) => { void attach(e.currentTarget.files); e.currentTarget.value = ''; }} />
          </Field>
          <Button type="submit" kind="primary">Send</Button>
        </div>
      </form>
    </section>
  );
}
