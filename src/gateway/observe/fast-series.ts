// Counters and histograms whose children are plain numbers, exposed through prom-client's registry.
// Why not prom-client's own: its `labels(...)` children still hash the label object on every inc/observe
// (a string built per call, ~0.3 µs each, a dozen per request). Here a child is resolved once per label
// tuple and an update is an addition; labels are only formatted at scrape time, in `get()`, which is the
// shape prom-client's Registry reads from every metric (name, help, type, values).
import type { Metric, Registry } from 'prom-client';

type Labels = Record<string, string>;

interface MetricValue { value: number; labels: Labels; metricName?: string }

interface Exposed {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue[] }>;
}

export class CounterChild {
  value = 0;
  readonly labels: Labels;
  constructor(labels: Labels) { this.labels = labels; }
  inc(by = 1): void { this.value += by; }
}

/** 2^53: below it an integer pico-USD amount is exact as a double. */
const EXACT_PICO = 9_007_199_254_740_992n;
const PICO_PER_USD = 1e12;

/**
 * A USD counter fed integer pico-USD. Adding each request's USD float drifts (2.5e-3 USD a hundred thousand times is
 * 249.9999999998): the sum is kept as whole dollars and a pico remainder, both integers, exact as doubles, and turned
 * into USD only when scraped — the ledger's own sum, rounded once.
 */
export class UsdChild {
  #usd = 0;
  #pico = 0;
  readonly labels: Labels;
  constructor(labels: Labels) { this.labels = labels; }

  add(pico: bigint): void {
    if (pico >= EXACT_PICO) {
      const whole = pico / 1_000_000_000_000n;
      this.#usd += Number(whole);
      pico -= whole * 1_000_000_000_000n;
    }
    this.#pico += Number(pico);
    if (this.#pico >= PICO_PER_USD) {
      const whole = Math.floor(this.#pico / PICO_PER_USD);
      this.#usd += whole;
      this.#pico -= whole * PICO_PER_USD;
    }
  }

  get value(): number { return this.#usd + this.#pico / PICO_PER_USD; }
}

export class HistogramChild {
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly labels: Labels;
  readonly #bounds: readonly number[];

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

abstract class FastMetric<C> implements Exposed {
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'counter' | 'histogram';
  protected readonly children: C[] = [];
  readonly #byKey = new Map<string, C>();

  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // prom-client's Registry reads any object with this shape; its typings name only its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  protected abstract make(labels: Labels): C;

  /** The child for these label values (in labelNames order); call once per tuple and keep it. */
  child(...values: string[]): C {
    const key = values.join('\u0000');
    let c = this.#byKey.get(key);
    if (!c) {
      const labels: Labels = {};
      for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i] ?? '';
      c = this.make(labels);
      this.#byKey.set(key, c);
      this.children.push(c);
    }
    return c;
  }

  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue[] }>;
}

/** A counter of either child: a series appears once it counted something, like prom-client's. */
abstract class FastCounting<C extends { readonly value: number; readonly labels: Labels }> extends FastMetric<C> {
  readonly type = 'counter' as const;

  async get() {
    const values: MetricValue[] = [];
    for (const c of this.children) {
      const value = c.value;
      if (value > 0) values.push({ value, labels: c.labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class FastCounter extends FastCounting<CounterChild> {
  protected make(labels: Labels): CounterChild { return new CounterChild(labels); }
}

export class FastUsdCounter extends FastCounting<UsdChild> {
  protected make(labels: Labels): UsdChild { return new UsdChild(labels); }
}

export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.#bounds = bounds;
  }

  protected make(labels: Labels): HistogramChild { return new HistogramChild(labels, this.#bounds); }

  async get() {
    const values: MetricValue[] = [];
    for (const c of this.children) {
      if (c.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += c.counts[i]!;
        const le = i < this.#bounds.length ? String(this.#bounds[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
