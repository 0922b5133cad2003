// The readiness score since the first audit (GET /api/v1/orgs/{org}/readiness): the story the
// engineer tells the client before signing — where the estate started and how far it has come.
import { useMemo } from 'preact/hooks';
import { api, must } from '../api/client';
import { useSession } from '../lib/context';
import { formatNumber } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { t } from '../lib/i18n';
import { Chart, paletteColor } from './chart';

export function ReadinessTrend({ org }: { org: string }) {
  const { locale } = useSession();
  const trend = useAsync(() => must(api.GET('/api/v1/orgs/{org}/readiness', { params: { path: { org } } })), [org]);
  const points = useMemo(() => (trend.data?.points ?? []).filter((p): p is typeof p & { at_ms: number } => p.at_ms !== null), [trend.data]);
  const series = useMemo(() => [{ label: t('trend.score'), values: points.map((p) => p.score), color: paletteColor(2) }], [points, locale.lang]);
  const times = useMemo(() => points.map((p) => p.at_ms), [points]);
  // A failure here must not hide the client page: the trend is an extra.
  if (!trend.data || times.length < 2) return null;
  return (
    <div class="trend" data-testid="readiness-trend">
      <Chart title={t('trend.title')} times={times} series={series} format={(value) => formatNumber(value, locale.lang)} locale={locale} max={100} />
      {trend.data.partial && <p class="muted small">{t('trend.partial')}</p>}
    </div>
  );
}
