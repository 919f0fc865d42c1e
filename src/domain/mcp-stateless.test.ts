import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeaderValue, eraOf, forEra, paramHeaders, paramMismatch, statelessHeaders } from './mcp-stateless.ts';
import type { JsonRpcMessage } from './json-rpc.ts';

const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const call = (name: string): JsonRpcMessage => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {}, _meta: { ...meta, progressToken: 'p' } } });
const headers = (name: string) => ({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name });
const code = (era: ReturnType<typeof eraOf>) => (era.era === 'refused' ? [era.status, (JSON.parse(era.body) as { error: { code: number } }).error.code] : era.era);

test('a request\'s era is its body\'s: a 2025 one has no _meta revision, whatever its headers', () => {
  assert.equal(code(eraOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, {})), 'session');
  assert.equal(code(eraOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '2025-11-25' })), 'session');
  assert.deepEqual(code(eraOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '2026-07-28' })), [400, -32602]);
  assert.equal(code(eraOf({ jsonrpc: '2.0', method: 'notifications/cancelled' }, { 'mcp-protocol-version': '2026-07-28' })), 'stateless');
  assert.equal(code(eraOf(call('docs__search'), headers('docs__search'))), 'stateless');
});

test('Mcp-Name: a name that cannot travel as it is is base64-wrapped, and read back before it is compared', () => {
  for (const name of ['docs__search', 'résumé', ' padded ', '=?base64?x?=']) {
    const sent = encodeHeaderValue(name);
    assert.match(sent, /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/);
    assert.equal(code(eraOf(call(name), headers(sent))), 'stateless', name);
  }
  assert.deepEqual(code(eraOf(call('docs__admin_delete'), headers('docs__search'))), [400, -32020]);
  assert.deepEqual(code(eraOf(call('x'), headers('=?base64?not base64?='))), [400, -32020]);
  assert.deepEqual(code(eraOf(call('x'), { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' })), [400, -32020]);
  assert.deepEqual(code(eraOf(call('x'), { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list', 'mcp-name': 'x' })), [400, -32020]);
  assert.deepEqual(code(eraOf({ ...call('x'), params: { name: 'x', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }, headers('x'))), [400, -32602]);
});

test('a message goes to a 2025 server without the revision\'s _meta, to a stateless one with it and its headers', () => {
  const legacy = forEra(call('search'), undefined);
  assert.deepEqual(legacy.params, { name: 'search', arguments: {}, _meta: { progressToken: 'p' } });
  const plain: JsonRpcMessage = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
  assert.equal(forEra(plain, undefined), plain);
  const stateless = forEra({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'résumé' } }, { clientInfo: { name: 'gw', version: '1' } });
  assert.deepEqual(stateless.params?._meta, { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'gw', version: '1' } });
  assert.deepEqual(statelessHeaders(stateless), { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('résumé').toString('base64')}?=` });
});

test('only the revision\'s envelope is taken out or replaced: other reserved _meta keys (2025-11-25 tasks\') go as sent', () => {
  const related = { 'io.modelcontextprotocol/related-task': { taskId: 't-1' } };
  const legacy: JsonRpcMessage = { jsonrpc: '2.0', id: 1, method: 'tasks/result', params: { taskId: 't-1', _meta: related } };
  assert.deepEqual(forEra(legacy, undefined), legacy);
  const stateless = call('search');
  stateless.params!._meta = { ...meta, ...related, 'io.modelcontextprotocol/logLevel': 'debug' };
  assert.deepEqual(forEra(stateless, undefined).params?._meta, related);
  assert.deepEqual(forEra(stateless, { clientInfo: { name: 'gw', version: '1' } }).params?._meta, {
    ...related, ...meta, 'io.modelcontextprotocol/clientInfo': { name: 'gw', version: '1' }, 'io.modelcontextprotocol/logLevel': 'debug',
  });
});

test('Mcp-Param headers: the arguments a tool marks with x-mcp-header, through properties only, primitives only', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
      target: { type: 'object', properties: { port: { type: 'integer', 'x-mcp-header': 'Port' } } },
      list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } },
      bad: { type: 'string', 'x-mcp-header': 'Not a token' },
      absent: { type: 'string', 'x-mcp-header': 'Absent' },
    },
  };
  const args = { region: 'São Paulo', dryRun: false, target: { port: 8443 }, list: ['x'], bad: 'y' };
  assert.deepEqual(paramHeaders(schema, args), { 'mcp-param-region': `=?base64?${Buffer.from('São Paulo').toString('base64')}?=`, 'mcp-param-dry-run': 'false', 'mcp-param-port': '8443' });
  assert.deepEqual(paramHeaders(schema, { region: { not: 'a primitive' } }), {});
  assert.equal(paramMismatch(1, schema, args, paramHeaders(schema, args)), undefined);
  const lying = paramMismatch(1, schema, args, { ...paramHeaders(schema, args), 'mcp-param-port': '80' });
  assert.deepEqual(JSON.parse(lying!).error.code, -32020);
});
