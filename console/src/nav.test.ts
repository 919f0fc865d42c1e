/// <reference types="node" />
// Hash routes: a route's hash read back by the router as the same route, as deep links (the Playground's link to a
// request's Logs entry) rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeHash, routeOf } from './nav.ts';

test("the Playground's Logs link names the request's route, which the router reads back as that request, whatever its id holds", () => {
  for (const id of ['aigr_2Zx9', 'a/b#c%d e']) assert.deepEqual(routeOf(routeHash('logs', id)), ['logs', id], id);
  assert.deepEqual(routeOf('#/logs'), ['logs']);
  assert.equal(routeOf('#main'), undefined, 'an in-page anchor is no route');
});
