// The host's health over 24 h / 7 days / 30 days: the server aggregates the stored samples into at
// most ~720 buckets (GET /api/v1/hosts/{agent_id}/health/series), so 30 days draw at once.
import { useMemo, useState } from 'preact/hooks';
import { api, must } from '../api/client';
import { useSession } from '../lib/context';
import { formatBytes, formatNumber, formatPercent } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { t } from '../lib/i18n';
import { Chart, paletteColor, type ChartSeries } from './chart';
import { Empty, ErrorBox, Loading } from './ui';

type Range = '24h' | '7d' | '30d';

export function HealthCharts({ agentId }: { agentId: string }) {
  const { locale } = useSession();
  const [range, setRange] = useState<Range>('24h');
  const series = useAsync(
    () => must(api.GET('/api/v1/hosts/{agent_id}/health/series', { params: { path: { agent_id: agentId }, query: { range } } })),
    [agentId, range],
  );
  const charts = useMemo(() => {
    const data = series.data;
    if (!data) return null;
    const percent = (value: number) => formatPercent(value, locale.lang);
    const rate = (value: number) => `${formatBytes(value, locale.lang)}/${t('health.per_second')}`;
    const cpu: ChartSeries[] = [
      { label: t('health.cpu_avg'), values: data.cpu_percent.avg, color: paletteColor(0) },
      { label: t('health.cpu_max'), values: data.cpu_percent.max, color: paletteColor(1) },
      { label: t('health.iowait'), values: data.cpu_iowait_percent, color: paletteColor(3) },
    ];
    const memory: ChartSeries[] = [
      { label: t('health.memory'), values: data.memory_used_percent, color: paletteColor(0) },
      { label: t('health.swap'), values: data.swap_used_percent, color: paletteColor(1) },
    ];
    const disks: ChartSeries[] = data.filesystems.map((fs, index) => ({ label: fs.mount_point, values: fs.used_percent, color: paletteColor(index) }));
    const io: ChartSeries[] = data.disks.flatMap((disk, index) => [
      { label: `${disk.name} ${t('health.read')}`, values: disk.read_bytes_per_second, color: paletteColor(index * 2) },
      { label: `${disk.name} ${t('health.write')}`, values: disk.write_bytes_per_second, color: paletteColor(index * 2 + 1) },
    ]);
    const net: ChartSeries[] = data.networks.flatMap((nic, index) => [
      { label: `${nic.name} ${t('health.rx')}`, values: nic.rx_bytes_per_second, color: paletteColor(index * 2) },
      { label: `${nic.name} ${t('health.tx')}`, values: nic.tx_bytes_per_second, color: paletteColor(index * 2 + 1) },
    ]);
    const load: ChartSeries[] = [{ label: t('health.load1'), values: data.load1, color: paletteColor(4) }];
    // 720 buckets always; none with a sample: the host sent nothing in the period.
    const empty = data.cpu_percent.avg.every((value) => value === null);
    return { times: empty ? [] : data.t, cpu, memory, disks, io, net, load, percent, rate };
  }, [series.data, locale]);

  return (
    <div data-testid="health">
      <div class="toolbar" role="group" aria-label={t('health.range')}>
        {(['24h', '7d', '30d'] as const).map((value) => (
          <button key={value} type="button" class={value === range ? '' : 'secondary'} aria-pressed={value === range} onClick={() => setRange(value)} data-range={value}>
            {t(`health.range_${value}`)}
          </button>
        ))}
      </div>
      {series.error !== undefined && <ErrorBox error={series.error} retry={series.reload} />}
      {!charts ? (
        series.error === undefined && <Loading />
      ) : charts.times.length === 0 ? (
        <Empty>{t('health.no_samples')}</Empty>
      ) : (
        <div class="charts">
          <Chart title={t('health.cpu')} times={charts.times} series={charts.cpu} format={charts.percent} locale={locale} max={100} />
          <Chart title={t('health.memory_title')} times={charts.times} series={charts.memory} format={charts.percent} locale={locale} max={100} />
          {charts.disks.length > 0 && <Chart title={t('health.disk_space')} times={charts.times} series={charts.disks} format={charts.percent} locale={locale} max={100} />}
          {charts.io.length > 0 && <Chart title={t('health.disk_io')} times={charts.times} series={charts.io} format={charts.rate} locale={locale} />}
          {charts.net.length > 0 && <Chart title={t('health.network')} times={charts.times} series={charts.net} format={charts.rate} locale={locale} />}
          <Chart title={t('health.load')} times={charts.times} series={charts.load} format={(value) => formatNumber(value, locale.lang, 2)} locale={locale} />
        </div>
      )}
    </div>
  );
}
