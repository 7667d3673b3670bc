/**
 * The privacy center's HTML, rendered on the server so that the page is
 * complete (and readable) before, and without, any script. The script only
 * enables the controls, calls the API and re-renders by fetching this page
 * again: one renderer, no client-side templates to drift from it.
 */
import { type Html, html } from "../html.ts";
import type { CenterView, PurposeView, ReceiptView, RequestView } from "./view.ts";
import {
  LEGAL_BASIS,
  REQUEST_STATUS,
  REQUEST_TYPE,
  duration,
  explainChoice,
  records,
  regionRules,
  when,
} from "./words.ts";

export interface PageContext {
  title: string;
  /** Where gate.router() is mounted, e.g. "/privacy". */
  api: string;
  /** Where the privacy center is mounted, for its own assets. */
  base: string;
}

function layout(ctx: PageContext, body: Html, apiAttr?: string): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ctx.title}</title>
<link rel="stylesheet" href="${ctx.base}/assets/center.css">
<script type="module" src="${ctx.base}/assets/center.js"></script>
</head>
<body${apiAttr === undefined ? "" : html` data-api="${apiAttr}"`}>
${body}
</body>
</html>
`.text;
}

/** A page with one message: sign in first, or try again later. */
export function renderNotice(ctx: PageContext, message: string, link?: { href: string; text: string }): string {
  return layout(
    ctx,
    html`<main id="main" class="page">
<h1>${ctx.title}</h1>
<p class="lead">${message}</p>
${link && html`<p><a class="button primary" href="${link.href}">${link.text}</a></p>`}
</main>`,
  );
}

export function renderCenter(view: CenterView, ctx: PageContext): string {
  return layout(
    ctx,
    html`<a class="skip" href="#choices-title">Skip to your choices</a>
<header class="page">
<h1>${ctx.title}</h1>
<p>Signed in as <strong>${view.subject}</strong>.</p>
</header>
<main id="main" class="page">
<div id="status" class="status" role="status" aria-live="polite" aria-atomic="true"></div>
<noscript><p class="note">You can read this page and download your data without JavaScript. Changing a choice or erasing your data needs JavaScript.</p></noscript>
${where(view)}
${choices(view)}
${held(view, ctx)}
<section id="certificate" class="certificate" aria-labelledby="certificate-title" tabindex="-1" hidden>
<h2 id="certificate-title">Erasure certificate</h2>
<div id="certificate-body"></div>
</section>
${requests(view, ctx)}
${receipts(view, ctx)}
</main>
${dialogs()}`,
    ctx.api,
  );
}

function where(view: CenterView): Html {
  const gpcMeans = view.region.gpc === "opt-out-of-sale-or-share";
  const gpc = view.gpc
    ? gpcMeans
      ? "Your browser sends Global Privacy Control (GPC). Here it opts you out of any selling or sharing of your data, and we honour it."
      : "Your browser sends Global Privacy Control (GPC). The rules that apply to you give it no separate effect: what needs your permission stays off until you allow it."
    : "Your browser does not send Global Privacy Control (GPC).";
  return html`<section id="where" data-section aria-labelledby="where-title">
<h2 id="where-title">The rules that apply to you</h2>
<p>${regionRules(view.region)}</p>
<p id="gpc-state">${gpc}</p>
</section>`;
}

function choices(view: CenterView): Html {
  return html`<section id="choices" data-section aria-labelledby="choices-title">
<h2 id="choices-title">Your choices</h2>
<p>What we use your data for, why we are allowed to, and how long we keep it. Policy version ${view.policyVersion}.</p>
<ul class="purposes" role="list">
${view.purposes.map((p) => purpose(p, view))}
</ul>
</section>`;
}

function purpose(p: PurposeView, view: CenterView): Html {
  const basis = LEGAL_BASIS[p.legalBasis];
  const id = (part: string) => `${part}-${p.name}`;
  return html`<li><article class="purpose" id="${id("purpose")}" aria-labelledby="${id("title")}">
<h3 id="${id("title")}">${p.description}</h3>
<dl class="facts">
<div><dt>Why we may</dt><dd><strong>${basis.name}.</strong> ${basis.meaning}</dd></div>
<div><dt>How long we keep it</dt><dd>${keptFor(p)}</dd></div>
<div><dt>How much we keep</dt><dd>${keptHowMuch(p)}</dd></div>
<div><dt>Sold or shared</dt><dd>${p.saleOrShare ? "Yes: this counts as selling or sharing your data under US state privacy laws. Global Privacy Control opts you out where those laws apply." : "No"}</dd></div>
${p.sensitive && html`<div><dt>Sensitive</dt><dd>Yes: it needs your explicit permission wherever you are.</dd></div>`}
<div><dt>We hold now</dt><dd id="${id("held")}">${records(p.held)}</dd></div>
</dl>
<p class="choice">
<input type="checkbox" role="switch" class="switch" id="${id("switch")}" data-purpose="${p.name}" data-needs-js
 aria-describedby="${id("explain")}"${p.gpcBlocks ? html` data-gpc` : ""}${p.granted ? html` checked` : ""} disabled>
<label for="${id("switch")}">Allow: ${p.description}</label>
</p>
<p class="explain" id="${id("explain")}">${explainChoice(p, view.region)}</p>
</article></li>`;
}

function keptFor(p: PurposeView): string {
  if (p.retention) return `Each record at most ${duration(p.retention)}`;
  if (p.learning)
    return "Your listening stays on your device. An update of the shared model that your device sends is kept only until it is combined with other people's, then deleted";
  return p.keptByApp ? "Until you delete it, or erase your data here" : "We keep no records for this";
}

function keptHowMuch(p: PurposeView): string {
  if (p.window) return `Only your ${p.window} most recent record${p.window === 1 ? "" : "s"}`;
  if (p.learning) return "One model update from you per round, until it is combined";
  return p.keptByApp ? "What you save, and only the details listed for it" : "Nothing";
}

function held(view: CenterView, ctx: PageContext): Html {
  const total = view.purposes.reduce((sum, p) => sum + p.held, 0);
  const choices = view.receiptsTotal;
  const summary =
    total === 0 && choices === 0
      ? "We hold no personal data about you."
      : `We hold ${records(total)} and ${choices} privacy choice${choices === 1 ? "" : "s"} about you.`;
  return html`<section id="data" data-section aria-labelledby="data-title">
