/**
 * The console's stylesheet, served as a same-origin file so the page runs
 * under `default-src 'self'` with no inline style. Chart colours are custom
 * properties, switched with the colour scheme; relative units so the page
 * reflows at 200% zoom; a visible focus on every control.
 */
export const STYLE = String.raw`:root {
  color-scheme: light dark;
  --ink: #1b1f24; --muted: #4a5360; --paper: #ffffff; --card: #f5f7fa; --line: #c9d1db; --grid: #dde3ea;
  --accent: #1548b8; --accent-ink: #ffffff; --danger: #a4161a; --ok: #176b34; --focus: #b35c00;
  --series-0: #1f5fbf; --series-1: #c2571a; --series-2: #2e8540; --series-3: #8a3fb0;
  --series-4: #b8860b; --series-5: #0f7c8a; --series-6: #c0396b; --series-7: #5b6470;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root { --ink: #e8ecf1; --muted: #b4bdc8; --paper: #14181d; --card: #1e242b; --line: #3a4450; --grid: #2c343d;
    --accent: #8db4ff; --accent-ink: #0b1020; --danger: #ff8a8a; --ok: #7bd88f; --focus: #ffb454;
    --series-0: #79a8ff; --series-1: #ff9f5a; --series-2: #6fd08a; --series-3: #cf9cf0;
    --series-4: #f0c85a; --series-5: #5fd3e0; --series-6: #ff85b0; --series-7: #aab4c0; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink); }
.page { max-width: 60rem; margin: 0 auto; padding: 0 1rem 2rem; }
header.page { padding-top: 1.5rem; padding-bottom: 0; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.35rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1.1rem; margin: 1rem 0 .5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: 1rem; top: -3rem; background: var(--paper); padding: .5rem; }
.skip:focus { top: 1rem; }
.note { color: var(--muted); }
.period { display: flex; flex-wrap: wrap; align-items: end; gap: .25rem 1rem; background: var(--card);
  border: 1px solid var(--line); border-radius: .5rem; padding: .25rem 1rem; }
.period p { margin: .5rem 0; }
.period label { display: block; font-weight: 600; }
input, select { font: inherit; color: var(--ink); background: var(--paper); border: 1px solid var(--muted); border-radius: .3rem; padding: .35rem .5rem; }
button { font: inherit; padding: .45rem 1rem; border-radius: .4rem; border: 2px solid var(--accent); cursor: pointer; }
.primary { background: var(--accent); color: var(--accent-ink); }
.toc { display: flex; flex-wrap: wrap; gap: .25rem 1rem; padding: 0; margin: 1rem 0 0; list-style: none; }
.verdict { padding: .5rem .75rem; border-left: .3rem solid var(--ok); background: var(--card); }
.verdict.broken { border-left-color: var(--danger); }
.totals, .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .5rem; margin: 0; }
.totals div, .facts div { background: var(--card); border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; }
.totals dd { font-size: 1.5rem; font-weight: 600; }
dt { font-weight: 600; }
dd { margin: 0; }
.chart { margin: 1rem 0 1.5rem; }
.chart svg { display: block; width: 100%; height: auto; max-height: 18rem; }
.chart text { fill: var(--muted); font-size: 12px; }
.chart .tick line { stroke: var(--grid); stroke-width: 1; }
.series-0 { fill: var(--series-0); background: var(--series-0); } .series-1 { fill: var(--series-1); background: var(--series-1); }
.series-2 { fill: var(--series-2); background: var(--series-2); } .series-3 { fill: var(--series-3); background: var(--series-3); }
.series-4 { fill: var(--series-4); background: var(--series-4); } .series-5 { fill: var(--series-5); background: var(--series-5); }
.series-6 { fill: var(--series-6); background: var(--series-6); } .series-7 { fill: var(--series-7); background: var(--series-7); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; padding: 0; margin: .25rem 0; list-style: none; }
.swatch { display: inline-block; width: .9rem; height: .9rem; margin-right: .35rem; vertical-align: -.1rem; border-radius: .15rem; }
@media (forced-colors: active) { .swatch { forced-color-adjust: none; } }
details.data summary { cursor: pointer; color: var(--accent); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); }
td { font-variant-numeric: tabular-nums; }
tr.overdue th, tr.overdue td { background: var(--card); }
tr.overdue td strong { color: var(--danger); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
`;
