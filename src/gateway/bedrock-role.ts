// Amazon Bedrock keys backed by an IAM role (docs/decisions/gateway-behaviour.md "Amazon Bedrock"): the gateway
// assumes the key's role with STS AssumeRole (its external ID, a session named for the key) using the operator's own
// AWS credentials (the SDK's default chain: environment, shared config, instance or container role), and signs each
// Bedrock call with SigV4 under the temporary credentials instead of sending a bearer key. Credentials are cached per
// key until shortly before they expire and refreshed in the background while they still serve; a request waits on
// STS only when none are usable, and concurrent requests share one AssumeRole. Credentials no longer usable are
// dropped by a sweep (on a lookup at most once a minute, and on the upstreams' periodic sweep), and at most
// MAX_KEYS keys' are held. Nothing here reads the database.
// The AWS modules are loaded on first use: a gateway without role keys never loads them.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProviderKeyState } from '../state/types.ts';
import { Errors, TollgateError } from '../domain/errors.ts';
import { credentialOf } from './key-credential.ts';

export interface BedrockRoleOptions {
  /** TOLLGATE_AWS_STS_ENDPOINT: where AssumeRole goes instead of the region's STS endpoint (tests, VPC endpoints). */
  stsEndpoint?: string | undefined;
  /** TOLLGATE_AWS_STS_REGION: the STS region for every role key, instead of each key's own region. */
  stsRegion?: string | undefined;
  logger?: Logger | undefined;
  /** The clock credentials' expiry is judged by (tests). */
  now?: (() => number) | undefined;
  /** How many keys' credentials are held at most (tests; MAX_KEYS). */
  maxKeys?: number | undefined;
}

/** A role key's failure the client is told about by its own code: the attempt failed, the next key may serve. */
export class RoleKeyError extends TollgateError {}

interface RoleCredentials { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiresAt: number }

/** Renewed this long before they expire, in the background while they still serve. */
const REFRESH_BEFORE_MS = 5 * 60_000;
/** Not used closer to their expiry than this: a request signed now must reach Bedrock before they lapse. */
const EXPIRY_MARGIN_MS = 60_000;
/** AssumeRole's own default (an hour); every role allows at least that. */
const SESSION_SECONDS = 3600;
/**
 * AWS's refusal (role denied, external ID not required) is remembered this long: requests meanwhile fail at once,
 * instead of each calling STS; a fixed trust policy is picked up after it.
 */
const REFUSAL_MEMORY_MS = 10_000;
/**
 * Keys whose credentials are held at most: a key deleted or rotated while its account's snapshot is not read again,
 * or never used again, would otherwise keep its entry (and, until they lapse, its credentials) for good. Past it the
 * least recently used key's go; its next request assumes its role again.
 */
const MAX_KEYS = 10_000;
/** A lookup sweeps out credentials no longer usable at most this often (each sweep walks every entry). */
const LOOKUP_SWEEP_MS = 60_000;

interface Entry {
  /** What the credentials were assumed for: a key whose role, external ID or region changed starts over. */
  fingerprint: string;
  credentials?: RoleCredentials;
  /** A signer holds its credentials: kept with the ones they were made for, one per AWS service signed for. */
  signers?: { for: RoleCredentials; byService: Map<SigningService, Signer> };
  pending?: Promise<RoleCredentials>;
  refusal?: { error: RoleKeyError; until: number };
  /** The role was seen to refuse AssumeRole with an external ID not the key's: not checked again for this fingerprint. */
  checked: boolean;
}

/** The request a signer gets and gives back (a subset of @smithy/types' HttpRequest). */
interface SignableRequest {
  method: string; protocol: string; hostname: string; port?: number; path: string;
  query: Record<string, string>; headers: Record<string, string>; body?: unknown;
}
interface Signer { sign(request: SignableRequest): Promise<SignableRequest> }

type StsModule = typeof import('@aws-sdk/client-sts');
interface AwsModules {
  sts: StsModule;
  credentials: ReturnType<typeof import('@aws-sdk/credential-provider-node').defaultProvider>;
  signer: (credentials: RoleCredentials, region: string, service: SigningService) => Signer;
}

/** Bedrock Runtime's service name, or its OpenAI-compatible endpoint's (`bedrock-mantle`, as the OpenAI SDK signs for it). */
export type SigningService = 'bedrock' | 'bedrock-mantle';

export class BedrockRoles {
  readonly #options: BedrockRoleOptions;
  /** In order of last use: the first is the one to go when MAX_KEYS are held. */
  readonly #entries = new Map<string, Entry>();
  readonly #clients = new Map<string, InstanceType<StsModule['STSClient']>>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  #nextSweep: number;
  #modules: Promise<AwsModules> | undefined;

