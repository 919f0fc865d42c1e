// Checks on user-defined providers that need no I/O: the providerId slug, the upstream URL (SSRF
// guard), the declared API surfaces and the model list.
import { isNonPublicHost } from '../domain/public-address.ts';
import type { components } from './spec-types.ts';
import { Errors, TollgateError, echoed } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { isBuiltinProviderId } from '../catalog/providers.ts';
import type { ApiFormat, ApiSurface } from '../catalog/types.ts';

type Surface = components['schemas']['SupportedAPISurface'];
type Model = components['schemas']['AIGatewayProviderModel'];
type ModelWrite = components['schemas']['AIGatewayProviderModelCreate'];

// The slug is the provider part of `provider:model` addresses and appears in URLs and allow lists, so it
// is limited to characters that need no quoting and cannot be confused with the `:` or `/` separators.
const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkProviderSlug(providerId: string): void {
  if (!SLUG.test(providerId)) {
    throw new TollgateError(Errors.validationFailed, { field: 'providerId', reason: `providerId "${providerId}" may contain only letters, digits, ".", "_" and "-", starting with a letter or digit.` });
  }
  if (isBuiltinProviderId(providerId)) throw new TollgateError(Errors.providerIdReserved, { providerId, field: 'providerId' });
}

/** The formats a custom provider may declare: Gemini's native API is Google's alone, Bedrock's Amazon's. */
type CustomFormat = Exclude<ApiFormat, 'gemini' | 'bedrock'>;

const SURFACES: Record<CustomFormat, readonly ApiSurface[]> = {
  openai: ['chat-completions', 'responses', 'completions', 'embeddings'],
  anthropic: ['messages'],
};

export function checkSurfaces(surfaces: readonly Surface[], allowPrivate: boolean): void {
  surfaces.forEach((s, i) => {
    const at = `supportedApiSurfaces.${i}`;
    // A surface's own base URL is held to the provider baseUrl's rules (public, no credentials in it).
    if (s.baseUrl !== undefined) checkBaseUrl(s.baseUrl, allowPrivate, 'baseUrl', `${at}.baseUrl`);
    if (!Object.hasOwn(SURFACES, s.format)) throw new TollgateError(Errors.providerUnknownFormat, { format: s.format, allowed: Object.keys(SURFACES).join(', '), field: `${at}.format` });
    const allowed = SURFACES[s.format as CustomFormat];
    if (s.surface !== undefined && !allowed.includes(s.surface as ApiSurface)) {
      throw new TollgateError(Errors.providerUnknownSurface, { surface: s.surface, format: s.format, allowed: allowed.join(', '), field: `${at}.surface` });
    }
  });
}

/** Query parameter names that carry credentials: `key`, `api_key`, `apiKey`, `access_token`, `token`, `sig`, `secret`, `password`, `auth`… */
const CREDENTIAL_PARAM = /^(?:x[-_])?(?:(?:api|access|auth|subscription)[-_]?)?(?:key|token|secret|password|passwd|sig|signature|auth|authorization|credentials?)$|^code$/i;

/**
 * An absolute http(s) URL without userinfo. Unless the operator allows private upstreams, it must be `https:`
 * and must not name a non-public address literal or localhost. Host names are not resolved here: DNS answers
 * change, so the gateway checks every resolved address when it connects (src/domain/public-address.ts).
 * `field` names the URL in the answers (an MCP server's `upstreamUrl` is checked here too), `path` where the body holds
 * it (a surface's own `baseUrl` is `supportedApiSurfaces.N.baseUrl`); `hostRefused` is the family's error for a host
 * that is not permitted (a custom provider's is 27718).
 */
export function checkBaseUrl(baseUrl: string, allowPrivate: boolean, field = 'baseUrl', path = field,
  hostRefused: (reason: string) => TollgateError = (reason) => new TollgateError(Errors.providerHostNotAllowed, { reason, field: path })): void {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    // Echoed to help find the typo, unless it may hold a password (`https://user:secret@` with no host).
    const shown = baseUrl.includes('@') ? field : `${field} "${echoed(baseUrl)}"`;
    throw new TollgateError(Errors.validationFailed, { field: path, reason: `${shown} is not an absolute URL.` });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TollgateError(Errors.validationFailed, { field: path, reason: `${field} must use http or https, not "${url.protocol}".` });
  }
  // The providers table is not encrypted (provider keys are) and the gateway does not send userinfo upstream,
  // so a `user:pass@` would sit in plain text and silently not authenticate. The URL is not echoed.
  if (url.username !== '' || url.password !== '') {
    throw new TollgateError(Errors.validationFailed, { field: path, reason: `${field} must not contain credentials (user:password@): put them in a provider key, not the URL.` });
  }
  // Same for a key in the query string (Google's `?key=`, a signed URL's `sig=`): shown by every GET and stored
  // in plain text. Ordinary parameters (`api-version`) stay. The value is not echoed.
  for (const name of url.searchParams.keys()) {
    if (CREDENTIAL_PARAM.test(name)) {
      throw new TollgateError(Errors.validationFailed, { field: path, reason: `${field} must not carry a credential in its query ("${name.slice(0, 64)}"): put it in a provider key, not the URL.` });
    }
  }
  if (allowPrivate) return;
  if (url.protocol !== 'https:') throw hostRefused('https is required.');
  if (isNonPublicHost(url.hostname)) throw hostRefused(`"${echoed(url.hostname)}" is not a public address (loopback, private, link-local, reserved or an IPv6 form of one).`);
}

/**
 * The new model set, refusing duplicates (model names are case-insensitive at the gateway). A model that
 * stays keeps its record id, so references to it survive a whole-set replacement.
 */
export function nextModels(models: readonly ModelWrite[], current: readonly Model[] = []): Model[] {
  const ids = new Map(current.map((m) => [m.modelId.toLowerCase(), m.id]));
  const seen = new Set<string>();
  return models.map(({ modelId, providerModelId, unsupportedParams }, i) => {
    const key = modelId.toLowerCase();
    if (seen.has(key)) throw new TollgateError(Errors.providerDuplicateModel, { modelId, field: `models.${i}.modelId` });
    seen.add(key);
    const model: Model = { id: ids.get(key) ?? newId('providerModel'), modelId, unsupportedParams: [...new Set(unsupportedParams ?? [])] };
    // An empty upstream id (or the model's own) is no rewrite.
    if (providerModelId !== undefined && providerModelId.trim() !== '' && providerModelId !== modelId) model.providerModelId = providerModelId;
    return model;
  });
}
