/// <reference types="node" />
// The configuration editor's model: what a save writes, here for the Firewall policy of the configuration's keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyConfig, fromConfiguration, summarizeAccess, toWrite } from './config-model.ts';
import type { Configuration } from './api.ts';

test('a configuration\'s Firewall policy is sent when chosen; none is left out on create and cleared (null) on update', () => {
  const chosen = { ...emptyConfig(), name: 'Agents', firewallPolicyId: 'aigfwp_1' };
  assert.equal(toWrite(chosen, false).firewallPolicyId, 'aigfwp_1');
  assert.equal(toWrite(chosen, true).firewallPolicyId, 'aigfwp_1');
  const none = { ...chosen, firewallPolicyId: '' };
  assert.equal('firewallPolicyId' in toWrite(none, false), false);
  assert.equal(toWrite(none, true).firewallPolicyId, null);
});

test('a stored configuration\'s Firewall policy reads back into the form, absent as none', () => {
  const stored = { id: 'aigac_1', name: 'Agents', firewallPolicyId: 'aigfwp_1' } as unknown as Configuration;
  assert.equal(fromConfiguration(stored).firewallPolicyId, 'aigfwp_1');
  assert.equal(fromConfiguration({ ...stored, firewallPolicyId: undefined }).firewallPolicyId, '');
  assert.equal(emptyConfig().firewallPolicyId, '');
});

test('the MCP allow lists: absent allows every server and tool; chosen, each is sent; cleared with the rest of access', () => {
  const open = { ...emptyConfig(), name: 'Agents' };
  assert.equal('access' in toWrite(open, false), false, 'allow all: no access object');
  const restricted = { ...open, mcpServers: { mode: 'only' as const, allow: ['docs'] }, mcpTools: { mode: 'only' as const, allow: ['docs/search', 'docs/get_*'] } };
  assert.deepEqual(toWrite(restricted, false).access, { mcpServers: { allow: ['docs'] }, mcpTools: { allow: ['docs/search', 'docs/get_*'] } });
  // An empty list is sent as one: it allows none.
  assert.deepEqual(toWrite({ ...open, mcpTools: { mode: 'only', allow: [] } }, true).access, { mcpTools: { allow: [] } });
  assert.equal(toWrite(open, true).access, null, 'back to allow all on update: the restriction is removed');
});

test('a stored configuration\'s MCP allow lists read back into the form, and into the list\'s summary only when set', () => {
  const stored = { id: 'aigac_1', name: 'Agents', access: { models: { allow: ['openai/gpt-4o'] }, mcpServers: { allow: ['docs'] }, mcpTools: { allow: [] } } } as unknown as Configuration;
  const state = fromConfiguration(stored);
  assert.deepEqual([state.mcpServers, state.mcpTools], [{ mode: 'only', allow: ['docs'] }, { mode: 'only', allow: [] }]);
  assert.deepEqual(fromConfiguration({ ...stored, access: undefined }).mcpServers, { mode: 'all', allow: [] });
  assert.equal(summarizeAccess(stored), 'all providers; openai/gpt-4o; MCP servers docs; no MCP tools (blocked)');
  assert.equal(summarizeAccess({ ...stored, access: undefined }), 'all providers; all models');
});
