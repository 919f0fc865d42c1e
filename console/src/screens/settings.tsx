import type { SessionInfo } from '../api.ts';
import { ApiKeys } from './api-keys.tsx';
import { Credits } from './credits.tsx';
import { GatewaySettings } from './gateway-settings.tsx';

export function SettingsScreen({ me, onSessionGone }: { me: SessionInfo; onSessionGone: () => void }) {
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title" tabIndex={-1}>Credits &amp; settings</h1>
      <Credits paymentsConfigured={me.paymentsConfigured} />
      <GatewaySettings />
      <ApiKeys currentKeyId={me.apiKeyId} onSessionGone={onSessionGone} />
    </section>
  );
}
