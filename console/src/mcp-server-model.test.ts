/// <reference types="node" />
// The MCP server editor's model: what a save writes for each auth type, which key a new secret replaces, where a
// refusal is shown, and the checks of a configuration's MCP tool patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blameOf, describeAuth, emptyServer, fromServer, keyToRotate, secretProvider, toolPatternProblem, toWrite, writesSecret } from './mcp-server-model.ts';
import type { McpServer } from './api.ts';

test('each auth type sends only its own fields; a prefix only in a header, kept with its space', () => {
  const base = { ...emptyServer(), label: ' docs ', upstreamUrl: ' https://mcp.example.com/mcp ', secretName: ' X-Api-Token ', secretPrefix: 'Bearer ', headers: 'X-Tenant\n\n X-Trace ' };
  assert.deepEqual(toWrite(base, false), { label: 'docs', upstreamUrl: 'https://mcp.example.com/mcp', auth: { type: 'none' } });
  assert.deepEqual(toWrite({ ...base, authType: 'secret' }, false).auth, { type: 'secret', in: 'header', name: 'X-Api-Token', prefix: 'Bearer ' });
  assert.deepEqual(toWrite({ ...base, authType: 'secret', secretPrefix: '' }, false).auth, { type: 'secret', in: 'header', name: 'X-Api-Token' });
  assert.deepEqual(toWrite({ ...base, authType: 'secret', secretIn: 'query', secretName: 'api_key' }, false).auth, { type: 'secret', in: 'query', name: 'api_key' });
  assert.deepEqual(toWrite({ ...base, authType: 'forwardHeaders' }, false).auth, { type: 'forwardHeaders', headers: ['X-Tenant', 'X-Trace'] });
  assert.deepEqual(toWrite({ ...base, authType: 'oauthPassthrough' }, false).auth, { type: 'oauthPassthrough' });
  assert.equal(toWrite({ ...base, description: ' ' }, true).description, null, 'an emptied description is removed on update');
  assert.equal('description' in toWrite(base, false), false);
  assert.equal('secret' in toWrite({ ...base, authType: 'secret', secret: 's3cret' }, false), false, 'the secret is no field of the server');
});

test('a stored server reads back into its form without its secret, and writes back as it was', () => {
  const server = {
    id: 'aigmcp_1', label: 'docs', description: 'Docs', upstreamUrl: 'https://mcp.example.com/mcp', url: '/mcp/s-aigmcp_1', hasSecret: true,
    auth: { type: 'secret', in: 'header', name: 'Authorization', prefix: 'Token ' },
  } as unknown as McpServer;
  const state = fromServer(server);
  assert.equal(state.secret, '', 'the stored secret is never read back');
  assert.deepEqual(toWrite(state, true), { label: 'docs', description: 'Docs', upstreamUrl: 'https://mcp.example.com/mcp', auth: server.auth });
  // A server of another type offers the usual header once switched to a secret.
  const plain = fromServer({ ...server, auth: { type: 'forwardHeaders', headers: ['X-Tenant'] } });
  assert.deepEqual([plain.headers, plain.secretIn, plain.secretName, plain.secretPrefix], ['X-Tenant', 'header', 'Authorization', 'Bearer ']);
});

test('a secret is written only when typed for a secret server, to mcp:<label>, replacing the key the gateway sends', () => {
  const s = { ...emptyServer(), label: 'docs', authType: 'secret' as const };
  assert.equal(writesSecret(s), false, 'empty: the stored secret stays');
  assert.equal(writesSecret({ ...s, secret: 'x' }), true);
  assert.equal(writesSecret({ ...s, authType: 'none', secret: 'x' }), false, 'a value left from another type is not stored');
  assert.equal(secretProvider('docs'), 'mcp:docs');
  // Lists run newest first; the gateway sends the oldest, so that is the one a new value replaces.
  assert.equal(keyToRotate([{ id: 'aigpk_new' }, { id: 'aigpk_old' }])?.id, 'aigpk_old');
  assert.equal(keyToRotate([]), undefined, 'none yet: one is created');
});

test('refusals go to the field they are about; the label\'s conflicts to the label; the limit by Save', () => {
  assert.equal(blameOf('ERR_NGROK_AI_GATEWAY_MCP_SERVER_PROVIDER_KEYS_CONFLICT', { label: 'docs' }), 'label');
  assert.equal(blameOf('ERR_NGROK_27607', { resource: 'An MCP server labelled "docs"' }), 'label');
  assert.equal(blameOf('ERR_NGROK_AI_GATEWAY_MCP_SERVER_LIMIT_EXCEEDED', { limit: '50' }), undefined);
  assert.deepEqual(['label', 'upstreamUrl', 'auth', 'auth.name', 'auth.headers.2', 'auth.prefix'].map((field) => blameOf('ERR_NGROK_27606', { field })),
    ['label', 'upstreamUrl', 'auth.type', 'auth.name', 'auth.headers', 'auth.prefix']);
  assert.equal(blameOf('ERR_NGROK_27718', { reason: 'https is required.' }), undefined);
  assert.equal(blameOf('ERR_NGROK_404', { resource: 'MCP server' }), undefined, 'deleted meanwhile: by Save');
  // The provider key's write: any refusal of its own fields is the secret field's.
  assert.equal(blameOf('ERR_NGROK_27606', { field: 'value' }, true), 'secret');
  assert.equal(blameOf('ERR_NGROK_27508', {}, true), 'secret');
});

test('the list says each auth in words', () => {
  assert.equal(describeAuth({ type: 'secret', in: 'query', name: 'api_key' }), 'Secret in query api_key');
  assert.equal(describeAuth({ type: 'forwardHeaders', headers: ['X-A', 'X-B'] }), 'Forwards X-A, X-B');
  assert.equal(describeAuth({ type: 'none' }), 'None');
});

test('a tool pattern is checked before it is added, as the API will: <label>/<tool>; an unknown label only warned of', () => {
  const labels = ['docs', 'github'];
  assert.equal(toolPatternProblem('docs/search', labels), undefined);
  assert.equal(toolPatternProblem('docs/*', labels), undefined);
  assert.equal(toolPatternProblem('*/read_*', labels), undefined, 'a wildcard label matches servers by pattern');
  assert.equal(toolPatternProblem('search', labels)?.blocking, true);
  assert.match(toolPatternProblem('search', labels)!.text, /<label>\/<tool>/);
  assert.equal(toolPatternProblem('Docs/search', labels)?.blocking, true, 'labels are lowercase');
  assert.equal(toolPatternProblem('docs/two words', labels)?.blocking, true);
  assert.deepEqual(toolPatternProblem('jira/search', labels), { text: 'No MCP server is labelled "jira": this pattern allows nothing until one is.', blocking: false });
  assert.equal(toolPatternProblem('jira/search', undefined), undefined, 'the servers not known: nothing to warn of');
});
