// Rendering of one benchmark run: the console/markdown table, the ratios against the budget, and a
// hand-written SVG bar chart (no charting dependency for a handful of bars).
import { median } from './system.ts';

export type TargetId = 'upstream' | 'bare' | 'floor' | 'tollgate' | 'baseline' | 'portkey';
export type Mode = 'json' | 'stream';

export const TARGET_LABELS: Record<TargetId, string> = {
  upstream: 'upstream alone',
  bare: 'bare proxy',
  floor: 'bare + durable usage',
  tollgate: 'Tollgate',
  baseline: 'Tollgate baseline',
  portkey: 'Portkey 1.15.2',
};
export const MODE_LABELS: Record<Mode, string> = { json: 'JSON', stream: 'streaming' };

export interface Row {
  target: TargetId;
  mode: Mode;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** Medians over the repeats. */
  rps?: number;
  /** Each repeat's req/s and CPU µs per request, in order: repeats go round-robin, so index i of two targets was measured seconds apart. */
  rpsByRepeat?: number[];
  cpuUsByRepeat?: number[];
  p50Ms?: number;
  p99Ms?: number;
  /** p50 at one connection minus the upstream's own p50 at one connection. */
  addedP50Ms?: number;
  /** Median time to first streamed byte minus the upstream's (streaming only). */
  addedTtfbMs?: number;
  cpuUsPerRequest?: number;
  /**
   * Share of one core the server used during the loaded runs (CPU time ÷ wall time). Near 100 % means it was
   * saturated and had the core to itself; well below means other work on the machine took the core, so the
   * req/s figure is noisy and 1e6 ÷ CPU µs (req/s per core) is the steadier comparison.
   */
  coreShare?: number;
  peakRssMb?: number;
  requests?: number;
  errors?: number;
}

export interface Ratio { mode: Mode; name: string; value: number; budget: string; meets: boolean }

const fmt = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const fmtInt = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));

const HEADER = ['target', 'mode', 'req/s', 'p50 ms', 'p99 ms', '+p50 @1c ms', '+TTFB ms', 'CPU µs/req', 'req/s per core', 'core used', 'peak RSS MB', 'errors'];

function cells(r: Row): string[] {
  const head = [TARGET_LABELS[r.target], MODE_LABELS[r.mode]];
  if (r.status !== 'ok') return [...head, `${r.status}: ${r.reason ?? ''}`];
  return [
    ...head, fmtInt(r.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2),
    r.target === 'upstream' ? '(base)' : fmt(r.addedP50Ms, 3),
    r.mode === 'json' ? '' : r.target === 'upstream' ? '(base)' : fmt(r.addedTtfbMs, 3),
    fmt(r.cpuUsPerRequest, 0), fmtInt(r.cpuUsPerRequest ? 1e6 / r.cpuUsPerRequest : undefined),
    r.coreShare === undefined ? '–' : `${Math.round(r.coreShare * 100)} %`, fmt(r.peakRssMb, 1), fmtInt(r.errors),
  ];
}

