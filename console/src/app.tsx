// The shell: sign-in gate, navigation and a hash router. Hash routes (#/keys) keep every console URL
// clear of the JSON API's own paths (/access-keys, /providers, ...) served by the same port.
import { useEffect, useRef, useState } from 'preact/hooks';
import { session, setCsrfToken, whenSignedOut, type SessionInfo } from './api.ts';
import { announce, Button, PageHeading, SkipLink, StatusRegion, useAction } from './ui.tsx';
import { SignIn } from './screens/sign-in.tsx';
import { KeysScreen } from './screens/keys.tsx';
import { ConfigurationsScreen } from './screens/configurations.tsx';
import { ProvidersScreen } from './screens/providers.tsx';
import { VirtualModelsScreen } from './screens/virtual-models.tsx';
import { FirewallScreen } from './screens/firewall.tsx';
import { McpServersScreen } from './screens/mcp-servers.tsx';
import { LogsScreen } from './screens/logs.tsx';
import { PlaygroundScreen } from './screens/playground.tsx';
import { UsageScreen } from './screens/usage.tsx';
import { SettingsScreen } from './screens/settings.tsx';
import { routeOf } from './nav.ts';

const NAV = [
  { route: 'keys', label: 'Access keys' },
  { route: 'playground', label: 'Playground' },
  { route: 'configurations', label: 'Configurations' },
  { route: 'providers', label: 'Providers' },
  { route: 'virtual-models', label: 'Virtual models' },
  { route: 'firewall', label: 'Firewall' },
  { route: 'mcp-servers', label: 'MCP servers' },
  { route: 'logs', label: 'Logs' },
  { route: 'usage', label: 'Usage' },
  { route: 'settings', label: 'Credits & settings' },
] as const;

function currentRoute(): string[] {
  return routeOf(location.hash) ?? ['keys'];
}

/** A route no screen serves (a mistyped or an old bookmark): said so, not shown as Access keys. */
const isKnown = (head: string | undefined): boolean => NAV.some((n) => n.route === head);

function titleOf(route: string[]): string {
  return `${isKnown(route[0]) ? NAV.find((n) => n.route === route[0])!.label : 'Page not found'} · Tollgate`;
}

function NotFoundScreen({ path }: { path: string }) {
  return (
    <section aria-labelledby="not-found-title">
      <PageHeading id="not-found-title">Page not found</PageHeading>
      <p class="lead">The console has no page <code>#/{path}</code>. Its pages:</p>
      <ul>{NAV.map((n) => <li key={n.route}><a href={`#/${n.route}`}>{n.label}</a></li>)}</ul>
    </section>
  );
}

function Screen({ route, me, onSessionGone }: { route: string[]; me: SessionInfo; onSessionGone: () => void }) {
  const [head, ...rest] = route;
  switch (head) {
    case 'configurations': return <ConfigurationsScreen id={rest[0]} />;
    case 'providers': return <ProvidersScreen />;
    case 'virtual-models': return <VirtualModelsScreen id={rest[0]} />;
    case 'firewall': return <FirewallScreen id={rest[0]} />;
    case 'mcp-servers': return <McpServersScreen id={rest[0]} />;
    case 'playground': return <PlaygroundScreen />;
    case 'logs': return <LogsScreen requestId={rest[0]} />;
    case 'usage': return <UsageScreen />;
    case 'settings': return <SettingsScreen me={me} onSessionGone={onSessionGone} />;
    case 'keys': return <KeysScreen />;
    default: return <NotFoundScreen path={route.join('/')} />;
  }
}

export function App() {
  const [me, setMe] = useState<SessionInfo | null | undefined>(undefined);
  const [route, setRoute] = useState(currentRoute);
  const mainRef = useRef<HTMLElement>(null);
  // Sign-out has no form to show its error next to: the status bar announces it.
  const signOut = useAction(false);

  useEffect(() => {
    whenSignedOut(() => { setMe(null); announce('Your session ended. Sign in again.', 'error'); });
    void session.resume().then((info) => setMe(info ?? null));
    // Stripe Checkout returns to /?checkout=success|cancel (TOLLGATE_CHECKOUT_*_URL defaults).
    const checkout = new URLSearchParams(location.search).get('checkout');
    if (checkout) {
      history.replaceState(null, '', '/#/settings');
      setRoute(currentRoute());
      announce(checkout === 'success' ? 'Payment received: the credits appear once Stripe confirms it.' : 'Checkout cancelled; nothing was charged.', checkout === 'success' ? 'ok' : 'info');
    }
    const onHash = () => { const next = routeOf(location.hash); if (next) setRoute(next); };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  // Move focus to the new screen's heading so screen readers announce the page change: between sections and
  // within one (the configuration list and an editor), where the link that was followed is gone.
  const path = route.join('/');
  useEffect(() => { mainRef.current?.querySelector('h1')?.focus(); }, [path, me?.apiKeyId]);
  // The window's title is what a screen reader reads first when switching windows or tabs, and what history shows.
  useEffect(() => { document.title = me ? titleOf(route) : 'Sign in · Tollgate'; }, [path, Boolean(me)]);
  // Signed out (by the button, a deleted key or an expired session): the focus goes to the key field, not <body>.
  const wasSignedIn = useRef(false);
  if (me) wasSignedIn.current = true;

  if (me === undefined) return <p class="loading" role="status">Loading…</p>;
  if (me === null) {
    return (
      <>
        <SkipLink target="signin">Skip to sign in</SkipLink>
        <SignIn onSignedIn={setMe} focusField={wasSignedIn.current} />
        <StatusRegion />
      </>
    );
  }

  // The API key this session signed in with was deleted: the server has ended the session, so the page
  // goes back to sign-in now rather than at the next request's 401.
  const sessionGone = () => {
    setCsrfToken(undefined);
    setMe(null);
    announce('API key deleted. This session used it, so you are signed out.', 'ok');
  };

  const doSignOut = async () => {
    const done = await signOut.run('Signing out', async () => { await session.signOut(); return true; }, 'Signed out.');
    if (done) setMe(null);
  };

  return (
    <div class="shell">
      <SkipLink target="main">Skip to content</SkipLink>
      <header class="topbar">
        <span class="brand">Tollgate</span>
        <nav aria-label="Console sections">
          <ul>
            {NAV.map((n) => (
              <li key={n.route}>
                <a href={`#/${n.route}`} aria-current={route[0] === n.route ? 'page' : undefined}>{n.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <Button busy={signOut.busy} onClick={() => void doSignOut()}>Sign out</Button>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Screen route={route} me={me} onSessionGone={sessionGone} />
      </main>
      <StatusRegion />
    </div>
  );
}
