// Small shared pieces: the polite status region every action reports to, the action runner that shows
// progress and outcome, labelled fields, confirmations, copy-once secrets and scrollable tables.
import { cloneElement, type ButtonHTMLAttributes, type ComponentChildren, type ComponentType, type RefObject, type VNode } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, deletedText, deleteResource, listAll } from './api.ts';
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
  // The bar's height, for the page's scroll-padding (styles.css): a control that gets the focus near the window's
  // bottom is scrolled into view above the bar, not under it.
  const boxRef = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const fit = () => document.documentElement.style.setProperty('--status-height', `${status.text ? box.offsetHeight : 0}px`);
    const observer = new ResizeObserver(fit);
    observer.observe(box);
    fit();
    return () => observer.disconnect();
  }, [status.text]);
  // The live region stays in the document (and in the accessibility tree) while idle: one that appears along
  // with its text is not reliably announced. The close button sits outside it so it is not read with every message.
  return (
    <div ref={boxRef} class={`status status-${status.tone}${status.text ? '' : ' status-idle'}`} data-testid="status">
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
  /** The request field the API blamed (its details.field), so the form can show the error at that field. */
  field: string | undefined;
  /** The API's HTTP status for the error (0: the server was not reached); undefined for an error of the page's own. */
  status: number | undefined;
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
  const [field, setField] = useState<string | undefined>();
  const [status, setStatus] = useState<number | undefined>();
  return {
    busy,
    error,
    field,
    status,
    clear: () => { setError(undefined); setField(undefined); setStatus(undefined); },
    async run(label, fn, success) {
      // What started the action (a form's submit button, as a rule): see focusRefusedField.
      const from = document.activeElement;
      setBusy(true);
      setError(undefined);
      setField(undefined);
      setStatus(undefined);
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
        const blamed = e instanceof ApiError ? e.details.field : undefined;
        setField(blamed);
        setStatus(e instanceof ApiError ? e.status : undefined);
        announce(`${label} failed: ${text}`, 'error', !inline);
        if (blamed !== undefined) focusRefusedField(from);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
  };
}

/**
 * The API refused one field of the form `from` (its submit button) belongs to: once the render that marks the
 * field invalid is done, the focus moves from the button to that field, as it does for a field the browser's own
 * checks refuse — keyboard users land on what to fix instead of pressing Save again. Not when the focus moved on.
 */
function focusRefusedField(from: Element | null): void {
  if (!(from instanceof HTMLElement)) return;
  setTimeout(() => {
    if (document.activeElement !== from) return;
    from.closest('form')?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  });
}

/** What the user calls an item: its name, or its label where the resource has one instead (MCP servers). */
type Titled = { id: string } & ({ name: string } | { label: string });
const titleOf = (item: Titled): string => ('name' in item ? item.name : item.label);

/**
 * A collection's list screen: every item read once (`key` is the list envelope's), and a delete that drops the row.
 * `one` names an item in messages ("virtual model"), `many` the collection ("virtual models").
 */
export function useResourceList<T extends Titled>(path: string, key: string, one: string, many: string) {
  const [items, setItems] = useState<T[] | undefined>();
  const load = useAction();
  const remove = useAction();
  useEffect(() => {
    void load.run(`Loading ${many}`, () => listAll<T>(path, key), '').then((l) => l && setItems(l));
  }, []);
  const del = async (item: T) => {
    const done = await remove.run(`Deleting ${one} ${titleOf(item)}`, () => deleteResource(`${path}/${item.id}`), deletedText(`${one[0]!.toUpperCase()}${one.slice(1)}`));
    if (done) setItems((old) => old?.filter((o) => o.id !== item.id));
  };
  return { items, load, remove, del };
}

/** A collection's route: its list (no id), a new item's editor (`new`) or an item's, a fresh editor for each. */
export function ListOrEditor({ id, list: List, editor: Editor }: { id: string | undefined; list: ComponentType; editor: ComponentType<{ id: string | undefined }> }) {
  if (id === undefined) return <List />;
  return <Editor key={id} id={id === 'new' ? undefined : id} />;
}

/** An editor's Save button and its Cancel, back to the collection's list (`route`). */
export function FormActions({ busy, save, route }: { busy: boolean; save: string; route: string }) {
  return (
    <div class="row form-actions">
      <Button type="submit" kind="primary" busy={busy}>{save}</Button>
      <a href={`#/${route}`}>Cancel</a>
    </div>
  );
}

/** The action's error if the API tied it to `field`: give it to that field's Field. */
export function fieldError(action: Action, field: string): string | undefined {
  return action.field === field ? action.error : undefined;
}

/** The action's error unless it is shown at one of the form's `fields` (fieldError): for the form's own ErrorNote. */
export function formError(action: Action, fields: readonly string[]): string | undefined {
  return action.field !== undefined && fields.includes(action.field) ? undefined : action.error;
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
  // A required control says so on sight too; screen readers hear it from the attribute, so the mark is hidden from them.
  const required = Boolean(children.props.required) || children.props['aria-required'] === 'true';
  return (
    <div class="field">
      <span class="field-head">
        <label class="field-label" for={id}>{label}</label>
        {required ? <span class="required" aria-hidden="true">required</span> : null}
      </span>
      {cloneElement(children, { id, 'aria-describedby': describedBy, ...(error ? { 'aria-invalid': 'true' } : {}) })}
      {hint ? <small class="hint" id={hintId}>{hint}</small> : null}
      {error ? <ErrorNote id={errorId} error={error} /> : null}
    </div>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: 'primary' | 'danger' | 'plain' };
export function Button({ busy, kind = 'plain', children, disabled, type, onClick, ...rest }: ButtonProps) {
  // Busy is not `disabled`: disabling the focused button drops the focus to <body>, and keyboard and screen-reader
  // users lose their place. It ignores clicks instead; cancelling the click also stops a submit button's form
  // from being sent again (Enter in a field clicks it too).
  const click: typeof onClick = (e) => {
    if (busy) e.preventDefault();
    else onClick?.(e);
  };
  return (
    <button {...rest} type={type ?? 'button'} class={`btn btn-${kind}`} disabled={disabled} onClick={click}
      aria-disabled={busy ? 'true' : undefined} aria-busy={busy ? 'true' : undefined}>
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/**
 * When `ref`'s element leaves the page holding the focus (its item deleted, its form closed), the focus goes to the
 * first of `candidates` still on the page once that render is done, instead of dropping to <body>, where keyboard
 * and screen-reader users lose their place. The candidates are found while the element is still there.
 */
export function useFocusOnRemoval(ref: RefObject<Element | null>, candidates: (el: Element) => Array<Element | null | undefined>): void {
  const latest = useRef(candidates);
  latest.current = candidates;
  // A layout effect's cleanup runs before the element is taken out, while it still holds the focus.
  useLayoutEffect(() => () => {
    const el = ref.current;
    if (!el?.contains(document.activeElement)) return;
    const targets = latest.current(el);
    // Queued now, it runs once the render that removes the element has finished.
    queueMicrotask(() => {
      const active = document.activeElement;
      if (active && active !== document.body) return; // something else has placed the focus already
      const target = targets.find((t) => t?.isConnected);
      if (target instanceof HTMLElement) {
        // A heading is not focusable by itself; -1 keeps it out of the Tab order.
        if (target.tabIndex < 0 && !target.hasAttribute('tabindex')) target.tabIndex = -1;
        target.focus();
      }
    });
  }, []);
}

/** `selector` in the nearest sibling of `item` (after it, else before it) that has one. */
function nearSibling(item: Element | null, selector: string): Element | undefined {
  for (const step of ['nextElementSibling', 'previousElementSibling'] as const) {
    for (let s = item?.[step]; s; s = s[step]) {
      const found = s.querySelector(selector);
      if (found) return found;
    }
  }
  return undefined;
}

/** A list as a whole, to take the focus from a control that left it: its tab panel, else its section's heading. */
function listHeading(el: Element): Element | null | undefined {
  const panel = el.closest('[role="tabpanel"]');
  if (panel) return panel;
  const labelledBy = el.closest('section[aria-labelledby]')?.getAttribute('aria-labelledby');
  return labelledBy ? document.getElementById(labelledBy) : undefined;
}

/** After the item at `index` left `list`: `selector` in the item now at that place, else in the one before it. */
export function neighbour(list: Element | null | undefined, index: number, selector: string): HTMLElement | null | undefined {
  const items = list?.children;
  return (items?.[index] ?? items?.[index - 1])?.querySelector<HTMLElement>(selector);
}

/**
 * An inline form opened by a button (Edit, Rotate): Escape cancels it, and once it closes (saved or cancelled) the
 * focus goes back to that button. Spread the result on the <form>.
 */
export function useInlineForm(onCancel: () => void): { ref: RefObject<HTMLFormElement | null>; onKeyDown: (e: KeyboardEvent) => void } {
  const ref = useRef<HTMLFormElement>(null);
  // The button that opened the form has the focus as the form appears (clicked, or Enter on it).
  const opener = useRef<Element | null>(null);
  useLayoutEffect(() => { opener.current = document.activeElement; }, []);
  useFocusOnRemoval(ref, () => [opener.current]);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    e.preventDefault(); // so the status bar's Escape handler leaves its message alone
    onCancel();
  };
  return { ref, onKeyDown };
}

/** A destructive action that asks first, inline, so keyboard and screen-reader users get the same question. */
export function ConfirmButton({ label, question, onConfirm, busy }: { label: string; question: string; onConfirm: () => void; busy?: boolean }) {
  const [asking, setAsking] = useState(false);
  const wrapRef = useRef<HTMLSpanElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  // Deleted: the focus goes to the same button in the next item (else the previous one), else to the list itself.
  useFocusOnRemoval(wrapRef, (el) => [nearSibling(el.closest('tr, li, article'), '.confirm-wrap > button'), listHeading(el)]);
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
  return next ? <LoadMoreButton busy={busy} onLoad={onLoad} /> : null;
}

function LoadMoreButton({ busy, onLoad }: { busy: boolean; onLoad: () => void }) {
  const ref = useRef<HTMLParagraphElement>(null);
  // Gone once the last page is in: the focus goes to the list it extended (a focusable TableWrap).
  useFocusOnRemoval(ref, (el) => [el.closest('section')?.querySelector('.table-wrap'), listHeading(el)]);
  return <p ref={ref}><Button busy={busy} onClick={onLoad}>Load more</Button></p>;
}

export function Loading({ busy }: { busy: boolean }) {
  return busy ? <p class="muted" aria-busy="true">Loading…</p> : null;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/**
 * A screen's <h1>. The shell focuses it after each route change; one that replaces another on the same route (the
 * loaded page after its "Loading" heading) takes the focus when the old one's removal dropped it to <body>.
 */
export function PageHeading({ id, children }: { id?: string; children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    const active = document.activeElement;
    if (!active || active === document.body) ref.current?.focus();
  }, []);
  return <h1 id={id} ref={ref} tabIndex={-1}>{children}</h1>;
}

/** Focuses the element with id `target` (give it tabindex -1) instead of following the link: the hash holds the route. */
export function SkipLink({ target, children }: { target: string; children: ComponentChildren }) {
  const skip = (e: MouseEvent) => {
    e.preventDefault();
    document.getElementById(target)?.focus();
  };
  return <a class="skip" href={`#${target}`} onClick={skip}>{children}</a>;
}
