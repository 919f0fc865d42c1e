// Small shared pieces: the polite status region every action reports to, the action runner that shows
// progress and outcome, labelled fields, confirmations, copy-once secrets and scrollable tables.
import { cloneElement, type ButtonHTMLAttributes, type ComponentChildren, type VNode } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

type Tone = 'info' | 'ok' | 'error';
interface Status { text: string; tone: Tone; at: number }
let current: Status = { text: '', tone: 'info', at: 0 };
const listeners = new Set<(s: Status) => void>();

/** Tells screen-reader users (aria-live) and everyone else (the status bar) what just happened. */
export function announce(text: string, tone: Tone = 'info'): void {
  current = { text, tone, at: Date.now() };
  for (const l of listeners) l(current);
}

export function StatusRegion() {
  const [status, setStatus] = useState(current);
  useEffect(() => { listeners.add(setStatus); return () => { listeners.delete(setStatus); }; }, []);
  // Outcomes fade after a while so a stale "saved" never sits beside the next screen; errors stay longer.
  useEffect(() => {
    if (!status.text) return;
    const timer = setTimeout(() => setStatus({ ...status, text: '' }), status.tone === 'error' ? 15_000 : 6_000);
    return () => clearTimeout(timer);
  }, [status.at]);
  return (
    <div class={`status status-${status.tone}`} role="status" aria-live="polite" aria-atomic="true" data-testid="status">
      {status.text}
    </div>
  );
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

export function useAction(): Action {
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
        const text = errorText(e);
        setError(text);
        announce(`${label} failed: ${text}`, 'error');
        return undefined;
      } finally {
        setBusy(false);
      }
    },
  };
}

export function ErrorNote({ error, id }: { error: string | undefined; id?: string }) {
  if (!error) return null;
  return <p class="error-note" role="alert" id={id}>{error}</p>;
}

/**
 * A label tied to its control by for/id (not by wrapping), so the control's accessible name is exactly the
 * label text and the hint is read as its description.
 */
export function Field({ label, hint, children }: { label: string; hint?: ComponentChildren; children: VNode<Record<string, unknown>> }) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div class="field">
      <label class="field-label" for={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': hint ? hintId : undefined })}
      {hint ? <small class="hint" id={hintId}>{hint}</small> : null}
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
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => { if (asking) confirmRef.current?.focus(); }, [asking]);
  if (!asking) return <Button kind="danger" busy={busy} onClick={() => setAsking(true)}>{label}</Button>;
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button ref={confirmRef} type="button" class="btn btn-danger" onClick={() => { setAsking(false); onConfirm(); }}>Yes, {label.toLowerCase()}</button>
      <button type="button" class="btn btn-plain" onClick={() => setAsking(false)}>Cancel</button>
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
  useEffect(() => { ref.current?.focus(); ref.current?.select(); }, []);
  return (
    <section class="secret-once" aria-label={label}>
      <p><strong>Copy this token now: you will not see it again.</strong> Tollgate keeps only a hash of it.</p>
      <div class="row">
        <Field label={label}>
          <input ref={ref} readOnly value={value} class="mono" data-testid="new-secret" onFocus={(e) => e.currentTarget.select()} />
        </Field>
        <CopyButton text={value} what={label} />
        <Button onClick={onDone}>I have saved it</Button>
      </div>
    </section>
  );
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
