// Every control-plane resource module, in one list the app binds to the contract's operations.
import type { HandlerFactory, RouteExtension } from './app.ts';
import { accessKeyHandlers } from './access-keys.ts';
import { configurationHandlers } from './configurations.ts';
import { providerKeyHandlers } from './provider-keys.ts';
import { providerHandlers } from './providers.ts';
import { consoleExtension } from './console.ts';
import { apiKeyHandlers } from './api-keys.ts';
import { gatewayConfigHandlers } from './gateway-config.ts';
import { creditHandlers } from './credits.ts';
import { usageHandlers } from './usage.ts';
import { modelHandlers } from './models.ts';
import { stripeWebhookRoutes } from './stripe-webhook.ts';
import { virtualModelHandlers } from './virtual-models.ts';
import { firewallPolicyHandlers } from './firewall-policies.ts';
import { mcpServerHandlers } from './mcp-servers.ts';
import { controlMcpServer } from './mcp-server.ts';

export const handlerFactories: HandlerFactory[] = [accessKeyHandlers, configurationHandlers, providerKeyHandlers, providerHandlers,
  apiKeyHandlers, gatewayConfigHandlers, creditHandlers, usageHandlers, modelHandlers, virtualModelHandlers,
  firewallPolicyHandlers, mcpServerHandlers];
export const routeExtensions: RouteExtension[] = [consoleExtension, stripeWebhookRoutes, controlMcpServer];
