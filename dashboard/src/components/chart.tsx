// A uPlot time-series chart: canvas drawing, fast with thousands of points (30 days at 1 h steps is
// 720 points per series). Gaps (null) stay gaps: the host was not reporting then.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { LocaleSettings } from '../lib/format';
import { formatShortTime } from '../lib/format';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
}

const kPalette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
export function paletteColor(index: number): string {
  return kPalette[index % kPalette.length] ?? '#2563eb';
}

export function Chart(props: {
  title: string;
  times: number[]; // Unix ms
  series: ChartSeries[];
  format: (value: number) => string;
  locale: LocaleSettings;
  max?: number;
}) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const styles = getComputedStyle(document.documentElement);
    const axisColor = styles.getPropertyValue('--muted').trim() || '#666';
    const gridColor = styles.getPropertyValue('--border').trim() || '#ddd';
    const spanDays = props.times.length > 1 ? ((props.times[props.times.length - 1] ?? 0) - (props.times[0] ?? 0)) / 86_400_000 : 0;
    const axis = (values?: (value: number) => string): uPlot.Axis => ({
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
      ...(values ? { values: (_u: uPlot, ticks: number[]) => ticks.map(values) } : {}),
    });
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: 220,
      ms: 1,
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, y: props.max !== undefined ? { range: [0, props.max] } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis((ms) => formatShortTime(ms, props.locale, spanDays > 1)), axis(props.format)],
      series: [
        { value: (_u, ms: number | null) => (ms === null ? '—' : formatShortTime(ms, props.locale, true)) },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : props.format(v)),
        })),
      ],
    };
    const data: uPlot.AlignedData = [props.times, ...props.series.map((s) => s.values)];
    const plot = new uPlot(options, data, element);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 200), height: 220 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series, props.locale, props.max]);
  return (
    <section class="card chart-card">
      <h3>{props.title}</h3>
      <div class="chart" ref={holder} data-testid="chart" />
    </section>
  );
}