  constructor(options: BedrockRoleOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? MAX_KEYS;
    this.#nextSweep = this.#now() + LOOKUP_SWEEP_MS;
  }

  /**
   * The headers of `request` (a Bedrock call to `origin`) with SigV4's added, signed with the key's role's
   * temporary credentials. Throws a RoleKeyError when the key cannot be used (no role yet, AWS refused it).
   */
  async sign(key: ProviderKeyState, origin: string, request: { path: string; headers: Record<string, string>; body: Buffer }, service: SigningService = 'bedrock'): Promise<Record<string, string>> {
    const entry = this.#entry(key);
    const credentials = await this.#credentials(key, entry);
    const modules = await this.#load();
    if (entry.signers?.for !== credentials) entry.signers = { for: credentials, byService: new Map() };
    let signer = entry.signers.byService.get(service);
    if (!signer) entry.signers.byService.set(service, (signer = modules.signer(credentials, key.awsRegion ?? '', service)));
    const url = new URL(origin);
    const query = request.path.indexOf('?');
    const signed = await signer.sign({
      method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}),
      path: query < 0 ? request.path : request.path.slice(0, query),
      query: query < 0 ? {} : Object.fromEntries(new URLSearchParams(request.path.slice(query + 1))),
      // `host` is signed (SigV4 requires it) and sent as signed.
      headers: { ...request.headers, host: url.host }, body: request.body,
    });
    return signed.headers;
  }

  /**
   * An account's provider keys as they were (`before`) and are now: the entry of a key deleted, or whose role, external
   * ID or region changed, goes with its credentials — a deleted key's would otherwise be held until the process ends.
   */
  prune(before: ReadonlyMap<string, ProviderKeyState>, now: ReadonlyMap<string, ProviderKeyState>): void {
    if (this.#entries.size === 0) return;
    for (const id of before.keys()) {
      const entry = this.#entries.get(id);
      if (!entry) continue;
      const key = now.get(id);
      if (key?.awsRole === undefined || credentialOf(key) !== entry.fingerprint) this.#entries.delete(id);
    }
  }

  /**
   * Drops the entries holding nothing usable: credentials expired (or too close to it to sign with), no AssumeRole
   * under way, no refusal still remembered. The next request of such a key assumes its role again, as it would anyway.
   */
  sweep(): void {
    const now = this.#now();
    this.#nextSweep = now + LOOKUP_SWEEP_MS;
    for (const [id, entry] of this.#entries) if (!isLive(entry, now)) this.#entries.delete(id);
  }

  /** How many keys' credentials are held (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }

  #entry(key: ProviderKeyState): Entry {
    if (this.#now() >= this.#nextSweep) this.sweep();
    const fingerprint = credentialOf(key);
    let entry = this.#entries.get(key.id);
    // Taken out and put back: the map's order is that of last use.
    this.#entries.delete(key.id);
    if (!entry || entry.fingerprint !== fingerprint) {
      entry = { fingerprint, checked: false };
      if (this.#entries.size >= this.#maxKeys) this.sweep();
      // Still full: the least recently used key's go (an AssumeRole under way for it still answers its requests).
      for (const id of this.#entries.keys()) {
        if (this.#entries.size < this.#maxKeys) break;
        this.#entries.delete(id);
      }
    }
    this.#entries.set(key.id, entry);
    return entry;
  }

  #credentials(key: ProviderKeyState, entry: Entry): Promise<RoleCredentials> {
    const now = this.#now();
    const held = entry.credentials;
    if (usable(held, now)) {
      // Still good: served, and renewed behind the request when close to expiry (a failed renewal is retried by the next).
      if (now >= held.expiresAt - REFRESH_BEFORE_MS && !entry.pending) this.#assume(key, entry).catch(() => {});
      return Promise.resolve(held);
    }
    if (entry.refusal && now < entry.refusal.until) return Promise.reject(entry.refusal.error);
    return entry.pending ?? this.#assume(key, entry);
  }

  #assume(key: ProviderKeyState, entry: Entry): Promise<RoleCredentials> {
    const pending = this.#assumeOnce(key, entry).then((credentials) => {
      if (this.#entries.get(key.id) === entry) {
        entry.credentials = credentials;
        delete entry.refusal;
      }
      return credentials;
    }, (error: unknown) => {
      if (error instanceof RoleKeyError && error.spec !== Errors.bedrockKeyRoleArnRequired) entry.refusal = { error, until: this.#now() + REFUSAL_MEMORY_MS };
      throw error;
    }).finally(() => {
      if (entry.pending === pending) delete entry.pending;
    });
    entry.pending = pending;
    return pending;
  }

  async #assumeOnce(key: ProviderKeyState, entry: Entry): Promise<RoleCredentials> {
    const { roleArn, externalId } = key.awsRole!;
    if (roleArn === undefined) throw new RoleKeyError(Errors.bedrockKeyRoleArnRequired, { keyId: key.id });
    const region = this.#options.stsRegion ?? key.awsRegion;
    if (!region) throw new RoleKeyError(Errors.bedrockKeyStsRegionNotConfigured, { keyId: key.id });
    const modules = await this.#load();
    const { sts } = modules;
    const client = this.#client(modules, region);
    const sessionName = `tollgate-${key.id}`.slice(0, 64);
    const assumed = client.send(new sts.AssumeRoleCommand({ RoleArn: roleArn, ExternalId: externalId, RoleSessionName: sessionName, DurationSeconds: SESSION_SECONDS }));
    // A role whose trust policy takes any external ID (or none) lets whoever learns its ARN have this gateway assume it
    // for them (the confused deputy the external ID exists against): tried once with an external ID of no key's, beside
    // the real call, the first time a role is used (no ID at all would pass a policy that takes any ID but requires
    // one, `StringLike` `*`); a role that allows it is refused until its policy requires the key's ID. Only AWS's
    // refusal of the probe proves that: any other outcome (throttled, unreachable) fails the attempt, and the next
    // one probes again.
    const unguarded = entry.checked ? undefined
      : client.send(new sts.AssumeRoleCommand({ RoleArn: roleArn, ExternalId: randomBytes(24).toString('hex'), RoleSessionName: sessionName, DurationSeconds: 900 }));
    const [real, check] = await Promise.allSettled([assumed, unguarded]);
    if (real.status === 'rejected') throw this.#refusal(real.reason, key, region);
    if (unguarded !== undefined && check!.status === 'fulfilled') {
      throw new RoleKeyError(Errors.providerKeyAwsExternalIdNotConfigured, { externalId });
    }
    if (unguarded !== undefined && check!.status === 'rejected') {
      if (stsErrorName(check!.reason) !== 'AccessDenied') throw this.#refusal(check!.reason, key, region);
      entry.checked = true;
    }
    const c = real.value.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('STS AssumeRole answered without credentials');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
  }

  /** STS's error as the client is told it: AWS's refusals by ngrok's codes; anything else (unreachable, the operator's credentials missing) as is. */
  #refusal(error: unknown, key: ProviderKeyState, region: string): unknown {
    const name = stsErrorName(error);
    if (name === 'RegionDisabledException') return new RoleKeyError(Errors.providerKeyAwsStsRegionNotConfigured, { region });
    if (name === 'AccessDenied') return new RoleKeyError(Errors.bedrockKeyRoleDenied, { keyId: key.id });
    this.#options.logger?.warn({ providerKeyId: key.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'STS AssumeRole failed for a Bedrock role key (check the operator\'s AWS credentials and STS reachability)');
    return error;
  }

  #client(modules: AwsModules, region: string): InstanceType<StsModule['STSClient']> {
    let client = this.#clients.get(region);
    if (!client) {
      const endpoint = this.#options.stsEndpoint;
      client = new modules.sts.STSClient({
        region, ...(endpoint ? { endpoint } : {}),
        credentials: modules.credentials, maxAttempts: 2,
        // Bounded: a request waiting on STS is bounded by its attempt's timeout only once the call is dispatched.
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
      });
      this.#clients.set(region, client);
    }
    return client;
  }

  #load(): Promise<AwsModules> {
    this.#modules ??= (async () => {
      const [sts, node, { SignatureV4 }, { Hash }] = await Promise.all([
        import('@aws-sdk/client-sts'), import('@aws-sdk/credential-provider-node'), import('@smithy/signature-v4'), import('@smithy/hash-node'),
      ]);
      return {
        sts,
        credentials: node.defaultProvider(),
        signer: (credentials, region, service) => new SignatureV4({
          service, region, sha256: Hash.bind(null, 'sha256'),
          credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
        }) as unknown as Signer,
      } satisfies AwsModules;
    })();
    return this.#modules;
  }
}

/** Whether an entry holds anything a request could use: credentials to sign with, an AssumeRole to wait on, a refusal to answer. */
function isLive(entry: Entry, now: number): boolean {
  return entry.pending !== undefined || usable(entry.credentials, now) || (entry.refusal !== undefined && now < entry.refusal.until);
}

function usable(credentials: RoleCredentials | undefined, now: number): credentials is RoleCredentials {
  return credentials !== undefined && now < credentials.expiresAt - EXPIRY_MARGIN_MS;
}

/** The AWS error code an SDK exception carries (`AccessDenied`, `RegionDisabledException`). */
function stsErrorName(error: unknown): string | undefined {
  return error instanceof Error ? ((error as { Code?: unknown }).Code as string | undefined) ?? error.name : undefined;
}
