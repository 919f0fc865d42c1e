// The benchmark's runs side by side, read from bench/results/*.json: how the ratios held while the VM's speed moved
// between runs (the bare proxy's own CPU per request says how fast the machine was). docs/benchmark.md carries its
// output, so the history there is what the results files say, not figures copied by hand.
// Usage: node bench/history.ts [--since=YYYY-MM-DD]   (markdown table on stdout)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mode, Ratio, Row, TargetId } from './lib/report.ts';

interface Result { startedAt: string; smoke?: boolean; versions: Record<string, string>; rows: Row[]; ratios: Ratio[] }

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');

const pair = (json: string, stream: string): string => `${json} / ${stream}`;
const fixed = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** One line per full run (smoke runs left out), oldest first. */
export function historyTable(results: readonly { file: string; result: Result }[]): string {
  const lines = [
    '| run (UTC) | Tollgate | bare proxy CPU µs | Tollgate / bare | Tollgate / floor | floor / bare | Tollgate / Portkey | Tollgate CPU µs | Tollgate +p50 @1c ms | results |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { file, result } of results) {
    if (result.smoke) continue;
    const row = (target: TargetId, mode: Mode) => result.rows.find((r) => r.target === target && r.mode === mode && r.status === 'ok');
    const ratio = (name: string) => pair(...(['json', 'stream'] as const).map((mode) => fixed(result.ratios.find((r) => r.mode === mode && r.name === name)?.value, 2)) as [string, string]);
    const each = (target: TargetId, read: (r: Row | undefined) => string) => pair(read(row(target, 'json')), read(row(target, 'stream')));
    const cpu = (r: Row | undefined) => fixed(r?.cpuUsPerRequest, 0);
    const commit = result.versions.tollgate?.split(' ')[1];
    lines.push(`| ${result.startedAt.slice(0, 16).replace('T', ' ')} | ${commit ? `\`${commit}\`` : '–'} | ${each('bare', cpu)} | ${ratio('Tollgate / bare proxy, req/s')} | ${ratio('Tollgate / bare + durable usage, req/s')} | ${ratio('bare + durable usage / bare proxy, req/s')} | ${ratio('Tollgate / Portkey, req/s')} | ${each('tollgate', cpu)} | ${each('tollgate', (r) => fixed(r?.addedP50Ms, 3))} | \`${file}\` |`);
  }
  return lines.join('\n');
}

export function readResults(dir: string, since = ''): { file: string; result: Result }[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f >= since).sort()
    .map((file) => ({ file, result: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Result }));
}

if (import.meta.main) {
  const since = process.argv.find((a) => a.startsWith('--since='))?.slice('--since='.length) ?? '';
  console.log(historyTable(readResults(RESULTS, since)));
}
