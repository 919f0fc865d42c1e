import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editedBodyText, repeatedKey, withoutRepeatedKeys } from './body-edit.ts';

/** What the gateway does: parse, edit a shallow copy, write it back. */
function edit(raw: string, change: (body: Record<string, unknown>) => void): string {
  const original = JSON.parse(raw) as Record<string, unknown>;
  const edited = { ...original };
  change(edited);
  const text = editedBodyText(raw, original, edited);
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(edited)), 'same JSON value as serialising the edit');
  return text;
}

describe('editedBodyText', () => {
  it('keeps values the gateway did not touch as the client wrote them: big integers, 1.0, exponents, escapes', () => {
    const raw = '{ "model" : "gpt-4o", "seed": 9007199254740993, "temperature": 1.0, "n": 1e0,\n "messages": [ {"role":"user","content":"h\\u00e9 \\"q\\" }]"} ], "models": ["a","b"] }';
    const text = edit(raw, (b) => { b.model = 'gpt-4o-2024-08-06'; delete b.models; });
    assert.equal(text, '{"model":"gpt-4o-2024-08-06","seed": 9007199254740993,"temperature": 1.0,"n": 1e0,"messages": [ {"role":"user","content":"h\\u00e9 \\"q\\" }]"} ]}');
  });

  it('adds new members at the end and serialises changed objects', () => {
    const raw = '{"model":"m","stream":true,"stream_options":{"include_usage":false},"max_tokens":90071992547409930}';
    const text = edit(raw, (b) => { b.stream_options = { include_usage: true }; b.max_tokens = 100; b.max_completion_tokens = 100; });
    assert.equal(text, '{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":100,"max_completion_tokens":100}');
  });

  it('escaped keys, nested look-alikes and null values', () => {
    const raw = '{"mo\\u0064el":"x","tools":[{"model":"inner","n":{"}":"]"}}],"user":null,"a":false}';
    const text = edit(raw, (b) => { b.model = 'y'; });
    assert.equal(text, '{"model":"y","tools":[{"model":"inner","n":{"}":"]"}}],"user":null,"a":false}');
  });

  it('duplicate keys: only the last, the one the parse kept, is written', () => {
    const raw = '{"model":"a","seed":1,"model":"b","x":1.0,"x":2.50}';
    assert.equal(edit(raw, (b) => { b.seed = 2; }), '{"seed":2,"model":"b","x":2.50}');
  });

  it('withoutRepeatedKeys: undefined when every key is once (nested repeats are the client\'s own), else the last of each', () => {
    const once = '{"model":"a","tools":[{"model":"x"},{"model":"y"}],"n":{"a":1,"a":2}}';
    assert.equal(withoutRepeatedKeys(once, JSON.parse(once) as Record<string, unknown>), undefined);
    const twice = '{"model":"a", "seed": 9007199254740993, "mo\\u0064el":"b"}';
    assert.equal(withoutRepeatedKeys(twice, JSON.parse(twice) as Record<string, unknown>), '{"seed": 9007199254740993,"mo\\u0064el":"b"}');
  });

  it('numbers, negative numbers and exponents inside arrays are crossed whole (the fast path for number runs)', () => {
    const raw = '{"input":[[1,-2,3.5e-7,-0.5E+3],[40,[5]],{"model":"inner"}],"model":"a","n":-1,"model":"b"}';
    assert.equal(withoutRepeatedKeys(raw, JSON.parse(raw) as Record<string, unknown>), '{"input":[[1,-2,3.5e-7,-0.5E+3],[40,[5]],{"model":"inner"}],"n":-1,"model":"b"}');
  });

  it('never re-serialises client values, however deeply nested', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const raw = `{"model":"a","model":"openai:b","x":${deep}}`;
    const original = JSON.parse(raw) as Record<string, unknown>;
    assert.equal(editedBodyText(raw, original, { ...original, model: 'b' }), `{"model":"b","x":${deep}}`);
  });

  it('random bodies, odd spacing and escapes: the edit parses back to the same value, untouched members byte for byte', () => {
    let seed = 11;
    const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const pieces = ['a', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'é', '✓', '\u0000', '\n', '😀'];
    const text = () => Array.from({ length: random(12) }, () => pieces[random(pieces.length)]).join('');
    const value = (depth: number): unknown => {
      switch (random(depth > 2 ? 4 : 6)) {
        case 0: return text();
        case 1: return random(2) ? random(1e6) / 7 : -random(100);
        case 2: return [true, false, null][random(3)];
        case 3: return 9007199254740993;
        case 4: return Array.from({ length: random(4) }, () => value(depth + 1));
        default: return Object.fromEntries(Array.from({ length: random(4) }, () => [text(), value(depth + 1)]));
      }
    };
    const spaced = (json: string) => json.replace(/([,:{}[\]])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g, (m) => (random(2) ? ` ${m}\n ` : m));
    for (let round = 0; round < 300; round++) {
      const body: Record<string, unknown> = { model: text() };
      for (let k = 0; k < random(6); k++) body[`${text()}${k}`] = value(0);
      const raw = spaced(JSON.stringify(body));
      const original = JSON.parse(raw) as Record<string, unknown>;
      const edited: Record<string, unknown> = { ...original, model: 'm' };
      if (random(2)) delete edited[Object.keys(original)[random(Object.keys(original).length)]!];
      if (random(2)) edited.stream_options = { include_usage: true };
      const out = editedBodyText(raw, original, edited);
      assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(edited)), raw);
      for (const [key, v] of Object.entries(edited)) {
        if (key !== 'model' && key !== 'stream_options' && v === original[key] && typeof v === 'number' && v > 2 ** 53) assert.ok(out.includes('9007199254740993'));
      }
    }
  });
});

describe('repeatedKey', () => {
  it('finds a key given twice in one object at any depth, escaped or not; not one given once in each of two objects', () => {
    assert.equal(repeatedKey('{"a":[{"type":"image","type":"text"}]}'), 'type');
    assert.equal(repeatedKey('{"a":{"b":{"c":1,"\\u0063":2}}}'), 'c');
    assert.equal(repeatedKey('{"a":{"x":1},"b":{"x":1},"c":[{"x":"{\\"x\\":1,\\"x\\":2}"},{"x":[1,{"y":2}],"y":3}]}'), undefined);
    assert.equal(repeatedKey('{"a":[],"b":{},"c":["a","a"],"d":1}'), undefined);
  });
});
