// Small shared pieces: the polite status region every action reports to, the action runner that shows
// progress and outcome, labelled fields, confirmations, copy-once secrets and scrollable tables.
import { cloneElement, type ButtonHTMLAttributes, type ComponentChildren, type VNode } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { RESOURCE_ID, withNames } from './names.ts';

type Tone = 'info' | 'ok' | 'error';
/** `spoken` false: the text is also shown inline (an ErrorNote, role=alert), which screen readers already announce. */
interface Status { text: string; tone: Tone; at: number; spoken: boolean }
let current: Status = { text: '', tone: 'info', at: 0, spoken: true };
const listeners = new Set<(s: Status) => void>();

/** Tells screen-reader users (aria-live) and everyone else (the status bar) what just happened. */
export function announce(text: string, tone: Tone = 'info', spoken = true): void {
  current = { text, tone, at: Date.now(), spoken };
  for (const l of listeners) l(current);
}

export function StatusRegion() {
  const [status, setStatus] = useState(current);
  useEffect(() => { listeners.add(setStatus); return () => { listeners.delete(setStatus); }; }, []);
  const dismiss = () => setStatus((s) => ({ ...s, text: '' }));
  // Outcomes fade after a while so a stale "saved" never sits beside the next screen; errors stay longer.
  useEffect(() => {
    if (!status.text) return;
    const timer = setTimeout(dismiss, status.tone === 'error' ? 15_000 : 6_000);
    return () => clearTimeout(timer);
  }, [status.at]);
  // Escape closes the message, unless something nearer the focus (an inline confirmation) used the key.
  useEffect(() => {
    if (!status.text) return;
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape' && !e.defaultPrevented) dismiss(); };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [status.at, status.text]);
  // The live region stays in the document (and in the accessibility tree) while idle: one that appears along
  // with its text is not reliably announced. The close button sits outside it so it is not read with every message.
  return (
    <div class={`status status-${status.tone}${status.text ? '' : ' status-idle'}`} data-testid="status">
      <p class="status-text" role="status" aria-live="polite" aria-atomic="true">
        {status.text ? <span aria-hidden={status.spoken ? undefined : 'true'}><IdText text={status.text} /></span> : null}
      </p>
      {status.text ? <button type="button" class="status-close" aria-label="Dismiss message" onClick={dismiss}>×</button> : null}
    </div>
  );
}

/** Text with resource ids (kept after their names, see names.ts) set apart as secondary, monospaced text. */
export function IdText({ text }: { text: string }) {
  const parts = text.split(new RegExp(`(${RESOURCE_ID.source})`, 'g'));
  if (parts.length === 1) return <>{text}</>;
  return <>{parts.map((p, i) => (i % 2 === 1 ? <span key={i} class="mono id">{p}</span> : p))}</>;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.explanation;
  return e instanceof Error ? e.message : String(e);
}

export interface Action {
  busy: boolean;
  error: string | undefined;
  /**
   * Runs fn, announcing "label…" then the success text or the error; resolves to fn's result or undefined.
   * An empty success text marks a background read: only its failure is announced, so loading the next
   * screen never talks over the outcome of the action that led there.
   */
  run<T>(label: string, fn: () => Promise<T>, success: string | ((r: T) => string)): Promise<T | undefined>;
  clear(): void;
}

/**
 * `inline`: the caller shows `error` next to the form (ErrorNote), so the status bar shows a failure without
 * announcing it a second time.
 */
export function useAction(inline = true): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  return {
    busy,
    error,
    clear: () => setError(undefined),
    async run(label, fn, success) {
      setBusy(true);
      setError(undefined);
      const quiet = success === '';
      if (!quiet) announce(`${label}…`);
      try {
        const result = await fn();
        if (!quiet) announce(typeof success === 'function' ? success(result) : success, 'ok');
        return result;
      } catch (e) {
        // Ids in the message ("in use by aigk_…") are given the names the user knows them by.
        const text = await withNames(errorText(e));
        setError(text);
        announce(`${label} failed: ${text}`, 'error', !inline);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
  };
}

export function ErrorNote({ error, id }: { error: string | undefined; id?: string }) {
  if (!error) return null;
  return <p class="error-note" role="alert" id={id}><IdText text={error} /></p>;
}

/**
 * A label tied to its control by for/id (not by wrapping), so the control's accessible name is exactly the
 * label text and the hint is read as its description. An error is shown under the control, marks it invalid
 * and is read as part of its description.
 */
export function Field({ label, hint, error, children }: { label: string; hint?: ComponentChildren; error?: string; children: VNode<Record<string, unknown>> }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label class="field-label" for={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': describedBy, ...(error ? { 'aria-invalid': 'true' } : {}) })}
      {hint ? <small class="hint" id={hintId}>{hint}</small> : null}
      {error ? <ErrorNote id={errorId} error={error} /> : null}
    </div>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: 'primary' | 'danger' | 'plain' };
export function Button({ busy, kind = 'plain', children, disabled, type, ...rest }: ButtonProps) {
  return (
    <button {...rest} type={type ?? 'button'} class={`btn btn-${kind}`} disabled={Boolean(disabled) || busy} aria-busy={busy ? 'true' : undefined}>
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/** A destructive action that asks first, inline, so keyboard and screen-reader users get the same question. */
export function ConfirmButton({ label, question, onConfirm, busy }: { label: string; question: string; onConfirm: () => void; busy?: boolean }) {
  const [asking, setAsking] = useState(false);
  const wrapRef = useRef<HTMLSpanElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  // Layout effects move the focus right after the change is on the page, before a key pressed meanwhile lands on <body>.
  useLayoutEffect(() => {
    if (asking) confirmRef.current?.focus();
    // Cancelled (or confirmed): focus goes back to the button that asked, not to the page's <body>.
    else if (wasAsking.current) wrapRef.current?.querySelector('button')?.focus();
    wasAsking.current = asking;
  }, [asking]);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    e.preventDefault(); // so the status bar's Escape handler leaves its message alone
    setAsking(false);
  };
  return (
    <span ref={wrapRef} class="confirm-wrap">
      {!asking ? <Button kind="danger" busy={busy} onClick={() => setAsking(true)}>{label}</Button> : (
        <span class="confirm" role="group" aria-label={question} onKeyDown={onKeyDown}>
          <span>{question}</span>
          <button ref={confirmRef} type="button" class="btn btn-danger" onClick={() => { setAsking(false); onConfirm(); }}>Yes, {label.toLowerCase()}</button>
          <button type="button" class="btn btn-plain" onClick={() => setAsking(false)}>Cancel</button>
        </span>
      )}
    </span>
  );
}

export function CopyButton({ text, what }: { text: string; what: string }) {
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce(`${what} copied to the clipboard.`, 'ok');
    } catch {
      announce(`Could not reach the clipboard: select the ${what.toLowerCase()} and copy it by hand.`, 'error');
    }
  };
  return <Button onClick={() => void copy()}>Copy</Button>;
}

/** A freshly minted secret: shown once, copyable, with a plain warning that it will not come back. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const ref = useRef<HTMLInputElement>(null);
  const sectionRef = useRef<HTMLElement>(null);
  useEffect(() => { ref.current?.focus(); ref.current?.select(); }, []);
  const done = () => {
    // The screens show their create form in this panel's place once it is dismissed: focus moves to that form's
    // first control rather than dropping to <body> with the removed button.
    const section = sectionRef.current;
    const parent = section?.parentElement;
    const at = parent && section ? [...parent.children].indexOf(section) : -1;
    onDone();
    setTimeout(() => {
      const next = at >= 0 ? parent?.children[at] : undefined;
      next?.querySelector<HTMLElement>('input, select, textarea, button')?.focus();
    }, 0);
  };
  return (
    <section ref={sectionRef} class="secret-once" aria-label={label}>
      <p><strong>Copy this token now: you will not see it again.</strong> Tollgate keeps only a hash of it.</p>
      <div class="row">
        <Field label={label}>
          <input ref={ref} readOnly value={value} class="mono" data-testid="new-secret" onFocus={(e) => e.currentTarget.select()} />
        </Field>
        <CopyButton text={value} what={label} />
        <Button onClick={done}>I have saved it</Button>
      </div>
    </section>
  );
}

/**
 * After a list is reordered, the moved item's button (or, once it reached the end and that button is
 * disabled, its opposite) keeps the focus. `find` runs after the next render.
 */
export function useFocusAfterRender(): (find: () => HTMLElement | null | undefined) => void {
  const pending = useRef<(() => HTMLElement | null | undefined) | undefined>(undefined);
  useLayoutEffect(() => {
    const find = pending.current;
    pending.current = undefined;
    find?.()?.focus();
  });
  return (find) => { pending.current = find; };
}

/** In `root`, the button matching `preferred` if it is enabled, else the one matching `fallback`. */
export function enabledButton(root: Element | null | undefined, preferred: string, fallback: string): HTMLElement | null | undefined {
  const first = root?.querySelector<HTMLButtonElement>(preferred);
  return first && !first.disabled ? first : root?.querySelector<HTMLButtonElement>(fallback);
}

export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  // Focusable so keyboard users can scroll wide tables sideways on a phone.
  return <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>{children}</div>;
}

export function LoadMore({ next, busy, onLoad }: { next: string | null | undefined; busy: boolean; onLoad: () => void }) {
  if (!next) return null;
  return <p><Button busy={busy} onClick={onLoad}>Load more</Button></p>;
}

export function Loading({ busy }: { busy: boolean }) {
  return busy ? <p class="muted" aria-busy="true">Loading…</p> : null;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
