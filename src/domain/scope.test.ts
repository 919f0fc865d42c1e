import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCatalog } from '../catalog/index.ts';
import { resolveCandidates, type Candidate } from './resolve.ts';
import { applyScope, scopeError } from './scope.ts';
import { ollama, snapshot } from '../../test/helpers/snapshot.ts';
import type { AccessScope } from '../state/types.ts';

const catalog = createCatalog({});
const account = snapshot({ customProviders: [ollama] });
const resolve = (...names: string[]): Candidate[] => resolveCandidates({ model: names[0], models: names.slice(1), format: 'openai', surface: 'chat-completions' }, catalog, account);
const allowed = (access: AccessScope | null, ...names: string[]) => applyScope(resolve(...names), access).allowed.map((c) => `${c.provider.id}:${c.modelId}`);

test('no access block or omitted dimensions allow everything', () => {
  assert.deepEqual(allowed(null, 'gpt-4o', 'claude-haiku-4-5'), ['openai:gpt-4o', 'anthropic:claude-haiku-4-5']);
  assert.deepEqual(allowed({}, 'gpt-4o'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ providers: {} }, 'gpt-4o'), ['openai:gpt-4o']);
});

test('empty allow lists allow nothing', () => {
  assert.deepEqual(allowed({ providers: { allow: [] } }, 'gpt-4o'), []);
  assert.deepEqual(allowed({ models: { allow: [] } }, 'gpt-4o'), []);
});

test('provider entries: built-in id, custom slug, custom aigp_ id, exact', () => {
  assert.deepEqual(allowed({ providers: { allow: ['openai'] } }, 'gpt-4o', 'claude-haiku-4-5'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ providers: { allow: ['OpenAI'] } }, 'gpt-4o'), []);
  assert.deepEqual(allowed({ providers: { allow: ['my-ollama'] } }, 'my-ollama:llama3.2'), ['my-ollama:llama3.2']);
  assert.deepEqual(allowed({ providers: { allow: ['aigp_ollama'] } }, 'my-ollama:llama3.2'), ['my-ollama:llama3.2']);
});

test('model entries: provider/model, provider:model, author/name, bare id; model part case-insensitive', () => {
  assert.deepEqual(allowed({ models: { allow: ['openai/gpt-4o'] } }, 'gpt-4o', 'gpt-4o-mini'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ models: { allow: ['openai:gpt-4o'] } }, 'gpt-4o'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ models: { allow: ['openai:openai/gpt-4o'] } }, 'gpt-4o'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ models: { allow: ['openai/GPT-4O'] } }, 'gpt-4o'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ models: { allow: ['gpt-4o'] } }, 'GPT-4o'), ['openai:gpt-4o']);
  assert.deepEqual(allowed({ models: { allow: ['anthropic/claude-sonnet-4-6'] } }, 'claude-sonnet-4-6', 'claude-haiku-4-5'), ['anthropic:claude-sonnet-4-6']);
  assert.deepEqual(allowed({ models: { allow: ['groq/llama-3.3-70b-versatile'] } }, 'meta-llama/llama-3.3-70b-versatile'), ['groq:llama-3.3-70b-versatile']);
  assert.deepEqual(allowed({ models: { allow: ['meta-llama/llama-3.3-70b-versatile'] } }, 'groq:llama-3.3-70b-versatile'), ['groq:llama-3.3-70b-versatile']);
  assert.deepEqual(allowed({ models: { allow: ['my-ollama/llama3.2'] } }, 'my-ollama:llama3.2'), ['my-ollama:llama3.2']);
  assert.deepEqual(allowed({ models: { allow: ['aigp_ollama:llama3.2'] } }, 'my-ollama:llama3.2'), ['my-ollama:llama3.2']);
  // Provider part is exact; a different provider's pin does not match.
  assert.deepEqual(allowed({ models: { allow: ['anthropic/gpt-4o'] } }, 'gpt-4o'), []);
  assert.deepEqual(allowed({ models: { allow: ['OpenAI:gpt-4o'] } }, 'gpt-4o'), []);
  // Catalog-only lists block pass-through models.
  assert.deepEqual(allowed({ models: { allow: ['openai/gpt-4o'] } }, 'openai:gpt-5-preview'), []);
});

