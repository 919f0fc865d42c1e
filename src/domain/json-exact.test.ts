import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNumbersExact } from './json-exact.ts';

test('numbers written again as they were written: past 2^53, past a double, trailing zeros, exponents, -0', () => {
  const text = '{"a":12345678901234567890,"b":[1e400,1.50,-0,1E2,0.1],"c":{"d":"caf\\u00e9"},"e":null,"f":true}';
  const again = JSON.stringify(parseNumbersExact(text));
  assert.equal(again, '{"a":12345678901234567890,"b":[1e400,1.50,-0,1E2,0.1],"c":{"d":"café"},"e":null,"f":true}');
  // Plain JSON.parse loses them: the reason this exists.
  assert.notEqual(JSON.stringify(JSON.parse(text)), again);
  assert.throws(() => parseNumbersExact('{"a":1,}'), SyntaxError);
});
