// The `tollgate` command line: start | gateway | api | migrate | accounts create|list | api-keys create | credits grant |
// usage import | rotate-secret | demo | fake-provider.
import { parseArgs } from 'node:util';
import { joinNegativeNumbers } from './args.ts';
import { databaseSilenceMsFrom, databaseUrlFrom, loadConfig, parsePort, type Config } from '../config/config.ts';
import { openStore } from '../store/database.ts';
import { startTollgate, type Plane } from '../server.ts';
import { errorReason } from '../domain/error-reason.ts';

const USAGE = `Usage: tollgate <command> [options]

Commands:
  start                      run the gateway and the control plane (embedded SQLite by default)
  gateway                    run only the gateway plane
  api                        run only the control plane
  migrate                    apply database migrations and exit
  accounts create --name N   create an account; prints {"account":{id,name},"apiKey":{id,token}}
  accounts list              prints {"accounts":[{id,name,createdAt}]}, oldest (the default account) first
  api-keys create --account ID [--name N]
                             a new control-plane API key for an existing account (a lost first key);
                             prints {"accountId","apiKey":{id,token}}
  credits grant --account ID --cents N [--category purchase|promotional]
                             add credits: promotional (the default) never lapse, purchase (paid outside
                             Stripe) lapses 12 months later; prints {"accountId","grantedCents","category"}
  usage import --file F      store usage events a gateway set aside (<journal>.refused.jsonl) once the
                             store takes them; prints {"events","stored","alreadyStored","refused"}
  rotate-secret [--new-key -]
                             re-seal every provider key under a new TOLLGATE_SECRET_KEY (processes stopped);
                             the new key from TOLLGATE_SECRET_KEY_NEW or stdin (--new-key -)
  demo                       run a local demo against a fake provider (no provider account needed)
  fake-provider [--port N]   run the demo's fake provider (OpenAI and Anthropic formats) on 127.0.0.1:N
                             (default 9000; 0: any free port, the one bound is printed), to point
                             TOLLGATE_PROVIDER_<ID>_BASE_URL at; scripted by key and model as
                             src/demo/fake-provider/server.ts describes (sk-429, fail-500-…, slow-…)

Server options of start, gateway and api (each wins over its TOLLGATE_* environment variable):
  --database-url URL   --host HOST   --gateway-port N   --api-port N   (ports 0-65535; 0: any free port;
  gateway takes no --api-port)
migrate, accounts, api-keys, credits, usage and rotate-secret take --database-url URL too.
Every setting, with its default: README.md.

Results go to stdout (accounts, api-keys, credits, usage and rotate-secret print one JSON line), the rest to
stderr, except a server's JSON log (stdout). Exit status: 0 done; 1 refused or failed (an unknown command or flag,
a bad value, the database), said in one line on stderr starting "tollgate:"; usage import also exits 1 when the
store still refuses some events (its JSON line says which).
`;

