import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centsToPico, costPico, formatUsd5, formatUsdExact, picoToCentsFloor, usdPerMillionToMicro } from './money.ts';

test('prices parse as exact micro-USD per million tokens', () => {
  assert.equal(usdPerMillionToMicro('2.50'), 2_500_000n);
  assert.equal(usdPerMillionToMicro('0.075'), 75_000n);
  assert.equal(usdPerMillionToMicro('15'), 15_000_000n);
  assert.throws(() => usdPerMillionToMicro('1e-3'));
  assert.throws(() => usdPerMillionToMicro('-1'));
});

test('cost of tokens is exact and renders with five decimals, half up', () => {
  // 1,234 tokens at $2.50/M = $0.003085
  assert.equal(formatUsd5(costPico(1234, usdPerMillionToMicro('2.50'))), '0.00309');
  assert.equal(formatUsd5(costPico(1, usdPerMillionToMicro('0.05'))), '0.00000');
  assert.equal(formatUsd5(0n), '0.00000');
  assert.equal(formatUsd5(12_345_678_900_000n), '12.34568');
  // Summing many tiny costs loses nothing before rendering.
  let sum = 0n;
  for (let i = 0; i < 1000; i++) sum += costPico(7, usdPerMillionToMicro('0.15'));
  assert.equal(sum, 1_050_000_000n);
  assert.equal(formatUsd5(sum), '0.00105');
});

test('balances convert between cents and pico-USD without rounding up', () => {
  assert.equal(centsToPico(500), 5_000_000_000_000n);
  assert.equal(picoToCentsFloor(centsToPico(500) - 1n), 499n);
  assert.equal(picoToCentsFloor(-1n), -1n);
  assert.equal(picoToCentsFloor(-centsToPico(2)), -2n);
});

test('a price per million tokens reads exactly as USD per token', () => {
  // micro-USD per million tokens is pico-USD per token.
  assert.equal(formatUsdExact(usdPerMillionToMicro('2.50')), '0.0000025');
  assert.equal(formatUsdExact(usdPerMillionToMicro('0.075')), '0.000000075');
  assert.equal(formatUsdExact(usdPerMillionToMicro('0')), '0');
  assert.equal(formatUsdExact(10_000_000_000n), '0.01', 'a web search at $10 per thousand');
  assert.equal(formatUsdExact(3n * 1_000_000_000_000n), '3');
});
