// The Stripe SDK client for this server, or a 501 naming the missing setting. TOLLGATE_STRIPE_API_BASE_URL
// points the SDK at another host (a local fake in tests, stripe-mock in development). The SDK is imported on
// first use only: it adds ~35 MB to a process, and most deployments never take payments.
import type Stripe from 'stripe';
import type { Config } from '../config/config.ts';
import { Errors, TollgateError } from '../domain/errors.ts';

export const STRIPE_SECRET_SETTING = 'TOLLGATE_STRIPE_SECRET_KEY';
export const STRIPE_WEBHOOK_SETTING = 'TOLLGATE_STRIPE_WEBHOOK_SECRET';

function endpoint(base: string): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  const url = new URL(base);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}

let sdk: Promise<typeof import('stripe').default> | undefined;

/** The SDK's constructor (with its static helpers, e.g. webhooks), loaded once. */
export function stripeSdk(): Promise<typeof import('stripe').default> {
  sdk ??= import('stripe').then((m) => m.default);
  return sdk;
}

const clients = new WeakMap<Config, Promise<Stripe | undefined>>();

/** This server's client (one per configuration, made on first use and shared by the handlers and the webhook). */
export function stripeClient(config: Config): Promise<Stripe | undefined> {
  let client = clients.get(config);
  if (!client) {
    client = createStripeClient(config);
    clients.set(config, client);
  }
  return client;
}

async function createStripeClient(config: Config): Promise<Stripe | undefined> {
  if (!config.stripeSecretKey) return undefined;
  const StripeSdk = await stripeSdk();
  return new StripeSdk(config.stripeSecretKey, {
    ...(config.stripeApiBaseUrl ? endpoint(config.stripeApiBaseUrl) : {}),
    maxNetworkRetries: 1,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'tollgate' },
  });
}

export function stripeNotConfigured(setting: string): TollgateError {
  return new TollgateError(Errors.stripeNotConfigured, { setting });
}

/** Any SDK failure other than a card decline: Stripe is unreachable or refused the call. */
export function stripeFailure(err: unknown): TollgateError {
  const message = err instanceof Error ? err.message : String(err);
  return new TollgateError(Errors.upstreamServiceError, { reason: `Stripe: ${message}` });
}
