import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SCORED_CHARS, searchTools, toolSearchOf } from './search.ts';
import type { McpTool } from './upstream.ts';

const names = (found: { tools: { name: string }[] }) => found.tools.map((t) => t.name);

test('a description is searched in its first 4,096 characters, whatever its size; the result carries it whole', () => {
  const description = `Loads rows in bulk. ${'x'.repeat(8 << 20)} quokka`;
  const tools = [{ label: 'sheets', tool: { name: 'bulk_load', description } }];
  assert.deepEqual(searchTools(tools, 'quokka', 10), { tools: [], total: 0 });
  const found = searchTools(tools, 'ROWS', 10);
  assert.deepEqual(names(found), ['sheets__bulk_load']);
  assert.equal(found.tools[0]!.description, description);
  // The bound is on where a word starts and ends: one ending at the last character scored is found, one crossing it not.
  const edge = (word: string, at: number) => [{ label: 's', tool: { name: 't', description: `${'-'.repeat(at)}${word}` } }];
  assert.equal(searchTools(edge('quokka', MAX_SCORED_CHARS - 6), 'quokka', 10).total, 1);
  assert.equal(searchTools(edge('quokka', MAX_SCORED_CHARS - 5), 'quokka', 10).total, 0);
  // A title or name as long is bounded the same.
  assert.equal(searchTools([{ label: 's', tool: { name: 't', title: `${'y'.repeat(MAX_SCORED_CHARS)}quokka` } }], 'quokka', 10).total, 0);
  assert.equal(searchTools([{ label: 's', tool: { name: `${'y'.repeat(MAX_SCORED_CHARS)}quokka` } }], 'quokka', 10).total, 0);
});

test('a tool\'s texts are read and lowercased once while its server\'s list is kept, not on every search', () => {
  let reads = 0;
  const listing = (): McpTool => ({ name: 'fetch_page', get description() { reads++; return 'Fetches a PAGE by its path'; } });
  const tool = listing();
  const listed = [{ label: 'docs', tool }];
  for (const query of ['page', 'path', 'fetch', 'nothing']) searchTools(listed, query, 10);
  assert.equal(searchTools(listed, 'path', 10).tools[0]!.description, 'Fetches a PAGE by its path');
  assert.equal(reads, 1);
  // The same tool listed again (a list fetched anew) is another object: read anew.
  searchTools([{ label: 'docs', tool: listing() }], 'page', 10);
  assert.equal(reads, 2);
});

test('a result shows the title it was scored by: title, else annotations.title (MCP\'s display-name precedence)', () => {
  const found = searchTools([
    { label: 'a', tool: { name: 'one', title: 'Open a ticket', annotations: { title: 'Ignored' } } },
    { label: 'a', tool: { name: 'two', annotations: { title: 'Open an issue' } } },
    { label: 'a', tool: { name: 'three', title: '', annotations: { title: 'Open a door' } } },
    { label: 'a', tool: { name: 'four', annotations: { title: 7 }, description: 'Opens nothing' } },
  ], 'open', 10);
  assert.deepEqual(found.tools.map((t) => [t.name, t.title]), [['a__one', 'Open a ticket'], ['a__three', 'Open a door'], ['a__two', 'Open an issue'], ['a__four', undefined]]);
  // An annotations title is scored as a title, above a description.
  assert.deepEqual(names(searchTools([{ label: 'a', tool: { name: 'x', description: 'issue' } }, { label: 'a', tool: { name: 'y', annotations: { title: 'issue' } } }], 'issue', 10)), ['a__y', 'a__x']);
});

test('the endpoints take one query parameter, spelt tools: another name, a case variant included, is refused as another value is', () => {
  assert.equal(toolSearchOf('/mcp'), false);
  assert.equal(toolSearchOf('/mcp?'), false);
  assert.equal(toolSearchOf('/mcp?tools=search'), true);
  assert.equal(toolSearchOf('/mcp?tools=search&tools=search'), true);
  assert.match(String(toolSearchOf('/mcp?tools=all')), /^Unknown tools=all/);
  for (const [url, name] of [['/mcp?TOOLS=search', 'TOOLS'], ['/mcp?Tools=search', 'Tools'], ['/?tool=search', 'tool'], ['/mcp?tools=search&x=1', 'x'], ['/mcp?=search', '']]) {
    assert.match(String(toolSearchOf(url)), new RegExp(`^Unknown query parameter "${name}": .*tools=search`), url);
  }
});