/** A fixed-width table for the console (status rows span the figure columns). */
export function consoleTable(rows: readonly Row[]): string {
  const all = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.filter((c) => c.length === HEADER.length).map((c) => c[i]!.length)));
  return all.map((c) => c.map((v, i) => (i < 2 || c.length !== HEADER.length ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const c = cells(r);
    lines.push(`| ${(c.length === HEADER.length ? c : [...c, ...Array<string>(HEADER.length - c.length).fill('')]).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Ratios and budget checks. Informational only: benchmarks never fail a build. */
export function ratios(rows: readonly Row[]): Ratio[] {
  const get = (t: TargetId, m: Mode): Row | undefined => rows.find((r) => r.target === t && r.mode === m && r.status === 'ok');
  const out: Ratio[] = [];
  const push = (mode: Mode, name: string, value: number | undefined, min: number): void => {
    if (value !== undefined && Number.isFinite(value) && value >= 0) out.push({ mode, name, value, budget: `≥ ${min}`, meets: value >= min });
  };
  for (const mode of ['json', 'stream'] as const) {
    // How far below the bare proxy the least a gateway recording usage durably can do already falls: the
    // ceiling any such gateway meets the 0.85× line against (information, no budget).
    const bare = get('bare', mode);
    const floor = get('floor', mode);
    if (bare && floor) {
      const value = pairedRatio(floor.rpsByRepeat, bare.rpsByRepeat, floor.rps, bare.rps);
      if (value !== undefined && Number.isFinite(value)) out.push({ mode, name: 'bare + durable usage / bare proxy, req/s', value, budget: '(info)', meets: true });
    }
    const tg = get('tollgate', mode);
    if (!tg) continue;
    // What Tollgate keeps of the floor's throughput: the budget's 0.85× read against what a metering gateway can
    // reach on this machine (information; the budget stays against the bare proxy).
    if (floor) {
      const value = pairedRatio(tg.rpsByRepeat, floor.rpsByRepeat, tg.rps, floor.rps);
      if (value !== undefined && Number.isFinite(value)) out.push({ mode, name: 'Tollgate / bare + durable usage, req/s', value, budget: '(info)', meets: true });
    }
    // Another build of Tollgate in the same run (--baseline=REF): did a change help or hurt? Information, no budget.
    const baseline = get('baseline', mode);
    if (baseline) {
      for (const [name, value] of [
        ['Tollgate / baseline, req/s', pairedRatio(tg.rpsByRepeat, baseline.rpsByRepeat, tg.rps, baseline.rps)],
        ['Tollgate / baseline, req/s per core', pairedRatio(baseline.cpuUsByRepeat, tg.cpuUsByRepeat, baseline.cpuUsPerRequest, tg.cpuUsPerRequest)],
      ] as const) if (value !== undefined && Number.isFinite(value)) out.push({ mode, name, value, budget: '(info)', meets: true });
    }
    for (const [other, name, min] of [['bare', 'bare proxy', 0.85], ['portkey', 'Portkey', 8]] as const) {
      const row = get(other, mode);
      if (!row) continue;
      push(mode, `Tollgate / ${name}, req/s`, pairedRatio(tg.rpsByRepeat, row.rpsByRepeat, tg.rps, row.rps), min);
      // The same ratio from CPU per request (req/s per core): steadier than req/s when the machine is busy.
      push(mode, `Tollgate / ${name}, req/s per core`, pairedRatio(row.cpuUsByRepeat, tg.cpuUsByRepeat, row.cpuUsPerRequest, tg.cpuUsPerRequest), min);
    }
  }
  return out;
}

/**
 * a ÷ b as the median of the per-repeat ratios when both were measured repeat by repeat (each pair seconds apart,
 * so a machine that drifts between minutes moves both sides of a pair alike); otherwise the ratio of the medians.
 */
export function pairedRatio(aByRepeat: readonly number[] | undefined, bByRepeat: readonly number[] | undefined, a: number | undefined, b: number | undefined): number | undefined {
  if (aByRepeat && bByRepeat && aByRepeat.length > 0 && aByRepeat.length === bByRepeat.length) {
    return median(aByRepeat.map((x, i) => x / bByRepeat[i]!).filter(Number.isFinite));
  }
  return a !== undefined && b ? a / b : undefined;
}

/** The absolute budget lines of design.md, for Tollgate's rows. */
export function budgetChecks(rows: readonly Row[]): { name: string; value: string; budget: string; meets: boolean }[] {
  const out: { name: string; value: string; budget: string; meets: boolean }[] = [];
  for (const r of rows) {
    if (r.target !== 'tollgate' || r.status !== 'ok') continue;
    const m = MODE_LABELS[r.mode];
    if (r.addedP50Ms !== undefined) out.push({ name: `added p50 at 1 connection (${m})`, value: `${r.addedP50Ms.toFixed(3)} ms`, budget: '≤ 0.2 ms', meets: r.addedP50Ms <= 0.2 });
    if (r.addedTtfbMs !== undefined) out.push({ name: 'added time to first streamed byte', value: `${r.addedTtfbMs.toFixed(3)} ms`, budget: '≤ 0.5 ms', meets: r.addedTtfbMs <= 0.5 });
    if (r.cpuUsPerRequest !== undefined) out.push({ name: `CPU per request (${m})`, value: `${r.cpuUsPerRequest.toFixed(0)} µs`, budget: '≤ 140 µs', meets: r.cpuUsPerRequest <= 140 });
  }
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const COLORS: Record<TargetId, string> = { upstream: '#9aa5b1', bare: '#7b8794', floor: '#b8a07e', tollgate: '#2f80ed', baseline: '#9cc3f5', portkey: '#eb5757' };

/** Two panels (req/s, CPU µs per request), bars grouped by mode, one colour per target. */
export function svgChart(rows: readonly Row[], title: string, subtitle: string, connections: number): string {
  // A baseline build is drawn only when measured (an A/B run), next to Tollgate.
  const targets: TargetId[] = ['bare', 'floor', 'tollgate', ...(rows.some((r) => r.target === 'baseline') ? ['baseline' as const] : []), 'portkey'];
  const modes: Mode[] = ['json', 'stream'];
  const panels: { title: string; value: (r: Row) => number | undefined; unit: string }[] = [
    { title: `Requests per second at ${connections} connections (higher is better)`, value: (r) => r.rps, unit: '' },
    { title: 'Gateway CPU per request, µs (lower is better)', value: (r) => r.cpuUsPerRequest, unit: ' µs' },
  ];
  const panelH = 230, top = 70, left = 60, barW = 56, gap = 14, groupGap = 70, legendW = 150;
  // Wide enough for both bar groups and the legend (one entry per target, left to right under the subtitle).
  const W = Math.max(760, left + 20 + modes.length * targets.length * (barW + gap) + groupGap + 20, left + targets.length * legendW);
  const H = top + panels.length * (panelH + 40) + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${left}" y="26" font-size="16" font-weight="600">${esc(title)}</text>`,
    `<text x="${left}" y="46" fill="#52606d">${esc(subtitle)}</text>`,
  ];
  // Legend.
  targets.forEach((t, i) => {
    const x = left + i * legendW;
    parts.push(`<rect x="${x}" y="56" width="12" height="12" fill="${COLORS[t]}"/><text x="${x + 17}" y="66">${esc(TARGET_LABELS[t])}</text>`);
  });
  panels.forEach((panel, p) => {
    const y0 = top + 20 + p * (panelH + 40);
    const chartH = panelH - 50;
    const values = rows.filter((r) => r.status === 'ok' && targets.includes(r.target)).map((r) => panel.value(r) ?? 0);
    const max = Math.max(1, ...values) * 1.12;
    parts.push(`<text x="${left}" y="${y0}" font-weight="600">${esc(panel.title)}</text>`);
    const base = y0 + 16 + chartH;
    parts.push(`<line x1="${left}" y1="${base}" x2="${W - 20}" y2="${base}" stroke="#cbd2d9"/>`);
    modes.forEach((mode, g) => {
      const gx = left + 20 + g * (targets.length * (barW + gap) + groupGap);
      targets.forEach((t, i) => {
        const r = rows.find((x) => x.target === t && x.mode === mode);
        const x = gx + i * (barW + gap);
        const v = r?.status === 'ok' ? panel.value(r) : undefined;
        if (v === undefined || !Number.isFinite(v)) {
          parts.push(`<text x="${x + barW / 2}" y="${base - 6}" text-anchor="middle" fill="#9aa5b1">${r ? esc(r.status) : 'n/a'}</text>`);
          return;
        }
        const h = Math.max(1, (v / max) * chartH);
        parts.push(`<rect x="${x}" y="${(base - h).toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${COLORS[t]}"><title>${esc(`${TARGET_LABELS[t]} ${MODE_LABELS[mode]}: ${v.toFixed(0)}${panel.unit}`)}</title></rect>`);
        parts.push(`<text x="${x + barW / 2}" y="${(base - h - 5).toFixed(1)}" text-anchor="middle">${esc(Math.round(v).toLocaleString('en-US'))}</text>`);
      });
      parts.push(`<text x="${gx + (targets.length * (barW + gap) - gap) / 2}" y="${base + 18}" text-anchor="middle" fill="#52606d">${esc(MODE_LABELS[mode])}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