<h2 id="data-title">Your data</h2>
<p id="held-summary">${summary}</p>
<p><a class="button" id="export" href="${ctx.api}/export" download>Download a copy of your data</a></p>
<p class="hint">A JSON file with your choices and their history, every record we hold and why it exists, and your requests.</p>
<p><button type="button" class="danger" id="erase" data-needs-js disabled>Erase all my data…</button></p>
</section>`;
}

/** Said when the page lists only the newest part of a long list: the rest is in the download. */
function onlyLatest(shown: number, total: number, what: string, ctx: PageContext): Html | false {
  return (
    total > shown &&
    html`<p class="note" id="${what}-more">Only your ${shown} most recent ${what} of ${total} are listed here. <a href="${ctx.api}/export" download>Download a copy of your data</a> for all of them.</p>`
  );
}

function requests(view: CenterView, ctx: PageContext): Html {
  const list = view.requests;
  const rows = list.map(
    (r) => html`<tr>
<th scope="row">${REQUEST_TYPE[r.type]}</th>
<td>${REQUEST_STATUS[r.status]}</td>
<td>${time(r.receivedAt)}</td>
<td>${time(r.dueAt)}</td>
<td>${completed(r)}</td>
</tr>`,
  );
  return html`<section id="requests" data-section aria-labelledby="requests-title">
<h2 id="requests-title">Your requests</h2>
${
  list.length === 0
    ? html`<p>You have not asked for a copy or an erasure of your data.</p>`
    : html`<p>The law sets a deadline for each request; the "due" column shows it.</p>
<div class="scroll" role="region" aria-labelledby="requests-title" tabindex="0">
<table>
<thead><tr><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Received</th><th scope="col">Due</th><th scope="col">Completed</th></tr></thead>
<tbody>${rows}</tbody>
</table>
</div>
${onlyLatest(list.length, view.requestsTotal, "requests", ctx)}`
}
</section>`;
}

function receipts(view: CenterView, ctx: PageContext): Html {
  const described = new Map(view.purposes.map((p) => [p.name, p.description]));
  const item = (r: ReceiptView) => html`<li>
<strong>${r.granted ? "Allowed" : "Turned off"}:</strong> ${described.get(r.purpose) ?? r.purpose}, ${time(r.at)}${r.overrideGpc ? " (over Global Privacy Control)" : ""}
<details><summary>Receipt ${r.id}</summary>
<dl class="receipt">
<div><dt>Purpose</dt><dd><code>${r.purpose}</code></dd></div>
<div><dt>Policy version</dt><dd>${r.policyVersion}</dd></div>
<div><dt>Rules of</dt><dd>${r.region}</dd></div>
<div><dt>Global Privacy Control at the time</dt><dd>${r.gpc ? "on" : "off"}</dd></div>
<div><dt>Signature</dt><dd><code class="signature">${r.signature}</code></dd></div>
</dl>
</details>
</li>`;
  return html`<section id="receipts" data-section aria-labelledby="receipts-title">
<h2 id="receipts-title">Receipts for your choices</h2>
${
  view.receipts.length === 0
    ? html`<p>You have not made any choices yet.</p>`
    : html`<p>Each choice you make gets a receipt we sign, newest first. The download includes them.</p>
<ul class="receipts">${view.receipts.map(item)}</ul>
${onlyLatest(view.receipts.length, view.receiptsTotal, "receipts", ctx)}`
}
</section>`;
}

function dialogs(): Html {
  return html`<dialog id="confirm-gpc" aria-labelledby="confirm-gpc-title" aria-describedby="confirm-gpc-text">
<h2 id="confirm-gpc-title">Allow despite Global Privacy Control?</h2>
<p id="confirm-gpc-text">Your browser sends Global Privacy Control, which asks us not to sell or share your data. “<span id="confirm-gpc-purpose"></span>” counts as selling or sharing, so the signal keeps it off. If you allow it here, we will do it despite the signal, until you turn it off again.</p>
<form method="dialog" class="actions">
<button type="submit" value="cancel" autofocus>Keep it off</button>
<button type="submit" value="confirm" class="primary">Allow anyway</button>
</form>
</dialog>
<dialog id="confirm-erase" aria-labelledby="confirm-erase-title" aria-describedby="confirm-erase-text">
<h2 id="confirm-erase-title">Erase all your data?</h2>
<p id="confirm-erase-text">This deletes your privacy choices and every record we hold about you, including what this service keeps in its own data. It cannot be undone. Before anything that needs your permission is collected again, you will be asked again. We keep a note that you asked for the erasure, because the law requires us to show that we answered.</p>
<form method="dialog" class="actions">
<button type="submit" value="cancel" autofocus>Cancel</button>
<button type="submit" value="confirm" class="danger">Erase everything</button>
</form>
</dialog>`;
}

/** An interrupted or failed download is closed, but it was never completed. */
function completed(r: RequestView): Html | string {
  if (r.completedAt === undefined) return "not yet";
  return r.status === "completed" ? time(r.completedAt) : "no";
}

function time(date: Date): Html {
  return html`<time datetime="${date.toISOString()}">${when(date)}</time>`;
}
