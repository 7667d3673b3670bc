/**
 * Bar charts drawn on the server as plain SVG, each with the table of the
 * same numbers beside it: the picture for a glance, the table for a screen
 * reader, a copy and paste, or a browser that shows no SVG. Pure: a chart's
 * data in, HTML out. Colours are classes the stylesheet maps to custom
 * properties, so the light and dark schemes need no second drawing.
 */
import { type Html, html } from "../html.ts";

export interface ChartSeries {
  name: string;
  /** One value per category, in the categories' order. */
  values: readonly number[];
}

export interface ChartData {
  /** A fragment id, unique on the page. */
  id: string;
  title: string;
  /** What the chart shows, in words (the SVG's <desc>, and the text under it). */
  description: string;
  /** The header of the category column ("Day", "Purpose"). */
  categoryHeader: string;
  categories: readonly string[];
  /** Stacked in this order, bottom first. */
  series: readonly ChartSeries[];
  /** Leave rows whose values are all 0 out of the table (a daily chart of a quiet month). */
  skipEmptyRows?: boolean;
  /** How a value is written (default: a whole number). */
  format?: (value: number) => string;
}

/** The series' colours: the stylesheet defines this many (.series-0 …), then they repeat. */
export const SERIES_COLOURS = 8;

const WIDTH = 720;
const HEIGHT = 240;
const LEFT = 48;
const RIGHT = 8;
const TOP = 12;
const BOTTOM = 28;
/** At most this many category labels under the axis; the table has every one. */
const MAX_LABELS = 8;

const whole = (value: number) => String(value);

/** The figure: the SVG, its legend, and its table (in a <details>, open without script like any other). */
export function renderChart(chart: ChartData): Html {
  const format = chart.format ?? whole;
  const totals = chart.categories.map((_, i) => chart.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const grand = totals.reduce((sum, n) => sum + n, 0);
  return html`<figure class="chart" id="${chart.id}" aria-labelledby="${chart.id}-title">
<h3 id="${chart.id}-title">${chart.title}</h3>
${svg(chart, totals, format)}
<figcaption class="note">${chart.description}</figcaption>
${chart.series.length > 1 && legend(chart.series)}
<details class="data"${grand === 0 ? html` open` : ""}>
<summary>Table: ${chart.title}</summary>
${table(chart, totals, format)}
</details>
</figure>`;
}

function svg(chart: ChartData, totals: readonly number[], format: (n: number) => string): Html {
  const top = niceMax(Math.max(0, ...totals));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = plotWidth / Math.max(1, chart.categories.length);
  const barWidth = Math.max(1, step * 0.7);
  const y = (value: number) => TOP + plotHeight - (value / top) * plotHeight;
  const bars = chart.categories.map((category, i) => {
    let base = 0;
    return chart.series.map((series, s) => {
      const value = series.values[i] ?? 0;
      if (value <= 0) return "";
      const rect = html`<rect class="series-${s % SERIES_COLOURS}" x="${round(LEFT + i * step + (step - barWidth) / 2)}" y="${round(y(base + value))}" width="${round(barWidth)}" height="${round(y(base) - y(base + value))}" data-category="${category}" data-series="${series.name}" data-value="${value}"><title>${category}, ${series.name}: ${format(value)}</title></rect>`;
      base += value;
      return rect;
    });
  });
  // Counts are whole: no gridline at 2.5 consents.
  const ticks = [0, top / 2, top]
    .filter((value) => chart.format !== undefined || Number.isInteger(value))
    .map(
      (value) =>
        html`<g class="tick"><line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${round(y(value))}" y2="${round(y(value))}"></line><text x="${LEFT - 6}" y="${round(y(value) + 4)}" text-anchor="end">${format(value)}</text></g>`,
    );
  const every = Math.max(1, Math.ceil(chart.categories.length / MAX_LABELS));
  const labels = chart.categories.map(
    (category, i) =>
      i % every === 0 &&
      html`<text class="label" x="${round(LEFT + i * step + step / 2)}" y="${HEIGHT - 8}" text-anchor="middle">${category}</text>`,
  );
  return html`<svg role="img" viewBox="0 0 ${WIDTH} ${HEIGHT}" aria-labelledby="${chart.id}-svg-title ${chart.id}-svg-desc" focusable="false">
<title id="${chart.id}-svg-title">${chart.title}</title>
<desc id="${chart.id}-svg-desc">${chart.description}</desc>
${ticks}
${bars}
${labels}
</svg>`;
}

function legend(series: readonly ChartSeries[]): Html {
  return html`<ul class="legend" role="list">${series.map(
    (s, i) => html`<li><span class="swatch series-${i % SERIES_COLOURS}" aria-hidden="true"></span>${s.name}</li>`,
  )}</ul>`;
}

function table(chart: ChartData, totals: readonly number[], format: (n: number) => string): Html {
  const several = chart.series.length > 1;
  const rows = chart.categories
    .map((category, i) => ({ category, i }))
    .filter(({ i }) => !chart.skipEmptyRows || totals[i]! > 0);
  if (rows.length === 0) return html`<p>None in this period.</p>`;
  return html`<div class="scroll" role="region" aria-label="${chart.title}, as a table" tabindex="0">
<table>
<caption>${chart.title}</caption>
<thead><tr><th scope="col">${chart.categoryHeader}</th>${chart.series.map((s) => html`<th scope="col">${s.name}</th>`)}${several && html`<th scope="col">Total</th>`}</tr></thead>
<tbody>${rows.map(
    ({ category, i }) =>
      html`<tr><th scope="row">${category}</th>${chart.series.map((s) => html`<td>${format(s.values[i] ?? 0)}</td>`)}${several && html`<td>${format(totals[i]!)}</td>`}</tr>`,
  )}</tbody>
</table>
</div>${chart.skipEmptyRows && rows.length < chart.categories.length ? html`<p class="note">${chart.categoryHeader}s with none are left out.</p>` : ""}`;
}

/** The axis' top: 1, 2 or 5 times a power of ten, at least `max` (and 1 for an empty chart). */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * power >= max) return m * power;
  return 10 * power;
}

const round = (n: number) => Math.round(n * 10) / 10;
