// Every control-plane resource module, in one list the app binds to the contract's operations.
import type { HandlerFactory, RouteExtension } from './app.ts';
import { accessKeyHandlers } from './access-keys.ts';
import { configurationHandlers } from './configurations.ts';
import { providerKeyHandlers } from './provider-keys.ts';
import { providerHandlers } from './providers.ts';
import { consoleExtension } from './console.ts';

export const handlerFactories: HandlerFactory[] = [accessKeyHandlers, configurationHandlers, providerKeyHandlers, providerHandlers];
export const routeExtensions: RouteExtension[] = [consoleExtension];
