/// <reference types="node" />
// The virtual model editor's model: which addresses the picker sends, what a save writes, and where a refusal shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blameOf, describeTarget, firstChoice, targetChoices, targetOf, toWrite } from './virtual-model-model.ts';
import type { Model } from './api.ts';

function model(id: string, ownedBy: string, providers: [string, string][]): Model {
  return { id, owned_by: ownedBy, providers: providers.map(([p, address]) => ({ id: p, model_id: address })) } as unknown as Model;
}

test('a catalog model is offered for any provider (its catalog id) or pinned to each provider serving it; a custom one only pinned', () => {
  const [, claude, llama] = targetChoices([
    model('anthropic/claude-sonnet-4-6', 'ngrok', [['anthropic', 'anthropic:claude-sonnet-4-6'], ['bedrock', 'bedrock:claude-sonnet-4-6']]),
    model('my-ollama:llama3.2', 'organization_owned', [['my-ollama', 'my-ollama:llama3.2']]),
  ]);
  assert.equal(targetOf(claude!, ''), 'anthropic/claude-sonnet-4-6');
  assert.equal(targetOf(claude!, 'bedrock'), 'bedrock:claude-sonnet-4-6');
  assert.equal(targetOf(claude!, 'openai'), undefined, 'a provider not serving the model has no address');
  assert.equal(targetOf(llama!, ''), undefined, 'a custom model has no any-provider address');
  assert.equal(targetOf(llama!, 'my-ollama'), 'my-ollama:llama3.2');
  assert.equal(describeTarget('anthropic/claude-sonnet-4-6'), 'any provider');
  assert.equal(describeTarget('bedrock:claude-sonnet-4-6'), 'only bedrock');
  assert.equal(describeTarget('ngrok/auto'), 'automatic selection');
});

test('automatic selection is offered first, as ngrok/auto alone (no provider to pick), but the picker starts on the first model', () => {
  const choices = targetChoices([model('openai/gpt-4o', 'ngrok', [['openai', 'openai:gpt-4o']])]);
  const [auto] = choices;
  assert.deepEqual([auto!.label, auto!.automatic, targetOf(auto!, ''), auto!.pinned], ['Automatic selection (ngrok/auto)', true, 'ngrok/auto', []]);
  assert.equal(firstChoice(choices)?.id, 'openai/gpt-4o');
  assert.equal(firstChoice(targetChoices([]))?.id, 'ngrok/auto', 'with no model listed, automatic selection is still there to pick');
});

test('a save sends the targets in the order shown; an emptied description is cleared on update, left out on create', () => {
  const s = { name: ' fast ', description: '  ', targets: ['openai:gpt-4o', 'anthropic/claude-sonnet-4-6'] };
  assert.deepEqual(toWrite(s, false), { name: 'fast', targets: ['openai:gpt-4o', 'anthropic/claude-sonnet-4-6'] });
  assert.deepEqual(toWrite(s, true), { name: 'fast', description: null, targets: ['openai:gpt-4o', 'anthropic/claude-sonnet-4-6'] });
  assert.deepEqual(toWrite({ ...s, description: 'cheap first' }, true).description, 'cheap first');
});

test('each refusal of the control plane is placed: name errors at the name, a target error at that target, list errors at the list', () => {
  const code = (kind: string) => `ERR_NGROK_AI_GATEWAY_VIRTUAL_MODEL_${kind}`;
  const targets = ['openai:gpt-4o', 'nope:model', 'OpenAI:GPT-4o'];
  for (const kind of ['NAME_REQUIRED', 'NAME_TOO_LONG', 'NAME_ILLEGAL_CHARACTER', 'NAME_CONFLICT', 'NAME_ALREADY_EXISTS']) {
    assert.equal(blameOf(code(kind), {}, targets), 'name', kind);
  }
  assert.equal(blameOf(code('TARGET_NOT_FOUND'), { target: 'nope:model' }, targets), 1);
  // Compared case-insensitively, as the API does; the repeat is blamed, not the first occurrence.
  assert.equal(blameOf(code('TARGET_DUPLICATED'), { target: 'openai:gpt-4o' }, targets), 2);
  assert.equal(blameOf(code('TARGET_NESTING_NOT_ALLOWED'), { target: 'FAST' }, ['fast']), 0);
  assert.equal(blameOf(code('TARGETS_OUT_OF_RANGE'), { min: '1', max: '10', count: '0' }, []), 'targets');
  assert.equal(blameOf(code('TARGET_AUTO_MIXED_NOT_ALLOWED'), {}, ['ngrok/auto', 'openai:gpt-4o']), 'targets');
  // About the save, not a field: shown by the Save button.
  assert.equal(blameOf(code('LIMIT_EXCEEDED'), { limit: '100' }, targets), undefined);
  assert.equal(blameOf('ERR_NGROK_27700', {}, targets), undefined);
  assert.equal(blameOf(undefined, {}, targets), undefined);
  assert.equal(blameOf('ERR_NGROK_27703', { field: 'description' }, targets), 'description');
});
