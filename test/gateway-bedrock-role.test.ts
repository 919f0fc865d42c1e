// Amazon Bedrock keys backed by an IAM role, end to end: the official AWS SDK (`@aws-sdk/client-bedrock-runtime`)
// calls the gateway with its access key; the gateway assumes the key's role at a fake STS on loopback (AssumeRole's
// XML, its AccessDenied error) with the operator's AWS credentials from the environment, and a fake Bedrock Runtime
// recomputes each call's SigV4 signature with the temporary credentials STS handed out, refusing any other. SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import OpenAI from 'openai';
import { startHarness, storedUsage, type Harness } from './helpers/gateway.ts';
import { BedrockRoles } from '../src/gateway/bedrock-role.ts';
import type { ProviderKeyState } from '../src/state/types.ts';

const OPERATOR_KEY_ID = 'AKIAOPERATOREXAMPLE1';
const OPERATOR_SECRET = 'operator/secret/key/EXAMPLEKEY0000000000';
const ACCOUNT = '123456789012';
const frames = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s));

interface StsCall { roleArn: string; externalId: string | undefined; sessionName: string; authorization: string }
interface Issued { secretAccessKey: string; sessionToken: string }
/**
 * How a role's trust policy treats the gateway: requires the key's external ID, refuses it, takes any ID (or none), or
 * takes any ID but requires one (a `StringLike` condition of `*` on `sts:ExternalId`).
 */
type Trust = { kind: 'external-id'; externalId: string } | { kind: 'deny' } | { kind: 'any' } | { kind: 'any-id' };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
}

const closing = (server: Server) => () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });

/** STS's AssumeRole (Query protocol: a form body, an XML answer), with each role's trust policy. */
async function fakeSts() {
  const calls: StsCall[] = [];
  const trust = new Map<string, Trust>();
  const issued = new Map<string, Issued>();
  /** Roles whose calls STS throttles, but for the one carrying this external ID (AWS's per-account request rate). */
  const throttled = new Map<string, string>();
  /** What credentials' lifetime (an hour) is counted from: a test clock in place of the wall clock. */
  const clock = { now: () => Date.now() };
  let serial = 0;
  const server = createServer(async (req, res) => {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const call: StsCall = { roleArn: form.get('RoleArn') ?? '', externalId: form.get('ExternalId') ?? undefined, sessionName: form.get('RoleSessionName') ?? '', authorization: String(req.headers.authorization) };
    calls.push(call);
    const spared = throttled.get(call.roleArn);
    if (spared !== undefined && call.externalId !== spared) {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>sts-req-throttled</RequestId></ErrorResponse>');
      return;
    }
    const policy = trust.get(call.roleArn);
    const allowed = form.get('Action') === 'AssumeRole' && call.authorization.includes(`Credential=${OPERATOR_KEY_ID}/`) && policy !== undefined
      && (policy.kind === 'any' || (policy.kind === 'any-id' && call.externalId !== undefined) || (policy.kind === 'external-id' && call.externalId === policy.externalId));
    if (!allowed) {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::999999999999:user/operator is not authorized to perform: sts:AssumeRole on resource: ${call.roleArn}</Message></Error><RequestId>sts-req-denied</RequestId></ErrorResponse>`);
      return;
    }
    const accessKeyId = `ASIATEMP${String(++serial).padStart(12, '0')}`;
    const creds: Issued = { secretAccessKey: `temp-secret-${serial}`, sessionToken: `temp-session-token-${serial}` };
    issued.set(accessKeyId, creds);
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey><SessionToken>${creds.sessionToken}</SessionToken><Expiration>${new Date(clock.now() + 3600_000).toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:${call.sessionName}</AssumedRoleId><Arn>${call.roleArn}/${call.sessionName}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>sts-req-ok</RequestId></ResponseMetadata></AssumeRoleResponse>`);
  });
  return { url: await listen(server), calls, trust, issued, throttled, clock, close: closing(server) };
}

interface BedrockSeen { path: string; headers: IncomingMessage['headers']; signatureValid: boolean }

