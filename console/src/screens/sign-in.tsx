import { useState } from 'preact/hooks';
import { session, type SessionInfo } from '../api.ts';
import { Button, ErrorNote, Field, useAction } from '../ui.tsx';

export function SignIn({ onSignedIn }: { onSignedIn: (info: SessionInfo) => void }) {
  const [apiKey, setApiKey] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const info = await action.run('Signing in', () => session.signIn(apiKey), 'Signed in.');
    if (info) onSignedIn(info);
  };
  return (
    <main class="signin" id="signin">
      <form onSubmit={(e) => void submit(e)} aria-describedby="signin-help">
        <h1 tabIndex={-1}>Sign in to Tollgate</h1>
        <p id="signin-help">
          Use a control-plane API key: the one set by <code>TOLLGATE_BOOTSTRAP_API_KEY</code>, printed at first start,
          or made under Credits &amp; settings. The key stays on the server; your browser only gets a session cookie.
        </p>
        <Field label="API key">
          <input type="password" name="apiKey" autoComplete="off" required value={apiKey}
            onInput={(e) => setApiKey(e.currentTarget.value)} aria-invalid={action.error ? 'true' : undefined} />
        </Field>
        <ErrorNote error={action.error ? `Sign-in failed: ${action.error}` : undefined} />
        <Button type="submit" kind="primary" busy={action.busy}>Sign in</Button>
      </form>
    </main>
  );
}
