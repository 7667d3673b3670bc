/**
 * Reading the console's HTML in tests: a section by id, and a chart's table
 * as rows of cell texts (header row first), which is what a reader sees.
 */
import assert from "node:assert/strict";

/** The element with `id` (a <section> or <figure>) up to its closing tag. */
export function section(html: string, id: string): string {
  const start = html.search(new RegExp(`<(section|figure)[^>]* id="${id}"`));
  assert.ok(start >= 0, `no element with id ${id}`);
  const tag = html.slice(start + 1, html.indexOf(" ", start));
  return html.slice(start, html.indexOf(`</${tag}>`, start));
}

/** The chart's table: rows of cell texts, header row first; none when the period has nothing to show. */
export function chartTable(html: string, id: string): string[][] {
  const figure = section(html, id);
  const header = figure.match(/<thead><tr>(.*?)<\/tr><\/thead>/s)?.[1];
  if (header === undefined) {
    assert.match(figure, /None in this period/);
    return [];
  }
  const cells = (row: string) => [...row.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((m) => m[1]!);
  const body = figure.match(/<tbody>(.*?)<\/tbody>/s)![1]!;
  return [cells(header), ...[...body.matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => cells(m[1]!))];
}
