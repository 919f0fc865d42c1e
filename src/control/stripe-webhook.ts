// POST /stripe/webhook: Stripe's event delivery. The signature is the authentication (no API key), and it
// is computed over the exact bytes sent, so this route lives in its own plugin whose parser keeps the raw
// body instead of the app-wide JSON parser.
import type Stripe from 'stripe';
import type { FastifyInstance } from 'fastify';
import { Errors, TollgateError } from '../domain/errors.ts';
import type { ControlDeps, RouteExtension } from './app.ts';
import { STRIPE_WEBHOOK_SETTING, stripeNotConfigured, stripeSdk } from './stripe-client.ts';
import { applyStripeEvent } from './stripe-payments.ts';

export const STRIPE_WEBHOOK_PATH = '/stripe/webhook';

async function verify(secret: string, raw: Buffer, signature: string | string[] | undefined): Promise<Stripe.Event> {
  if (typeof signature !== 'string') throw new TollgateError(Errors.validationFailed, { reason: 'Missing Stripe-Signature header.' });
  const StripeSdk = await stripeSdk();
  try {
    return StripeSdk.webhooks.constructEvent(raw, signature, secret);
  } catch (err) {
    throw new TollgateError(Errors.validationFailed, { reason: `Invalid Stripe webhook signature: ${(err as Error).message}` });
  }
}

export const stripeWebhookRoutes: RouteExtension = (app: FastifyInstance, deps: ControlDeps) => {
  void app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scoped.post(STRIPE_WEBHOOK_PATH, async (request, reply) => {
      const secret = deps.config.stripeWebhookSecret;
      if (!secret) throw stripeNotConfigured(STRIPE_WEBHOOK_SETTING);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const event = await verify(secret, raw, request.headers['stripe-signature']);
      await applyStripeEvent(deps, event);
      return reply.code(200).type('application/json').send({ received: true });
    });
  });
};
