import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttemptPlan } from '../domain/routing.ts';
import type { Candidate } from '../domain/resolve.ts';
import { DEFAULT_COOL_MS, KeyCooldowns, MAX_COOL_MS } from './key-cooldown.ts';

/** Only what the cooldown reads of an attempt: its key's id or source, its candidate's provider, model and surface. */
const candidate = (modelId: string) => ({ provider: { id: 'openai' }, modelId, surface: { surface: 'chat-completions' } }) as unknown as Candidate;
const attempt = (c: Candidate, keyId: string | undefined): AttemptPlan => ({
  candidate: c, keySource: keyId === undefined ? 'ngrok' : 'user', credential: 'secret', ...(keyId === undefined ? {} : { providerKey: { id: keyId } as AttemptPlan['providerKey'] }),
});
const ids = (attempts: readonly AttemptPlan[]) => attempts.map((a) => `${a.candidate.modelId}/${a.providerKey?.id ?? 'managed'}`);

test('a cooling key goes after its model\'s ready keys, the soonest ready first; other models keep their place', () => {
  let now = 0;
  const cooldowns = new KeyCooldowns(() => now);
  const gpt = candidate('gpt-4o');
  const mini = candidate('gpt-4o-mini');
  const plan = [attempt(gpt, 'a'), attempt(gpt, 'b'), attempt(gpt, undefined), attempt(gpt, 'c'), attempt(mini, 'a'), attempt(mini, 'd')];
  assert.equal(cooldowns.order(plan).attempts, plan, 'nothing cooling: the plan itself');
  cooldowns.cool(plan[0]!, 30_000);
  cooldowns.cool(plan[2]!, 10_000);
  const { attempts, deferred } = cooldowns.order(plan);
  assert.deepEqual(ids(attempts), ['gpt-4o/b', 'gpt-4o/c', 'gpt-4o/managed', 'gpt-4o/a', 'gpt-4o-mini/a', 'gpt-4o-mini/d']);
  assert.deepEqual(ids(deferred), ['gpt-4o/managed', 'gpt-4o/a']);
  now = 10_000;
  assert.deepEqual(ids(cooldowns.order(plan).attempts), ['gpt-4o/b', 'gpt-4o/managed', 'gpt-4o/c', 'gpt-4o/a', 'gpt-4o-mini/a', 'gpt-4o-mini/d']);
  // An answer from a key makes it ready at once.
  cooldowns.served(plan[0]!);
  assert.equal(cooldowns.order(plan).attempts, plan);
});

test('the wait: the provider\'s, at most MAX_COOL_MS; DEFAULT_COOL_MS without one; none for a wait of 0', () => {
  let now = 0;
  const cooldowns = new KeyCooldowns(() => now);
  const gpt = candidate('gpt-4o');
  const [a, b, c] = [attempt(gpt, 'a'), attempt(gpt, 'b'), attempt(gpt, 'c')];
  cooldowns.cool(a, 3_600_000);
  cooldowns.cool(b, undefined);
  cooldowns.cool(c, 0);
  assert.equal(cooldowns.cooling(), 2);
  now = DEFAULT_COOL_MS;
  assert.equal(cooldowns.cooling(), 1);
  now = MAX_COOL_MS;
  assert.equal(cooldowns.cooling(), 0);
});

test('memory is bounded: past 10,000 keys cooling at once, the one cooling longest goes', () => {
  const cooldowns = new KeyCooldowns(() => 0);
  const gpt = candidate('gpt-4o');
  const first = attempt(gpt, 'key-0');
  cooldowns.cool(first, 60_000);
  for (let i = 1; i <= 10_000; i++) cooldowns.cool(attempt(gpt, `key-${i}`), 60_000);
  assert.equal(cooldowns.cooling(), 10_000);
  assert.equal(cooldowns.order([first, attempt(gpt, 'other')]).deferred.length, 0, 'the oldest entry was dropped');
  assert.equal(cooldowns.order([attempt(gpt, 'key-10000'), attempt(gpt, 'other')]).deferred.length, 1);
});

test('a key whose secret changed (rotated) is ready at once, for every model it cooled on; a key read again unchanged keeps cooling', () => {
  const cooldowns = new KeyCooldowns(() => 0);
  const [gpt, mini] = [candidate('gpt-4o'), candidate('gpt-4o-mini')];
  for (const plan of [attempt(gpt, 'a'), attempt(mini, 'a'), attempt(gpt, 'b'), attempt(gpt, undefined)]) cooldowns.cool(plan, 60_000);
  const key = (id: string, value: string) => [id, { id, providerId: 'openai', name: id, keyRedacted: 'sk-…', value }] as const;
  const before = new Map([key('a', 'sk-old'), key('b', 'sk-b')]);
  cooldowns.providerKeysReloaded(before, new Map([key('a', 'sk-old'), key('b', 'sk-b')]));
  assert.equal(cooldowns.cooling(), 4, 'read again, nothing changed');
  cooldowns.providerKeysReloaded(before, new Map([key('a', 'sk-new'), key('b', 'sk-b')]));
  assert.equal(cooldowns.cooling(), 2);
  assert.deepEqual(ids(cooldowns.order([attempt(gpt, 'b'), attempt(gpt, 'a')]).attempts), ['gpt-4o/a', 'gpt-4o/b']);
  assert.deepEqual(ids(cooldowns.order([attempt(mini, 'a'), attempt(mini, 'c')]).deferred), []);
  // A Bedrock role key has no secret: its role is its credential.
  cooldowns.cool(attempt(gpt, 'role'), 60_000);
  const roleKey = (roleArn: string) => ['role', { id: 'role', providerId: 'bedrock', name: 'role', keyRedacted: '', value: '', awsRegion: 'us-east-1', awsRole: { externalId: 'x', roleArn } }] as const;
  cooldowns.providerKeysReloaded(new Map([roleKey('arn:aws:iam::1:role/ngrok-ai-gateway-a')]), new Map([roleKey('arn:aws:iam::1:role/ngrok-ai-gateway-a')]));
  assert.equal(cooldowns.cooling(), 3, 'role key read again unchanged');
  cooldowns.providerKeysReloaded(new Map([roleKey('arn:aws:iam::1:role/ngrok-ai-gateway-a')]), new Map([roleKey('arn:aws:iam::1:role/ngrok-ai-gateway-b')]));
  assert.equal(cooldowns.cooling(), 2, 'another role: another key to the provider');
});
