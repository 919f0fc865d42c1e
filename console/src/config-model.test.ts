/// <reference types="node" />
// The configuration editor's model: what a save writes, here for the Firewall policy of the configuration's keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyConfig, fromConfiguration, toWrite } from './config-model.ts';
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
