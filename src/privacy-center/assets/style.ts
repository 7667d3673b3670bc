/**
 * The privacy center's stylesheet, served as a same-origin file (a string for
 * the same reason as script.ts). Relative units throughout so the page reflows
 * at 200% zoom; visible focus on every control; light and dark schemes.
 */
export const STYLE = String.raw`:root {
  color-scheme: light dark;
  --ink: #1b1f24; --muted: #4a5360; --paper: #ffffff; --card: #f5f7fa; --line: #c9d1db;
  --accent: #1548b8; --accent-ink: #ffffff; --danger: #a4161a; --ok: #176b34; --focus: #b35c00;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root { --ink: #e8ecf1; --muted: #b4bdc8; --paper: #14181d; --card: #1e242b; --line: #3a4450;
    --accent: #8db4ff; --accent-ink: #0b1020; --danger: #ff8a8a; --ok: #7bd88f; --focus: #ffb454; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink); }
.page { max-width: 48rem; margin: 0 auto; padding: 0 1rem; }
header.page { padding-top: 1.5rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1.1rem; margin: 0 0 .5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: 1rem; top: -3rem; background: var(--paper); padding: .5rem; }
.skip:focus { top: 1rem; }
.status { min-height: 1.5em; margin: 1rem 0; padding: .5rem .75rem; border-left: .3rem solid var(--ok); background: var(--card); }
/* Kept in the accessibility tree while empty, so the first announcement is not lost. */
.status:empty { background: none; border-left-color: transparent; }
.status.problem { border-left-color: var(--danger); }
.note, .hint { color: var(--muted); }
.purposes { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem; }
.purpose, .certificate { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; }
.facts, .receipt { margin: 0 0 .75rem; display: grid; gap: .35rem; }
.facts div, .receipt div { display: grid; grid-template-columns: minmax(8rem, 12rem) 1fr; gap: .75rem; }
dt { font-weight: 600; }
dd { margin: 0; }
@media (max-width: 36rem) { .facts div, .receipt div { grid-template-columns: 1fr; gap: 0; } }
.choice { display: flex; align-items: center; gap: .75rem; margin: .5rem 0; font-weight: 600; }
.explain { margin: 0; color: var(--muted); }
input.switch { appearance: none; flex: none; position: relative; width: 3rem; height: 1.6rem; margin: 0; border-radius: 1rem;
  border: 2px solid var(--muted); background: var(--paper); cursor: pointer; }
input.switch::before { content: ""; position: absolute; top: .15rem; left: .15rem; width: 1.05rem; height: 1.05rem;
  border-radius: 50%; background: var(--muted); transition: transform .15s; }
input.switch:checked { background: var(--accent); border-color: var(--accent); }
input.switch:checked::before { transform: translateX(1.4rem); background: var(--accent-ink); }
input.switch:disabled { cursor: not-allowed; opacity: .6; }
@media (forced-colors: active) { input.switch { appearance: auto; width: auto; height: auto; } input.switch::before { content: none; } }
@media (prefers-reduced-motion: reduce) { input.switch::before { transition: none; } }
button, .button { font: inherit; display: inline-block; padding: .5rem 1rem; border-radius: .4rem; border: 2px solid var(--accent);
  background: var(--paper); color: var(--accent); text-decoration: none; cursor: pointer; }
.primary { background: var(--accent); color: var(--accent-ink); }
.danger { border-color: var(--danger); color: var(--danger); }
dialog .danger { background: var(--danger); color: var(--paper); }
button:disabled { opacity: .6; cursor: not-allowed; }
dialog { max-width: min(34rem, calc(100% - 2rem)); border: 1px solid var(--line); border-radius: .5rem; padding: 1.25rem; background: var(--paper); color: var(--ink); }
dialog h2, .certificate h2 { margin-top: 0; }
dialog::backdrop { background: rgb(0 0 0 / .5); }
.actions { display: flex; flex-wrap: wrap; justify-content: flex-end; gap: .75rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.receipts { padding-left: 1.5rem; }
.receipts li { margin-bottom: .5rem; }
.signature, pre { overflow-wrap: anywhere; white-space: pre-wrap; }
main { padding-bottom: 3rem; }
`;