/** The signature SigV4 gives this request under the credentials its Authorization names, or undefined if none were issued. */
async function expectedAuthorization(req: IncomingMessage, body: Buffer, issued: Map<string, Issued>): Promise<string | undefined> {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([a-z0-9-]+)\/(bedrock(?:-mantle)?)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(auth);
  if (!m) return undefined;
  const [, accessKeyId, region, service, signedHeaders] = m;
  // Bedrock's OpenAI-compatible endpoint is its own AWS service: a signature for Bedrock Runtime's is refused there.
  if ((service === 'bedrock-mantle') !== (req.url ?? '').endsWith('/v1/chat/completions')) return undefined;
  const creds = issued.get(accessKeyId!);
  if (!creds) return undefined;
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) headers[name] = String(req.headers[name] ?? '');
  const date = String(req.headers['x-amz-date']);
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: service!, region: region!, sha256: Hash.bind(null, 'sha256'), credentials: { accessKeyId: accessKeyId!, ...creds } });
  const [host, port] = String(req.headers.host).split(':');
  const signed = await signer.sign({ method: req.method ?? 'POST', protocol: 'http:', hostname: host!, port: Number(port), path: req.url ?? '/', query: {}, headers, body }, { signingDate });
  return signed.headers.authorization;
}

/** Bedrock Runtime that takes only calls signed with credentials STS issued (checked by recomputing the signature). */
async function fakeBedrock(issued: Map<string, Issued>) {
  const seen: BedrockSeen[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const expected = await expectedAuthorization(req, body, issued);
    const signatureValid = expected !== undefined && expected === req.headers.authorization;
    seen.push({ path: req.url ?? '', headers: req.headers, signatureValid });
    if (!signatureValid) {
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
      res.end(JSON.stringify({ message: 'The security token included in the request is invalid.' }));
      return;
    }
    if ((req.url ?? '').endsWith('/v1/chat/completions')) {
      const { model } = JSON.parse(body.toString('utf8')) as { model: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-signed', object: 'chat.completion', created: 1_765_000_000, model, choices: [{ index: 0, message: { role: 'assistant', content: `signed chat from ${(req.url ?? '').split('/')[1]}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }));
      return;
    }
    if ((req.url ?? '').endsWith('/converse-stream')) {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      for (const [type, event] of [['messageStart', { role: 'assistant' }], ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'signed ' } }], ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'stream' } }], ['contentBlockStop', { contentBlockIndex: 0 }], ['messageStop', { stopReason: 'end_turn' }], ['metadata', { usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 }, metrics: { latencyMs: 3 } }]] as const) {
        res.write(Buffer.from(frames.encode({
          headers: { ':message-type': { type: 'string', value: 'event' }, ':event-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' } },
          body: Buffer.from(JSON.stringify(event)),
        })));
      }
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: `signed answer from ${(req.url ?? '').split('/')[1]}` }] } }, stopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 } }));
  });
  return { url: await listen(server), seen, close: closing(server) };
}

