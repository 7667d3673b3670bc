/**
 * The console's HTML: complete on the server, with no script at all. The
 * period and region form is a plain GET form; each chart carries its table;
 * each request links to its own page.
 */
import type { VerifyResult } from "../audit/events.ts";
import { type Html, html } from "../html.ts";
import type { StoredLogEntry } from "../store/compliance-log.ts";
import type { PrivacyRequestView } from "../store/requests.ts";
import { type ChartData, renderChart } from "./chart.ts";
import { type BudgetUse, type ConsoleView, type Period, type RequestDetails, daysOf } from "./view.ts";

export interface ConsolePageContext {
  title: string;
  /** Where the console is mounted, for its stylesheet and links. */
  base: string;
}

function layout(ctx: ConsolePageContext, heading: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading === ctx.title ? ctx.title : `${heading} · ${ctx.title}`}</title>
<link rel="stylesheet" href="${ctx.base}/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
${body}
</body>
</html>
`.text;
}

/** A page with one message, for 400, 401, 403, 404 and 503. */
export function renderConsoleNotice(ctx: ConsolePageContext, heading: string, message: string, back?: string): string {
  return layout(
    ctx,
    heading,
    html`<main id="main" class="page">
<h1>${heading}</h1>
<p class="lead">${message}</p>
${back !== undefined && html`<p><a href="${back}">Back to the console</a></p>`}
</main>`,
  );
}

const query = (period: Pick<Period, "region" | "firstDay" | "lastDay">) =>
  `?region=${encodeURIComponent(period.region)}&from=${period.firstDay}&to=${period.lastDay}`;

export function renderConsole(view: ConsoleView, ctx: ConsolePageContext): string {
  const { period } = view;
  return layout(
    ctx,
    ctx.title,
    html`<header class="page">
<h1>${ctx.title}</h1>
<p>Region <strong>${period.region}</strong>, ${period.firstDay} to ${period.lastDay} (UTC, both days included). As of ${time(view.asOf)}.</p>
${form(view)}
</header>
<main id="main" class="page" tabindex="-1">
<nav aria-label="Sections"><ul class="toc" role="list">
<li><a href="#chain">Compliance log</a></li><li><a href="#consents">Consents</a></li><li><a href="#requests">Requests</a></li>
<li><a href="#blocked">Blocked writes</a></li><li><a href="#purged">Rows purged</a></li><li><a href="#budget">Privacy budget</a></li>
</ul></nav>
${chain(view.chain, period.region)}
${summary(view)}
${consents(view)}
${requests(view, ctx)}
${blocked(view)}
${purged(view)}
${budget(view)}
</main>`,
  );
}

function form(view: ConsoleView): Html {
  const { period } = view;
  return html`<form class="period" method="get" action="">
<p><label for="region">Region</label>
<select id="region" name="region">${view.regions.map(
    (r) => html`<option value="${r}"${r === period.region ? html` selected` : ""}>${r}</option>`,
  )}</select></p>
<p><label for="from">From</label> <input type="date" id="from" name="from" value="${period.firstDay}" required></p>
<p><label for="to">To</label> <input type="date" id="to" name="to" value="${period.lastDay}" required></p>
<p><button type="submit" class="primary">Show</button></p>
</form>`;
}

function chain(result: VerifyResult, region: string): Html {
  return html`<section id="chain" aria-labelledby="chain-title">
<h2 id="chain-title">Compliance log</h2>
${
  result.ok
    ? html`<p class="verdict ok" id="chain-state"><strong>Verified:</strong> the hash chain of ${region} is intact (${result.entries} entr${result.entries === 1 ? "y" : "ies"} checked).</p>`
    : html`<p class="verdict broken" id="chain-state"><strong>Broken at entry ${result.brokenAt}:</strong> ${result.reason}.</p>
<p>Entries from ${result.brokenAt} on cannot be trusted as written. Keep a copy of the log (GET /admin/compliance/${region}) before anything trims it.</p>`
}
</section>`;
}

function summary(view: ConsoleView): Html {
  const r = view.report;
  const item = (label: string, value: number) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  return html`<section id="summary" aria-labelledby="summary-title">
