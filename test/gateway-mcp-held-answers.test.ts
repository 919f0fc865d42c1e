// An MCP server's JSON answer is held whole before it is relayed, as a model's collected answer is: it counts in the
// process's tally of answers held at once (exchange.ts HeldAnswers), within the account's share, and gives its bytes
// back once read (gateway-behaviour.md, "MCP gateway", "Protocol").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { json, startScripted } from './helpers/mcp-scripted.ts';
import { mcpServer, post, startMcpGateway } from './helpers/mcp-gateway.ts';
import { HeldAnswers } from '../src/gateway/exchange.ts';
import type { UsageEvent } from '../src/usage/event.ts';

const ANSWER_TEXT = 'x'.repeat(4000);

test('a JSON answer that would take the held answers past their limit fails as the gateway busy, and gives its bytes back', async () => {
  const server = await startScripted();
  server.onCall = (m, res) => json(res, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: ANSWER_TEXT }] } });
  const tally = new HeldAnswers(10_000);
  const { gateway, usage } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', server)] }, { heldAnswers: tally });
  try {
    const call = async (id: number) => (await post(gateway, '/mcp/s-aigmcp_docs', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search', arguments: {} } })).json() as Promise<{ result?: { content: { text: string }[] }; error?: { message: string } }>;
    // Another account's answers hold most of the room.
    assert.equal(tally.take('acct_other', 9_000), 'taken');
    const refused = await call(1);
    assert.equal(refused.result, undefined);
    assert.match(refused.error?.message ?? '', /MCP server "docs" answered while the gateway held as much of other answers as it holds at once; retry the call\./);
    assert.equal(tally.held, 9_000, 'the refused answer gave back what it took');
    // Recorded failed, at no fee: the server's answer never reached the client.
    const recorded = usage.filter((e): e is UsageEvent => 'completion' in e);
    assert.equal(recorded.at(-1)?.completion, 'failed');
    assert.equal(recorded.at(-1)?.costPico, 0n);

    tally.give('acct_other', 9_000);
    const served = await call(2);
    assert.equal(served.result?.content[0]?.text, ANSWER_TEXT);
    assert.equal(tally.held, 0, 'an answer read whole leaves the tally');
  } finally {
    await gateway.close(0);
    await server.close();
  }
});

test("one account's JSON answers hold no more than its share of the tally", async () => {
  const server = await startScripted();
  server.onCall = (m, res) => json(res, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: ANSWER_TEXT }] } });
  // The room is free, but the account's share is smaller than the answer.
  const tally = new HeldAnswers(100_000, 3_000);
  const { gateway } = await startMcpGateway({ servers: [mcpServer('aigmcp_docs', server)] }, { heldAnswers: tally });
  try {
    const res = await post(gateway, '/mcp/s-aigmcp_docs', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search', arguments: {} } });
    const body = await res.json() as { error?: { message: string } };
    assert.match(body.error?.message ?? '', /MCP server "docs" answered while this account's other answers held as much as one account's may at once; retry the call\./);
    assert.equal(tally.held, 0);
  } finally {
    await gateway.close(0);
    await server.close();
  }
});
