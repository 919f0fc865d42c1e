import { test } from 'node:test';
import assert from 'node:assert/strict';
import { askedSchema, sampleOf } from './structured-output.ts';

test('the fake\'s structured answer fits the schema each surface asks it in, references and alternatives followed', () => {
  const schema = {
    type: 'object',
    properties: { city: { type: 'string' }, at: { $ref: '#/definitions/place' }, n: { type: ['integer', 'null'] }, tags: { type: 'array', items: { enum: ['a', 'b'] } }, either: { anyOf: [{ type: 'boolean' }, { type: 'string' }] } },
    definitions: { place: { type: 'object', properties: { here: { const: 'yes' }, next: { $ref: '#/definitions/place' } } } },
  };
  for (const body of [
    { response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } },
    { text: { format: { type: 'json_schema', name: 'x', schema } } },
    { output_config: { format: { type: 'json_schema', schema } } },
    { output_format: { type: 'json_schema', schema } },
  ]) assert.equal(askedSchema(body), schema);
  assert.equal(askedSchema({ response_format: { type: 'json_object' } }), undefined);
  const sample = sampleOf(schema, 'hi') as { city: string; at: { here: string; next: unknown }; n: number; tags: string[]; either: boolean };
  assert.deepEqual([sample.city, sample.at.here, sample.n, sample.tags, sample.either], ['hi', 'yes', 42, ['a'], true]);
  // A recursive definition ends (null past a depth) instead of recursing forever.
  assert.ok(JSON.stringify(sample).includes('null'));
});