<h2 id="summary-title">In this period</h2>
<dl class="totals">
${item("Consents given", r.consents.given)}
${item("Consents withdrawn", r.consents.withdrawn)}
${item("Requests received", r.requests.received)}
${item("Requests completed", r.requests.completed)}
${item("Requests that went overdue", r.requests.overdue)}
${item("Open and overdue now", r.requests.openOverdue)}
${item("Writes blocked", r.writesBlocked.total)}
${item("Rows purged", r.rowsPurged.total)}
</dl>
</section>`;
}

/** One series per purpose, in the policy's order, then any the log names that the policy no longer has. */
function purposesOf(view: ConsoleView, named: readonly string[]): string[] {
  const known = Object.keys(view.purposes);
  return [...known.filter((p) => named.includes(p)), ...[...new Set(named)].filter((p) => !known.includes(p)).sort()];
}

function perDayPerPurpose(
  view: ConsoleView,
  rows: readonly { day: string; purpose: string; n: number }[],
): Pick<ChartData, "categories" | "series"> {
  const days = daysOf(view.period);
  const index = new Map(days.map((d, i) => [d, i]));
  return {
    categories: days,
    series: purposesOf(
      view,
      rows.map((r) => r.purpose),
    ).map((purpose) => {
      const values = days.map(() => 0);
      for (const r of rows) if (r.purpose === purpose && index.has(r.day)) values[index.get(r.day)!]! += r.n;
      return { name: purpose, values };
    }),
  };
}

function consents(view: ConsoleView): Html {
  const given = view.daily.consents.filter((c) => c.granted);
  const withdrawn = view.daily.consents.filter((c) => !c.granted);
  return html`<section id="consents" aria-labelledby="consents-title">
<h2 id="consents-title">Consents</h2>
${renderChart({
  id: "consents-given",
  title: "Consents given per day",
  description: "Choices that allowed a purpose, per day and purpose, from the compliance log.",
  categoryHeader: "Day",
  skipEmptyRows: true,
  ...perDayPerPurpose(view, given),
})}
${renderChart({
  id: "consents-withdrawn",
  title: "Consents withdrawn per day",
  description: "Choices that turned a purpose off, per day and purpose, from the compliance log.",
  categoryHeader: "Day",
  skipEmptyRows: true,
  ...perDayPerPurpose(view, withdrawn),
})}
</section>`;
}

function requests(view: ConsoleView, ctx: ConsolePageContext): Html {
  const days = daysOf(view.period);
  const byDay = new Map(view.daily.requests.map((r) => [r.day, r]));
  const overdueIds = new Set(view.overdue.map((r) => r.id));
  // Overdue first (oldest deadline first), then the period's others, newest first.
  const listed = [...view.overdue, ...view.received.filter((r) => !overdueIds.has(r.id))];
  const back = query(view.period);
  return html`<section id="requests" aria-labelledby="requests-title">
<h2 id="requests-title">Requests</h2>
${renderChart({
  id: "requests-daily",
  title: "Requests received and completed per day",
  description: "Exports and erasures received, and those completed, per day, from the compliance log.",
  categoryHeader: "Day",
  skipEmptyRows: true,
  categories: days,
  series: [
    { name: "received", values: days.map((d) => byDay.get(d)?.received ?? 0) },
    { name: "completed", values: days.map((d) => byDay.get(d)?.completed ?? 0) },
  ],
})}
<h3 id="request-list-title">Open overdue, and received in this period</h3>
${
  listed.length === 0
    ? html`<p>No requests are overdue, and none were received in this period.</p>`
    : html`<div class="scroll" role="region" aria-labelledby="request-list-title" tabindex="0">
<table class="requests">
<caption>Requests of ${view.period.region}: overdue first, by deadline; then the others, newest first</caption>
<thead><tr><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Received</th><th scope="col">Due</th><th scope="col">Completed</th></tr></thead>
<tbody>${listed.map((r) => requestRow(r, overdueIds.has(r.id), ctx, back))}</tbody>
</table>
</div>`
}
${cut(view.overdue.length, view.overdueTotal, "overdue requests, the oldest deadlines first")}
${cut(view.received.length, view.receivedTotal, "requests received in this period, the newest first")}
</section>`;
}

/** Says that a list stops short of all there is; nothing when it shows them all. */
function cut(shown: number, total: number, what: string): Html | false {
  return shown < total && html`<p class="cut">Showing ${shown} of ${total} ${what}.</p>`;
}

function requestRow(r: PrivacyRequestView, overdue: boolean, ctx: ConsolePageContext, back: string): Html {
  return html`<tr${overdue ? html` class="overdue"` : ""}>
<th scope="row"><a href="${ctx.base}/requests/${r.id}${back}">${r.type} ${r.id.slice(0, 8)}</a></th>
<td>${overdue ? html`<strong>overdue</strong>` : r.status}</td>
<td>${time(r.receivedAt)}</td>
<td>${time(r.dueAt)}</td>
<td>${r.completedAt === null ? "not yet" : time(r.completedAt)}</td>
</tr>`;
}

function blocked(view: ConsoleView): Html {
  const byPurpose = view.report.writesBlocked.byPurpose;
  const purposes = purposesOf(view, Object.keys(byPurpose));
  return html`<section id="blocked" aria-labelledby="blocked-title">
<h2 id="blocked-title">Blocked writes</h2>
${renderChart({
  id: "blocked-writes",
  title: "Writes blocked per purpose",
  description:
    "Writes the gate refused because the purpose was not allowed, per purpose, by the hour they were refused (logged hourly).",
  categoryHeader: "Purpose",
  categories: purposes,
  series: [{ name: "blocked writes", values: purposes.map((p) => byPurpose[p] ?? 0) }],
})}
</section>`;
}

function purged(view: ConsoleView): Html {
  return html`<section id="purged" aria-labelledby="purged-title">
