// The benchmark's ratios: on a machine whose speed drifts between minutes, each repeat of Tollgate is set against
// the same repeat of the reference (measured seconds apart), so a slow minute for both does not skew the ratio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedRatio, ratios, svgChart, TARGET_LABELS, type Row } from '../bench/lib/report.ts';
import { historyTable } from '../bench/history.ts';

const row = (target: Row['target'], rpsByRepeat: number[], cpuUsByRepeat: number[]): Row => ({
  target, mode: 'json', status: 'ok', rpsByRepeat, cpuUsByRepeat,
  rps: [...rpsByRepeat].sort((a, b) => a - b)[1], cpuUsPerRequest: [...cpuUsByRepeat].sort((a, b) => a - b)[1],
});

test('ratios pair each repeat of Tollgate with the same repeat of the bare proxy and Portkey', () => {
  // Repeat 2 was a slow minute for everyone. Pairs say 0.6 / 0.7 / 0.56 (median 0.6); the ratio of the medians,
  // which sets repeat 3's Tollgate against repeat 3's bare proxy only by accident, would say 0.56.
  const rows = [
    row('bare', [10_000, 5_000, 9_000], [100, 200, 110]),
    row('tollgate', [6_000, 3_500, 5_000], [150, 280, 200]),
    row('portkey', [1_000, 500, 1_000], [1_000, 2_000, 1_000]),
  ];
  assert.equal((rows[1]!.rps! / rows[0]!.rps!).toFixed(3), '0.556');
  const byName = Object.fromEntries(ratios(rows).map((r) => [r.name, r]));
  assert.equal(byName['Tollgate / bare proxy, req/s']!.value.toFixed(3), '0.600');
  assert.equal(byName['Tollgate / bare proxy, req/s per core']!.value.toFixed(3), '0.667');
  assert.equal(byName['Tollgate / bare proxy, req/s']!.meets, false);
  assert.equal(byName['Tollgate / Portkey, req/s']!.value.toFixed(3), '6.000');
  assert.equal(byName['Tollgate / Portkey, req/s per core']!.value.toFixed(3), '6.667');
  assert.equal(byName['Tollgate / Portkey, req/s']!.budget, '≥ 8');
});

test('the bare proxy with durable usage is set against the bare proxy, as information with no budget', () => {
  const rows = [row('bare', [10_000, 5_000, 9_000], [100, 200, 110]), row('floor', [7_500, 3_500, 7_200], [130, 280, 140]), row('tollgate', [6_000, 3_500, 5_000], [150, 280, 200])];
  const floor = ratios(rows).find((r) => r.name === 'bare + durable usage / bare proxy, req/s');
  assert.equal(floor?.value.toFixed(3), '0.750');
  assert.equal(floor?.budget, '(info)');
  const ofFloor = ratios(rows).find((r) => r.name === 'Tollgate / bare + durable usage, req/s');
  assert.equal(ofFloor?.value.toFixed(3), '0.800', 'median of 0.800, 1.000, 0.694');
  assert.equal(ofFloor?.budget, '(info)');
});

test('without per-repeat figures (or with unequal repeats) the ratio is that of the medians', () => {
  assert.equal(pairedRatio(undefined, undefined, 6_000, 10_000), 0.6);
  assert.equal(pairedRatio([1, 2], [1, 2, 3], 6_000, 10_000), 0.6);
  assert.equal(pairedRatio(undefined, undefined, 6_000, undefined), undefined);
  assert.deepEqual(ratios([row('tollgate', [1], [1])]), []);
});

test('a Tollgate that served nothing shows as a failed 0× ratio, not as a missing line', () => {
  const [ratio] = ratios([row('bare', [10_000, 10_000, 10_000], [100, 100, 100]), row('tollgate', [0, 0, 0], [NaN, NaN, NaN])]);
  assert.equal(ratio?.name, 'Tollgate / bare proxy, req/s');
  assert.equal(ratio?.value, 0);
  assert.equal(ratio?.meets, false);
});

test('a baseline build (--baseline) is set against Tollgate repeat by repeat, as information with no budget', () => {
  // Repeat 2 was slow for both builds: paired, the new build is 1.2× / 1.1× / 1.25× the old in req/s (median 1.2).
  const rows = [row('tollgate', [6_000, 3_300, 5_000], [150, 300, 200]), row('baseline', [5_000, 3_000, 4_000], [180, 330, 250])];
  const byName = Object.fromEntries(ratios(rows).map((r) => [r.name, r]));
  assert.equal(byName['Tollgate / baseline, req/s']!.value.toFixed(3), '1.200');
  // Per core: the baseline's CPU per request over Tollgate's, so above 1 means Tollgate does the same work with less.
  assert.equal(byName['Tollgate / baseline, req/s per core']!.value.toFixed(3), '1.200');
  assert.equal(byName['Tollgate / baseline, req/s']!.budget, '(info)');
});

test('the chart shows every measured target in its legend, inside the picture', () => {
  const all: Row['target'][] = ['bare', 'floor', 'tollgate', 'baseline', 'portkey'];
  for (const targets of [all.filter((t) => t !== 'baseline'), all]) {
    const svg = svgChart(targets.map((t) => row(t, [1_000, 1_000, 1_000], [100, 100, 100])), 'title', 'subtitle', 50);
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    for (const t of targets) {
      const entry = new RegExp(`<rect x="(\\d+)" y="56"[^>]*/><text x="(\\d+)" y="66">${TARGET_LABELS[t].replace(/[+.]/g, '\\$&')}</text>`).exec(svg);
      assert.ok(entry, `${TARGET_LABELS[t]} has a legend entry`);
      // The label's start plus a generous 8 px a character must end inside the picture.
      assert.ok(Number(entry[2]) + TARGET_LABELS[t].length * 8 <= width, `${TARGET_LABELS[t]}'s legend entry ends inside ${width} px`);
    }
  }
});

test('the runs\' history lists each full run with its ratios and the machine\'s speed, leaving smoke runs out', () => {
  const full = {
    startedAt: '2026-12-08T01:12:41.035Z', versions: { tollgate: 'tollgate 87de923' },
    rows: [{ ...row('bare', [1], [100]), cpuUsPerRequest: 100 }, { ...row('tollgate', [1], [205]), cpuUsPerRequest: 205, addedP50Ms: 0.319 }],
    ratios: ratios([row('bare', [10_000, 10_000, 10_000], [100, 100, 100]), row('floor', [7_000, 7_000, 7_000], [140, 140, 140]), row('tollgate', [4_900, 4_900, 4_900], [205, 205, 205]), row('portkey', [1_000, 1_000, 1_000], [900, 900, 900])]),
  };
  const table = historyTable([{ file: 'a.json', result: { ...full, smoke: true } }, { file: '2026-12-08.json', result: full }]).split('\n');
  assert.equal(table.length, 3, 'header, separator and the one full run');
  assert.equal(table[2], '| 2026-12-08 01:12 | `87de923` | 100 / – | 0.49 / – | 0.70 / – | 0.70 / – | 4.90 / – | 205 / – | 0.319 / – | `2026-12-08.json` |');
});
