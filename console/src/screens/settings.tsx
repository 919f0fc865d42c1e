import type { SessionInfo } from '../api.ts';
import { ApiKeys } from './api-keys.tsx';
import { Credits } from './credits.tsx';
import { GatewaySettings } from './gateway-settings.tsx';
import { PageHeading } from '../ui.tsx';

export function SettingsScreen({ me, onSessionGone }: { me: SessionInfo; onSessionGone: () => void }) {
  return (
    <section aria-labelledby="settings-title">
      <PageHeading id="settings-title">Credits &amp; settings</PageHeading>
      <Credits paymentsConfigured={me.paymentsConfigured} />
      <GatewaySettings />
      <ApiKeys currentKeyId={me.apiKeyId} onSessionGone={onSessionGone} />
    </section>
  );
}