<h2 id="purged-title">Rows purged</h2>
${renderChart({
  id: "rows-purged",
  title: "Rows purged per day",
  description: "Records the purge job deleted (expired, or beyond a purpose's window), per day and purpose.",
  categoryHeader: "Day",
  skipEmptyRows: true,
  ...perDayPerPurpose(view, view.daily.purged),
})}
</section>`;
}

const epsilon = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/0+$/, ""));

function budget(view: ConsoleView): Html {
  const label = (b: BudgetUse) => `${b.kind === "release" ? "release" : "model"} ${b.name}`;
  const uses = view.budgets;
  return html`<section id="budget" aria-labelledby="budget-title">
<h2 id="budget-title">Privacy budget</h2>
${
  uses.length === 0
    ? html`<p>The policy has no insights releases and no learning models: nothing spends a privacy budget.</p>`
    : html`${renderChart({
        id: "privacy-budget",
        title: "Epsilon spent of each budget",
        description:
          "For each insights release, the epsilon spent in its rolling budget period at its last release in this period; for each learning model, the epsilon spent over its life, now.",
        categoryHeader: "Release or model",
        categories: uses.map(label),
        series: [
          { name: "spent", values: uses.map((b) => b.spent) },
          { name: "left", values: uses.map((b) => Math.max(0, b.budget - b.spent)) },
        ],
        format: epsilon,
      })}
<ul class="budget-notes">${uses.map(
        (b) =>
          html`<li>${label(b)}: ${
            b.undefinedModel
              ? "not defined in this process yet (gate.learning.define)"
              : html`ε ${epsilon(b.spent)} of ${epsilon(b.budget)}${b.kind === "release" && (b.at === undefined ? ", no release in this period" : html`, last released ${time(b.at)}`)}`
          }</li>`,
      )}</ul>
${releasesTable(view)}`
}
</section>`;
}

function releasesTable(view: ConsoleView): Html | false {
  return (
    view.releases.length > 0 &&
    html`<div class="scroll" role="region" aria-labelledby="releases-caption" tabindex="0">
<table>
<caption id="releases-caption">Insights releases in this period</caption>
<thead><tr><th scope="col">Released</th><th scope="col">Release</th><th scope="col">ε of this release</th><th scope="col">ε spent in its period</th><th scope="col">Budget</th></tr></thead>
<tbody>${view.releases.map(
      (r) =>
        html`<tr><th scope="row">${time(r.at)}</th><td>${r.name}</td><td>${epsilon(r.epsilon)}</td><td>${epsilon(r.spent)}</td><td>${epsilon(r.budget)}</td></tr>`,
    )}</tbody>
</table>
</div>
${cut(view.releases.length, view.releasesTotal, "insights releases in this period, the newest")}`
  );
}

/**
 * The request's own record (an erasure's certificate) names the subject and is the subject's to
 * download; the officer sees the fields and the log's entries, which say how it went without who.
 */
export function renderRequest(details: RequestDetails, ctx: ConsolePageContext, back: string): string {
  const r = details.request;
  const heading = `${r.type === "export" ? "Export" : "Erasure"} request ${r.id}`;
  const fact = (label: string, value: Html | string) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  return layout(
    ctx,
    heading,
    html`<main id="main" class="page">
<p><a href="${ctx.base}/${back}">Back to the console</a></p>
<h1>${heading}</h1>
${details.overdue && html`<p class="verdict broken"><strong>Overdue:</strong> its deadline passed ${time(r.dueAt)} and it is not completed.</p>`}
<dl class="facts">
${fact("Type", r.type)}
${fact("Status", r.status)}
${fact("Region", r.region)}
${fact("Received", time(r.receivedAt))}
${fact("Due", time(r.dueAt))}
${fact("Completed", r.completedAt === null ? "not yet" : time(r.completedAt))}
${fact("Made by", r.actorId === null ? "the subject" : "an agent on the subject's behalf")}
</dl>
<h2 id="entries-title">Its compliance log entries</h2>
${entries(details.entries)}
</main>`,
  );
}

function entries(list: readonly StoredLogEntry[]): Html {
  if (list.length === 0) return html`<p>The log holds no entries of it (they may have been trimmed).</p>`;
  return html`<div class="scroll" role="region" aria-labelledby="entries-title" tabindex="0">
<table>
<caption>Entries of the ${list[0]!.region} log naming this request</caption>
<thead><tr><th scope="col">Entry</th><th scope="col">Written</th><th scope="col">Event</th><th scope="col">Details</th></tr></thead>
<tbody>${list.map(
    (e) =>
      html`<tr><th scope="row">${e.seq}</th><td>${time(e.at)}</td><td>${e.event}</td><td><code>${JSON.stringify(e.details)}</code></td></tr>`,
  )}</tbody>
</table>
</div>`;
}

const DATE = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

function time(date: Date): Html {
  return html`<time datetime="${date.toISOString()}">${DATE.format(date)} UTC</time>`;
}
