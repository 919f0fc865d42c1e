// Summarises a V8 CPU profile (`npm run bench -- --profile` writes them to bench/results/tmp/profiles): self
// time per function and per source (our files, each package, node internals), and the total time under each of
// our own pipeline stages. Open the .cpuprofile in Chrome DevTools or speedscope.app for the flame graph.
// Usage: node bench/profile.ts [file.cpuprofile | tollgate | bare] [--top=N]   (default: the newest Tollgate profile)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { frameSource } from './lib/frames.ts';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const argv = process.argv.slice(2);
const top = Number(argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
let file = argv.find((a) => !a.startsWith('--')) ?? 'tollgate';
if (!file.endsWith('.cpuprofile')) {
  const dir = join(ROOT, 'bench/results/tmp/profiles');
  const target = file;
  const newest = readdirSync(dir).filter((f) => f.startsWith(`${target}-`) && f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error(`no ${target}-*.cpuprofile in ${dir}`);
  file = newest;
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const source = (url: string): string => frameSource(url, ROOT);
const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${source(f.url)}:${f.lineNumber + 1}`;

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName)).reduce((a, [, v]) => a + v, 0);
const busy = total - idle;
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;

function table(title: string, rows: Map<string, number>): void {
  console.log(`\n${title}`);
  for (const [k, v] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
}

const perFunction = new Map<string, number>();
const perSource = new Map<string, number>();
// Inclusive time of our own source files: a sample counts once for every distinct file of ours on its stack.
const inclusiveOurs = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  if (['(idle)', '(program)'].includes(node.callFrame.functionName)) continue;
  perFunction.set(label(node.callFrame), (perFunction.get(label(node.callFrame)) ?? 0) + us);
  perSource.set(source(node.callFrame.url), (perSource.get(source(node.callFrame.url)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const src = source(byId.get(cur)!.callFrame.url);
    if (src.startsWith('src/') && !seen.has(src)) { seen.add(src); inclusiveOurs.set(src, (inclusiveOurs.get(src) ?? 0) + us); }
  }
}
console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (percentages are of busy time)`);
table('self time by function', perFunction);
table('self time by source', perSource);
table('inclusive time under our files (stack contains the file)', inclusiveOurs);
