// Chart.js over uPlot: our series are a handful of daily buckets stacked per provider or key, which is
// Chart.js's stacked bar chart out of the box (uPlot is built for long time series and would need a
// hand-written stacking and bars path). Chart.js is actively maintained and tree-shakes to the pieces
// registered below (~65 kB gzipped). Each chart also gets a text summary for screen readers.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// Distinguishable in both light themes and for common colour-vision deficiencies (Okabe–Ito palette).
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

export interface Series { label: string; values: number[] }

/**
 * `total` is what the summary states: the API's window total, not the bars added up. A cost bar is a bucket the API
 * rounded to five places, so their sum rounds per bar: three of $0.000004 read "$0.00 in total" beside $0.00001.
 */
export function BarChart({ title, labels, series, format, integer = false, total }: { title: string; labels: string[]; series: Series[]; format: (n: number) => string; integer?: boolean; total: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: labels.map((d) => d.slice(5)), // MM-DD keeps the axis unrotated on a phone
        datasets: series.map((s, i) => ({ label: s.label, data: s.values, backgroundColor: PALETTE[i % PALETTE.length] })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => format(Number(v)), ...(integer ? { precision: 0 } : {}) } },
        },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label ?? ''}: ${format(Number(c.raw))}` } },
        },
      },
    });
    return () => chart.destroy();
  }, [labels.join(), JSON.stringify(series)]);
  const summary = `${title}: ${format(total)} in total over ${labels.length} days${series.length > 0 ? `, split by ${series.map((s) => s.label).join(', ')}` : ''}.`;
  return (
    <figure class="chart card">
      <figcaption>{title}</figcaption>
      <div class="chart-box"><canvas ref={canvas} role="img" aria-label={summary} data-testid={`chart-${title.toLowerCase().split(' ')[0]}`} /></div>
    </figure>
  );
}
