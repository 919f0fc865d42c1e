import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mcpServerAllowed, mcpToolAllowed } from './access.ts';
import { EventData } from './jsonrpc.ts';

test('allow lists: servers by label, tools as <label>/<tool> with * for any characters, case-sensitive; absent allows all, empty none', () => {
  assert.equal(mcpToolAllowed(null, 'docs', 'search'), true);
  const scope = { mcpServers: { allow: ['docs', 'tickets'] }, mcpTools: { allow: ['docs/search', 'docs/get_*', 'tickets/*'] } };
  assert.deepEqual(['search', 'get_page', 'get_', 'Search', 'delete', 'xget_page'].map((t) => mcpToolAllowed(scope, 'docs', t)), [true, true, true, false, false, false]);
  assert.equal(mcpToolAllowed(scope, 'tickets', 'any.thing/with*stars'), true);
  // A tool pattern never lets in a server the server list leaves out.
  assert.equal(mcpToolAllowed({ mcpServers: { allow: ['docs'] }, mcpTools: { allow: ['tickets/*'] } }, 'tickets', 'create'), false);
  assert.equal(mcpServerAllowed({ mcpServers: { allow: [] } }, 'docs'), false);
  assert.equal(mcpToolAllowed({ mcpTools: { allow: [] } }, 'docs', 'search'), false);
  // Regular-expression characters in a pattern are themselves.
  assert.equal(mcpToolAllowed({ mcpTools: { allow: ['docs/a.b'] } }, 'docs', 'axb'), false);
  assert.equal(mcpToolAllowed({ mcpTools: { allow: ['docs/a.*'] } }, 'docs', 'a.b'), true);
});

test('event data: split across chunks, CRLF, multi-line data, comments and other fields skipped', () => {
  const seen: string[] = [];
  const events = new EventData();
  for (const chunk of [': ping\n\nevent: message\nid: 1\nda', 'ta: {"a":1}\r\n\r\ndata: one\ndata:two\n', '\n']) events.push(chunk, (d) => seen.push(d));
  assert.deepEqual(seen, ['{"a":1}', 'one\ntwo']);
});