describe('Bedrock keys backed by an IAM role, through the AWS SDK (sqlite)', () => {
  let h: Harness;
  let sts: Awaited<ReturnType<typeof fakeSts>>;
  let bedrock: Awaited<ReturnType<typeof fakeBedrock>>;
  const saved: Record<string, string | undefined> = {};
  const awsEnv = { AWS_ACCESS_KEY_ID: OPERATOR_KEY_ID, AWS_SECRET_ACCESS_KEY: OPERATOR_SECRET, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true' };

  before(async () => {
    // The operator's AWS credentials, as the SDK's default chain finds them first: the environment.
    for (const [name, value] of Object.entries(awsEnv)) {
      saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    sts = await fakeSts();
    bedrock = await fakeBedrock(sts.issued);
    h = await startHarness('sqlite', { TOLLGATE_PROVIDER_BEDROCK_BASE_URL: `${bedrock.url}/{region}`, TOLLGATE_AWS_STS_ENDPOINT: sts.url });
  });
  after(async () => {
    await h?.close();
    await bedrock?.close();
    await sts?.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  /** A role key in `region` whose role (named for it) trusts the gateway as `trust` says; no role set when `trust` is undefined. */
  async function roleKey(name: string, region: string, trust?: 'external-id' | 'deny' | 'any' | 'any-id'): Promise<{ id: string; externalId: string; roleArn: string }> {
    const key = await h.api<{ id: string; aws: { externalId: string } }>('POST', '/provider-keys', { providerId: 'bedrock', name, aws: { region } });
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/ngrok-ai-gateway-${name}`;
    if (trust !== undefined) {
      sts.trust.set(roleArn, trust === 'external-id' ? { kind: trust, externalId: key.aws.externalId } : { kind: trust });
      await h.api('PATCH', `/provider-keys/${key.id}`, { aws: { roleArn } });
    }
    return { id: key.id, externalId: key.aws.externalId, roleArn };
  }

  async function routedTo(...keyIds: string[]): Promise<string> {
    return (await h.accessKey(await h.configuration({ router: { rules: [{ provider: 'bedrock', steps: [{ type: 'user', keys: keyIds.map((id) => ({ id })) }] }] } }))).token;
  }

  function client(token: string): BedrockRuntimeClient {
    return new BedrockRuntimeClient({ endpoint: h.gatewayUrl, region: 'us-east-1', token: { token }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  }

  const converse = (text: string) => new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text }] }] });

  /** A refusal as the gateway writes it on Bedrock's surface: the ngrok code and message. */
  async function refusal(token: string): Promise<{ status: number; code: string; message: string }> {
    const res = await fetch(`${h.gatewayUrl}/model/anthropic.claude-sonnet-4-6/converse`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }) });
    const body = await res.json() as { code: string; message: string };
    return { status: res.status, code: body.code, message: body.message };
  }

  test('Converse and ConverseStream are SigV4-signed with the role\'s temporary credentials, assumed once for many requests', async () => {
    const key = await roleKey('signed', 'eu-west-1', 'external-id');
    const token = await routedTo(key.id);
    const sdk = client(token);
    const seenBefore = bedrock.seen.length;
    // Concurrent first requests share one AssumeRole.
    const outs = await Promise.all([1, 2, 3].map((i) => sdk.send(converse(`hi ${i}`))));
    for (const out of outs) assert.equal(out.output?.message?.content?.[0]?.text, 'signed answer from eu-west-1');
    const more = await sdk.send(converse('again'));
    assert.equal(more.output?.message?.content?.[0]?.text, 'signed answer from eu-west-1');
    const stream = await sdk.send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-6', messages: [{ role: 'user', content: [{ text: 'stream' }] }] }));
    let text = '';
    for await (const event of stream.stream!) text += event.contentBlockDelta?.delta?.text ?? '';
    assert.equal(text, 'signed stream');

    const assumed = sts.calls.filter((c) => c.roleArn === key.roleArn);
    const withId = assumed.filter((c) => c.externalId === key.externalId);
    assert.equal(withId.length, 1, 'one AssumeRole for five requests');
    assert.equal(withId[0]!.sessionName, `tollgate-${key.id}`);
    // The check that the role requires the key's external ID: once, with another one, refused (as it must be).
    const probes = assumed.filter((c) => c.externalId !== key.externalId);
    assert.equal(probes.length, 1);
    assert.ok(probes[0]!.externalId !== undefined && probes[0]!.externalId.length >= 32, 'the probe names an external ID of its own');
    for (const c of assumed) assert.match(c.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${OPERATOR_KEY_ID}/\\d{8}/eu-west-1/sts/aws4_request`), 'STS is called with the operator\'s credentials, in the key\'s region');

    const calls = bedrock.seen.slice(seenBefore);
    assert.equal(calls.length, 5);
    const [tempKeyId] = [...sts.issued.entries()].find(([, v]) => v.sessionToken === calls[0]!.headers['x-amz-security-token'])!;
    for (const call of calls) {
      assert.equal(call.signatureValid, true, 'signed with the temporary credentials');
      assert.match(String(call.headers.authorization), new RegExp(`^AWS4-HMAC-SHA256 Credential=${tempKeyId}/\\d{8}/eu-west-1/bedrock/aws4_request, SignedHeaders=`));
      assert.equal(call.headers['x-amz-security-token'], sts.issued.get(tempKeyId)!.sessionToken);
      assert.match(call.path, /^\/eu-west-1\/model\/anthropic\.claude-sonnet-4-6\/converse(-stream)?$/);
      // Neither the client's access key nor the operator's credentials go to Bedrock.
      const sent = JSON.stringify(call.headers);
      assert.ok(!sent.includes(token), 'the access key is not sent upstream');
      assert.ok(!sent.includes(OPERATOR_KEY_ID) && !sent.includes(OPERATOR_SECRET), 'the operator\'s credentials are not sent to Bedrock');
      assert.ok(!String(call.headers.authorization).startsWith('Bearer'));
    }
    // Usage names the key by the role it assumed (it holds no secret to mask).
    let rows = (await storedUsage(h)).filter((r) => r.providerKeyId === key.id);
    for (let tries = 0; rows.length < 5 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      rows = (await storedUsage(h)).filter((r) => r.providerKeyId === key.id);
    }
    assert.deepEqual([...new Set(rows.map((r) => r.providerKeyDisplayName))], ['role/ngrok-ai-gateway-signed']);
  });

  test('chat completions to Gemma 4 on Bedrock with a role key: signed for Bedrock\'s OpenAI-compatible endpoint (service bedrock-mantle), Bedrock Runtime\'s operations still for bedrock', async () => {
    const key = await roleKey('mantle', 'us-west-2', 'external-id');
    const token = await routedTo(key.id);
    const openai = new OpenAI({ baseURL: `${h.gatewayUrl}/v1`, apiKey: token, maxRetries: 0 });
    const seenBefore = bedrock.seen.length;
    const chat = await openai.chat.completions.create({ model: 'bedrock:google.gemma-4-31b', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.choices[0]!.message.content, 'signed chat from us-west-2');
    // The same key's credentials sign Bedrock Runtime's operations for their own service.
    assert.equal((await client(token).send(converse('and converse'))).output?.message?.content?.[0]?.text, 'signed answer from us-west-2');
    const [mantle, runtime] = bedrock.seen.slice(seenBefore);
    assert.deepEqual([mantle!.path, mantle!.signatureValid, runtime!.path, runtime!.signatureValid], ['/us-west-2/v1/chat/completions', true, '/us-west-2/model/anthropic.claude-sonnet-4-6/converse', true]);
    assert.match(String(mantle!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=ASIATEMP\d+\/\d{8}\/us-west-2\/bedrock-mantle\/aws4_request, /);
    assert.match(String(runtime!.headers.authorization), /\/us-west-2\/bedrock\/aws4_request, /);
    assert.ok(!JSON.stringify(mantle!.headers).includes(token), 'the access key is not sent upstream');
  });

  test('AWS refusing the role: ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_DENIED naming the key, and the next key serves', async () => {
    const denied = await roleKey('denied', 'us-east-1', 'deny');
    const good = await roleKey('fallback', 'us-west-2', 'external-id');
    const out = await client(await routedTo(denied.id, good.id)).send(converse('failover'));
    assert.equal(out.output?.message?.content?.[0]?.text, 'signed answer from us-west-2');
    assert.ok(!bedrock.seen.some((c) => c.path.startsWith('/us-east-1/')), 'no call is made with a role AWS refused');

    const alone = await refusal(await routedTo(denied.id));
    assert.equal(alone.status, 502);
    assert.equal(alone.code, 'ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_DENIED');
    assert.match(alone.message, new RegExp(`AWS refused to let ngrok assume the IAM role of Bedrock key ${denied.id}\\. The role must exist and trust ngrok's principal with the key's external ID\\.`));
  });

  test('a role key without its role yet: ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_ARN_REQUIRED, and no call to STS or Bedrock', async () => {
    const key = await roleKey('unfinished', 'us-east-1');
    const stsBefore = sts.calls.length;
    const seenBefore = bedrock.seen.length;
    const answer = await refusal(await routedTo(key.id));
    assert.equal(answer.status, 400);
    assert.equal(answer.code, 'ERR_NGROK_AI_GATEWAY_BEDROCK_KEY_ROLE_ARN_REQUIRED');
    assert.match(answer.message, new RegExp(`Bedrock key ${key.id} has no IAM role yet\\. Finish the role setup: create the role, then set 'aws\\.roleArn' on the key\\.`));
    assert.equal(sts.calls.length, stsBefore);
    assert.equal(bedrock.seen.length, seenBefore);
  });

  test('a role whose trust policy takes any external ID: ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_EXTERNAL_ID_NOT_CONFIGURED, no Bedrock call', async () => {
    const key = await roleKey('open', 'us-east-1', 'any');
    const seenBefore = bedrock.seen.length;
    const answer = await refusal(await routedTo(key.id));
    assert.equal(answer.code, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_EXTERNAL_ID_NOT_CONFIGURED');
    assert.match(answer.message, new RegExp(`Add a condition that sts:ExternalId equals ${key.externalId}\\.`));
    assert.equal(bedrock.seen.length, seenBefore);
  });

  test('a role that takes any external ID as long as one is given: _EXTERNAL_ID_NOT_CONFIGURED, no Bedrock call', async () => {
    const key = await roleKey('any-id', 'us-east-1', 'any-id');
    const seenBefore = bedrock.seen.length;
    const answer = await refusal(await routedTo(key.id));
    assert.equal(answer.code, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_EXTERNAL_ID_NOT_CONFIGURED');
    assert.equal(bedrock.seen.length, seenBefore);
  });

  test('a probe STS did not answer (throttled) does not let the role serve: the attempt fails, and the probe is made again next time', async () => {
    const key = await roleKey('probe-throttled', 'us-east-1', 'any');
    sts.throttled.set(key.roleArn, key.externalId);
    const token = await routedTo(key.id);
    const seenBefore = bedrock.seen.length;
    const first = await refusal(token);
    assert.equal(first.status, 502);
    assert.equal(bedrock.seen.length, seenBefore, 'no Bedrock call with credentials of a role not known to require the external ID');
    sts.throttled.delete(key.roleArn);
    const second = await refusal(token);
    assert.equal(second.code, 'ERR_NGROK_AI_GATEWAY_PROVIDER_KEY_AWS_EXTERNAL_ID_NOT_CONFIGURED');
    assert.equal(bedrock.seen.length, seenBefore);
  });

  describe('the credentials held for role keys, on a test clock', () => {
    let now = Date.now();
    const origin = 'https://bedrock-runtime.us-east-1.amazonaws.com';
    before(() => { sts.clock.now = () => now; });
    after(() => { sts.clock.now = () => Date.now(); });

    /** A role key the gateway has in memory only (no account needed): its role requires its external ID. */
    function memoryKey(name: string): ProviderKeyState {
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/held-${name}`;
      sts.trust.set(roleArn, { kind: 'external-id', externalId: `ext-${name}` });
      return { id: `aigpk_${name}`, providerId: 'bedrock', name, keyRedacted: '', value: '', awsRegion: 'us-east-1', awsRole: { externalId: `ext-${name}`, roleArn } };
    }
    /** The temporary access key a call of `key` is signed with. */
    async function signedWith(roles: BedrockRoles, key: ProviderKeyState): Promise<string> {
      const headers = await roles.sign(key, origin, { path: '/model/anthropic.claude-sonnet-4-6/converse', headers: {}, body: Buffer.from('{}') });
      return /Credential=(ASIA[A-Z0-9]+)\//.exec(headers.authorization ?? '')![1]!;
    }
    const assumedFor = (key: ProviderKeyState) => sts.calls.filter((c) => c.externalId === key.awsRole!.externalId).length;

    test('a key\'s credentials that lapsed go without its account being read again: on a later lookup, or the periodic sweep', async () => {
      const roles = new BedrockRoles({ stsEndpoint: sts.url, now: () => now });
      const [deleted, used, idle] = [memoryKey('lapse-deleted'), memoryKey('lapse-used'), memoryKey('lapse-idle')];
      await signedWith(roles, deleted);
      now += 40 * 60_000;
      // Assumed 40 minutes later: good for an hour from then.
      const usedCredentials = await signedWith(roles, used);
      await signedWith(roles, idle);
      assert.equal(roles.size, 3);
      // The first key (deleted meanwhile, its account's snapshot never read again) is past its credentials' hour.
      now += 21 * 60_000;
      assert.equal(await signedWith(roles, used), usedCredentials, 'the other key\'s credentials still serve, unrenewed');
      assert.equal(assumedFor(used), 1);
      assert.equal(roles.size, 2, 'the lapsed credentials went on that lookup');
      // Nothing called for an hour more: the periodic sweep drops the rest.
      now += 60 * 60_000;
      roles.sweep();
      assert.equal(roles.size, 0);
      // A key whose credentials went assumes its role again on its next call.
      assert.notEqual(await signedWith(roles, used), usedCredentials);
      assert.equal(assumedFor(used), 2);
      await roles.close();
    });

    test('at most so many keys\' credentials are held: the least recently used key\'s go first, and it assumes again when next used', async () => {
      const roles = new BedrockRoles({ stsEndpoint: sts.url, now: () => now, maxKeys: 2 });
      const [first, second, third] = [memoryKey('bound-1'), memoryKey('bound-2'), memoryKey('bound-3')];
      const firstCredentials = await signedWith(roles, first);
      await signedWith(roles, second);
      assert.equal(await signedWith(roles, first), firstCredentials, 'used again: now the most recent');
      await signedWith(roles, third);
      assert.equal(roles.size, 2);
      assert.equal(await signedWith(roles, first), firstCredentials, 'the recently used key kept its credentials');
      assert.deepEqual([assumedFor(first), assumedFor(second), assumedFor(third)], [1, 1, 1]);
      await signedWith(roles, second);
      assert.equal(assumedFor(second), 2, 'the least recently used key\'s credentials had gone');
      assert.equal(roles.size, 2);
      await roles.close();
    });
  });
});