test('both dimensions must pass; fallbacks are filtered individually', () => {
  const access: AccessScope = { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5'] } };
  assert.deepEqual(allowed(access, 'gpt-4o', 'claude-haiku-4-5', 'gpt-4o-mini'), ['openai:gpt-4o-mini']);
  const r = applyScope(resolve('gpt-4o', 'gpt-4o-mini'), access);
  assert.deepEqual(r.rejected.map((c) => c.modelId), ['gpt-4o']);
});

test('scopeError: 27231 when the provider dimension refused, else 27232; the message names the configuration and the entry that would allow it', () => {
  const access: AccessScope = { providers: { allow: ['openai'] }, models: { allow: ['openai/gpt-4o-mini'] } };
  const p = applyScope(resolve('claude-haiku-4-5'), access);
  const pe = scopeError(p.rejected, access, 'akc_team');
  assert.equal(pe.code, 'ERR_NGROK_27231');
  assert.equal(pe.status, 403);
  assert.equal(pe.message, 'Provider "anthropic" is not allowed by the access policy. It is set by access key configuration "akc_team": add "anthropic" to its providers allow list, or name another model.');
  const m = applyScope(resolve('gpt-4o'), access);
  const me = scopeError(m.rejected, access, 'akc_team');
  assert.equal(me.code, 'ERR_NGROK_27232');
  assert.equal(me.message, 'Model "gpt-4o" is not allowed by the access policy. It is set by access key configuration "akc_team": add "openai/gpt-4o" to its models allow list, or name another model.');
  // The entry it names is one that allows the model: for a custom provider's tagged model too.
  const onlyLlama: AccessScope = { models: { allow: ['my-ollama/llama3.2'] } };
  const tagged = applyScope(resolve('my-ollama:qwen3:8b'), onlyLlama);
  const entry = /add "([^"]+)"/.exec(scopeError(tagged.rejected, onlyLlama, 'akc_team').message)![1]!;
  assert.equal(entry, 'my-ollama/Qwen3:8b');
  assert.deepEqual(allowed({ models: { allow: [entry] } }, 'my-ollama:qwen3:8b'), ['my-ollama:Qwen3:8b']);
});

test('model entries for an id holding a colon (Ollama tags): the guides\' provider/model form and the bare id allow it', () => {
  // The colon of `my-ollama/qwen3:8b` is the model's tag, not a provider qualifier: the slash comes first.
  assert.deepEqual(allowed({ models: { allow: ['my-ollama/qwen3:8b'] } }, 'my-ollama:qwen3:8b', 'my-ollama:llama3.2'), ['my-ollama:Qwen3:8b']);
  assert.deepEqual(allowed({ models: { allow: ['aigp_ollama/Qwen3:8B'] } }, 'my-ollama:qwen3:8b'), ['my-ollama:Qwen3:8b']);
  assert.deepEqual(allowed({ models: { allow: ['qwen3:8b'] } }, 'my-ollama:qwen3:8b'), ['my-ollama:Qwen3:8b']);
  assert.deepEqual(allowed({ models: { allow: ['my-ollama:qwen3:8b'] } }, 'my-ollama:qwen3:8b'), ['my-ollama:Qwen3:8b']);
  // Still pinned: another provider, another tag, or the untagged name allow nothing.
  assert.deepEqual(allowed({ models: { allow: ['other/qwen3:8b'] } }, 'my-ollama:qwen3:8b'), []);
  assert.deepEqual(allowed({ models: { allow: ['my-ollama/qwen3:4b'] } }, 'my-ollama:qwen3:8b'), []);
  assert.deepEqual(allowed({ models: { allow: ['my-ollama/qwen3'] } }, 'my-ollama:qwen3:8b'), []);
  assert.deepEqual(allowed({ models: { allow: ['anthropic:gpt-4o'] } }, 'gpt-4o'), []);
});