const serverOptions = {
  'database-url': { type: 'string' },
  host: { type: 'string' },
  'gateway-port': { type: 'string' },
  'api-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A flag given with nothing after it (`--api-port=`, `--host ""`, a shell variable that was unset) is a mistake, not
 * "the default": the server would otherwise start on another port or interface than the one asked for, silently.
 */
function refuseEmpty(values: Record<string, string | boolean | undefined>): void {
  for (const [name, value] of Object.entries(values)) if (value !== undefined && typeof value === 'string' && value.trim() === '') throw new Error(`--${name} needs a value`);
}

function configFrom(values: { 'database-url'?: string | undefined; host?: string | undefined; 'gateway-port'?: string | undefined; 'api-port'?: string | undefined }): Config {
  refuseEmpty(values);
  // As overrides, not written into the environment: a refused value is then named by the flag that was typed
  // (`--api-port must be…`), not by a TOLLGATE_* variable the operator never set.
  const overrides: NonNullable<Parameters<typeof loadConfig>[1]> = {};
  if (values['database-url'] !== undefined) overrides.databaseUrl = values['database-url'];
  if (values.host !== undefined) overrides.host = values.host.trim();
  if (values['gateway-port'] !== undefined) overrides.gatewayPort = parsePort(values['gateway-port'], '--gateway-port');
  if (values['api-port'] !== undefined) overrides.apiPort = parsePort(values['api-port'], '--api-port');
  return loadConfig(process.env, overrides);
}

async function serve(planes: readonly Plane[], args: string[]): Promise<void> {
  const { values } = parseArgs({ args: joinNegativeNumbers(args), options: serverOptions, strict: true });
  if (values.help) { process.stdout.write(USAGE); return; }
  // A gateway serves no control plane: its --api-port would be taken and ignored, the operator believing it applied.
  // (api keeps --gateway-port: the Playground's default gateway URL is read from it.)
  if (!planes.includes('api') && values['api-port'] !== undefined) throw new Error('--api-port is for start and api: a gateway serves no control plane (its port is --gateway-port)');
  const config = configFrom(values);
  const running = await startTollgate(config, {
    planes,
    // The one moment the bootstrap token is shown (it is stored only as a hash): as soon as it exists, so a start
    // that then fails (a port in use) still shows it.
    onBootstrap: (bootstrap) => {
      const lines = bootstrap.generated
        ? [`Created account ${bootstrap.accountId}.`, `Control-plane API key (shown once): ${bootstrap.apiKeyToken}`]
        : [`Created account ${bootstrap.accountId} with the API key from TOLLGATE_BOOTSTRAP_API_KEY.`];
      process.stderr.write(`${lines.join('\n')}\n`);
    },
  });
  const { logger } = running;
  if (config.masterKeySource === 'generated') logger.warn({ file: config.masterKeyFile }, 'generated a new TOLLGATE_SECRET_KEY for provider-key encryption; back this file up');
  else logger.info({ source: config.masterKeySource, file: config.masterKeyFile }, 'provider-key encryption key loaded');
  if (running.gatewayUrl) process.stderr.write(`Gateway:       ${running.gatewayUrl}\n`);
  if (running.apiUrl) process.stderr.write(`Control plane: ${running.apiUrl}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await running.stop();
    } catch (error) {
      // Every part was still stopped (the journal shipped what the store took); said, and the exit code tells it.
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'stopped with an error');
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // The terminal it ran in closed (or a supervisor's hang-up): node's default would end it at once, cutting open
  // answers and leaving their usage to the journal's recovery. Stopped like SIGTERM instead; there is nothing to reload.
  process.on('SIGHUP', () => void stop('SIGHUP'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  // Asked of any command before it does anything: `migrate --help` used to migrate, `demo --help` ran the demo.
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'start': return serve(['gateway', 'api'], rest);
    case 'gateway': return serve(['gateway'], rest);
    case 'api': return serve(['api'], rest);
    case 'migrate': {
      // The database alone (no host or ports: `migrate --api-port 9000` is refused, not ignored), and no
      // TOLLGATE_SECRET_KEY: migrating needs none.
      const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { 'database-url': serverOptions['database-url'] }, strict: true });
      refuseEmpty(values);
      const store = await openStore(databaseUrlFrom(process.env, values['database-url']), { silentConnectionMs: databaseSilenceMsFrom() });
      await store.close();
      process.stdout.write('migrations applied\n');
      return;
    }
    case 'accounts': return (await import('./admin.ts')).accounts(rest);
    case 'api-keys': return (await import('./admin.ts')).apiKeysCreate(rest);
    case 'credits': return (await import('./admin.ts')).creditsGrant(rest);
    case 'usage': return (await import('./admin.ts')).usageImport(rest);
    case 'rotate-secret': return (await import('./rotate-secret.ts')).rotateSecret(rest);
    case 'demo': {
      if (rest.length > 0) throw new Error(`demo takes no options, got "${rest.join(' ')}" (it picks free ports on 127.0.0.1 itself)`);
      const { runDemo } = await import('./demo.ts');
      return runDemo((line) => process.stdout.write(`${line}\n`));
    }
    case 'fake-provider': {
      const { values } = parseArgs({ args: joinNegativeNumbers(rest), options: { port: { type: 'string' } }, strict: true });
      // As strict as the servers' own ports (0 too: any free port, the URL printed below names the one bound).
      const port = parsePort(values.port ?? '9000', '--port');
      const { startFakeProvider } = await import('../demo/fake-provider/server.ts');
      const fake = await startFakeProvider(port, { record: false, log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) });
      process.stderr.write(`Fake provider: ${fake.url} (OpenAI and Anthropic wire formats)\n`
        + `Point Tollgate at it: TOLLGATE_PROVIDER_OPENAI_BASE_URL=${fake.url}/v1 TOLLGATE_PROVIDER_ANTHROPIC_BASE_URL=${fake.url}/v1\n`);
      const stop = () => void fake.close().then(() => process.exit(0));
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, stop);
      return;
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      // Refused as every other mistake is (one line, exit 1): a script tells a typo from a failure by the message.
      throw new Error(`unknown command "${command}" (tollgate --help lists them)`);
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`tollgate: ${errorReason(e)}\n`);
  process.exit(1);
}
