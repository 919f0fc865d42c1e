import { useEffect, useRef, useState } from 'preact/hooks';
import { session, type SessionInfo } from '../api.ts';
import { Button, Field, useAction } from '../ui.tsx';

/** `focusField`: shown after signing out, so the focus (on a control that is gone) goes to the key field. */
export function SignIn({ onSignedIn, focusField = false }: { onSignedIn: (info: SessionInfo) => void; focusField?: boolean }) {
  const [apiKey, setApiKey] = useState('');
  const action = useAction();
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => { if (focusField) inputRef.current?.focus(); }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const info = await action.run('Signing in', () => session.signIn(apiKey), 'Signed in.');
    if (info) onSignedIn(info);
  };
  return (
    <main class="signin" id="signin" tabIndex={-1}>
      <form onSubmit={(e) => void submit(e)} aria-describedby="signin-help">
        <h1 tabIndex={-1}>Sign in to Tollgate</h1>
        <p id="signin-help">
          Use a control-plane API key: the one set by <code>TOLLGATE_BOOTSTRAP_API_KEY</code>, printed at first start,
          or made under Credits &amp; settings. The key stays on the server; your browser only gets a session cookie.
        </p>
        {/* The error under the field marks it invalid and describes it, so it is read again on returning to it. */}
        <Field label="API key" error={action.error ? `Sign-in failed: ${action.error}` : undefined}>
          <input ref={inputRef} type="password" name="apiKey" autoComplete="off" required value={apiKey}
            onInput={(e) => setApiKey(e.currentTarget.value)} />
        </Field>
        <Button type="submit" kind="primary" busy={action.busy}>Sign in</Button>
      </form>
    </main>
  );
}
