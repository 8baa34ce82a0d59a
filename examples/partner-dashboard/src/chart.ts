/**
 * The export-status chart: an inline SVG, one lane per side (U.S. export, Chinese import), each
 * decision naming the chip a dot at its announcement date, at the height of its effect on the
 * chip (open at the top, banned at the bottom), joined by steps. Built with DOM calls, so text
 * from the API is never parsed as markup.
 */

/** A decision as the chart plots it. */
export interface ChartPoint {
  slug: string;
  title: string;
  /** The deciding government, `US` or `CN` (others are not plotted). */
  jurisdiction: string;
  /** `YYYY-MM-DD`. */
  announcedOn: string;
  /** The decision's `PolicyEffect` on the chip. */
  effect: string;
}

/** Effects from most closed (0) to most open; an unknown effect sits in the middle. */
const EFFECT_ORDER = [
  'BANNED',
  'LICENSE_REQUIRED',
  'RESTRICTED',
  'DISCOURAGED',
  'UNDER_REVIEW',
  'PERMITTED_WITH_CONDITIONS',
  'PERMITTED',
];

/** Colours by effect (closed red to open green). */
const EFFECT_COLOURS: Record<string, string> = {
  BANNED: '#b91c1c',
  LICENSE_REQUIRED: '#c2410c',
  RESTRICTED: '#f59e0b',
  DISCOURAGED: '#eab308',
  UNDER_REVIEW: '#6b7280',
  PERMITTED_WITH_CONDITIONS: '#65a30d',
  PERMITTED: '#15803d',
};

/** The two lanes: the exporting side (U.S.) above the importing side (China). */
export const SIDES = [
  { jurisdiction: 'US', label: 'U.S. export side' },
  { jurisdiction: 'CN', label: 'Chinese import side' },
] as const;

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1000;
const LANE_HEIGHT = 120;
const LEFT = 170;
const RIGHT = 20;
const TOP = 10;
const AXIS = 30;
const LEGEND = 26;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Days since 1970-01-01 of a `YYYY-MM-DD` date. */
function dayOf(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / 86_400_000;
}

/** Builds the chart of `points` (U.S. and Chinese decisions; others are left out). */
export function exportStatusChart(points: readonly ChartPoint[]): SVGSVGElement {
  const plotted = points
    .filter((p) => SIDES.some((side) => side.jurisdiction === p.jurisdiction))
    .sort((a, b) => a.announcedOn.localeCompare(b.announcedOn) || a.slug.localeCompare(b.slug));
  const height = TOP + SIDES.length * LANE_HEIGHT + AXIS + LEGEND;
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: WIDTH,
    height,
    role: 'img',
    'aria-label': 'Effects on the chip of U.S. and Chinese decisions, by date announced',
    class: 'chart',
  });
  if (plotted.length === 0) {
    root.append(
      svg('text', { x: LEFT, y: TOP + 40 }, 'No U.S. or Chinese decision names this chip.'),
    );
    return root;
  }
  const first = dayOf(plotted[0]?.announcedOn ?? '');
  const last = dayOf(plotted[plotted.length - 1]?.announcedOn ?? '');
  // A month of margin on both sides; one date still gets a width.
  const from = first - 30;
  const to = last + 30;
  const x = (date: string) => LEFT + ((dayOf(date) - from) / (to - from)) * (WIDTH - LEFT - RIGHT);
  const levels = EFFECT_ORDER.length - 1;

  SIDES.forEach((side, lane) => {
    const laneTop = TOP + lane * LANE_HEIGHT;
    const y = (effect: string) => {
      const index = EFFECT_ORDER.indexOf(effect);
      const level = index === -1 ? levels / 2 : index;
      return laneTop + 12 + ((levels - level) / levels) * (LANE_HEIGHT - 30);
    };
    const group = svg('g', { class: 'lane', 'data-side': side.jurisdiction });
    group.append(
      svg('rect', {
        x: LEFT,
        y: laneTop,
        width: WIDTH - LEFT - RIGHT,
        height: LANE_HEIGHT - 6,
        class: 'lane-bg',
      }),
      svg('text', { x: 8, y: laneTop + 18, class: 'lane-label' }, side.label),
      svg('text', { x: 8, y: laneTop + 36, class: 'lane-hint' }, 'top: permitted'),
      svg('text', { x: 8, y: laneTop + LANE_HEIGHT - 14, class: 'lane-hint' }, 'bottom: banned'),
    );
    const mine = plotted.filter((p) => p.jurisdiction === side.jurisdiction);
    if (mine.length > 1) {
      // Steps: each decision's effect holds until the next one is announced.
      const path = mine
        .map((p, i) => {
          const px = x(p.announcedOn).toFixed(1);
          const py = y(p.effect).toFixed(1);
          return i === 0 ? `M${px},${py}` : `H${px}V${py}`;
        })
        .join('');
      group.append(svg('path', { d: path, class: 'steps' }));
    }
    for (const p of mine) {
      const dot = svg('circle', {
        cx: x(p.announcedOn).toFixed(1),
        cy: y(p.effect).toFixed(1),
        r: 6,
        fill: EFFECT_COLOURS[p.effect] ?? '#6b7280',
        class: 'decision',
        'data-slug': p.slug,
        'data-side': side.jurisdiction,
        'data-effect': p.effect,
        'data-date': p.announcedOn,
      });
      dot.append(svg('title', {}, `${p.announcedOn} ${p.effect}: ${p.title}`));
      group.append(dot);
    }
    root.append(group);
  });

  // Date axis: the first and last dates, and every month start between them.
  const axisY = TOP + SIDES.length * LANE_HEIGHT + 4;
  const axis = svg('g', { class: 'axis' });
  const start = new Date(from * 86_400_000);
  const month = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  const months: string[] = [];
  while (month.getTime() / 86_400_000 < to) {
    months.push(month.toISOString().slice(0, 10));
    month.setUTCMonth(month.getUTCMonth() + 1);
  }
  // At most about ten labels.
  const step = Math.max(1, Math.ceil(months.length / 10));
  months.forEach((date, i) => {
    const px = x(date);
    axis.append(svg('line', { x1: px, x2: px, y1: TOP, y2: axisY, class: 'tick' }));
    if (i % step === 0) {
      axis.append(svg('text', { x: px, y: axisY + 16, class: 'tick-label' }, date.slice(0, 7)));
    }
  });
  // Under the lanes' dots and steps.
  root.insertBefore(axis, root.firstChild);

  // Legend: the effects, open to closed.
  const legend = svg('g', { class: 'legend' });
  const legendY = axisY + AXIS + 6;
  let legendX = LEFT;
  for (const effect of [...EFFECT_ORDER].reverse()) {
    const label = effect.replace(/_/g, ' ').toLowerCase();
    legend.append(
      svg('circle', { cx: legendX + 5, cy: legendY - 4, r: 5, fill: EFFECT_COLOURS[effect] ?? '' }),
      svg('text', { x: legendX + 14, y: legendY, class: 'tick-label legend-label' }, label),
    );
    legendX += 24 + label.length * 6.2;
  }
  root.append(legend);
  return root;
}
