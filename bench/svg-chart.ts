/** A plain SVG bar chart, written by hand: one bar per broker, its value and a detail line. */

export interface Bar {
  label: string;
  value: number;
  /** Lines under the label. */
  detail: string[];
  color: string;
}

export interface ChartSpec {
  title: string;
  unit: string;
  note: string;
  /** A line under the bars (ratios). */
  summary?: string;
  bars: Bar[];
  goal?: { value: number; label: string };
}

const WIDTH = 720;
const HEIGHT = 460;
const LEFT = 70;
const RIGHT = 30;
const TOP = 70;
const BOTTOM = 140;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function compact(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(value >= 100 ? 0 : 1);
}

/** A round axis maximum above `value`: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function barChart(spec: ChartSpec): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const values = spec.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0));
  const max = niceMax(Math.max(...values, spec.goal?.value ?? 0) * 1.1);
  const y = (v: number): number => TOP + plotHeight - (v / max) * plotHeight;
  const slot = plotWidth / Math.max(1, spec.bars.length);
  const barWidth = Math.min(120, slot * 0.55);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(spec.title)}</text>`,
    `<text x="${WIDTH / 2}" y="48" text-anchor="middle" fill="#444">${escapeXml(spec.unit)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    out.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${LEFT - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${compact(v)}</text>`,
    );
  }
  spec.bars.forEach((bar, i) => {
    const cx = LEFT + slot * i + slot / 2;
    const value = values[i] ?? 0;
    const top = y(value);
    out.push(
      `<rect x="${(cx - barWidth / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(TOP + plotHeight - top).toFixed(1)}" fill="${bar.color}"/>`,
      `<text x="${cx.toFixed(1)}" y="${(top - 6).toFixed(1)}" text-anchor="middle" font-weight="bold">${compact(bar.value)}</text>`,
      `<text x="${cx.toFixed(1)}" y="${TOP + plotHeight + 20}" text-anchor="middle" font-size="14">${escapeXml(bar.label)}</text>`,
    );
    bar.detail.forEach((line, n) => {
      out.push(
        `<text x="${cx.toFixed(1)}" y="${TOP + plotHeight + 38 + n * 15}" text-anchor="middle" fill="#444" font-size="11">${escapeXml(line)}</text>`,
      );
    });
  });
  if (spec.goal) {
    const gy = y(spec.goal.value).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${gy}" y2="${gy}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - RIGHT}" y="${Number(gy) - 5}" text-anchor="end" fill="#c0392b">${escapeXml(spec.goal.label)}</text>`,
    );
  }
  if (spec.summary) {
    out.push(
      `<text x="${WIDTH / 2}" y="${HEIGHT - 44}" text-anchor="middle" font-size="13">${escapeXml(spec.summary)}</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + plotHeight}" y2="${TOP + plotHeight}" stroke="#333"/>`,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 18}" text-anchor="middle" fill="#666" font-size="11">${escapeXml(spec.note)}</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
