/** The example's one HTML page: sign in, play and like tracks, see recommendations, make playlists. */
import { REGIONS, type Listener } from "./sign-in.ts";
import { TRACKS, type Recommendations, trackById } from "./catalog.ts";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (body: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tunes: a Consentgate example</title>
<link rel="stylesheet" href="/home.css"></head>
<body><main>
<h1>Tunes</h1>
${body}
</main></body></html>`;

export function signInPage(): string {
  return page(`<p>A small music service that mounts Consentgate. Sign in as anyone, anywhere, to see how the rules differ.</p>
<form method="post" action="/signin">
<p><label for="name">Listener name</label><br><input id="name" name="name" required pattern="[A-Za-z][A-Za-z0-9_\\-]{0,31}" autocomplete="username" value="alice"></p>
<p><label for="region">Where you are</label><br><select id="region" name="region">
${REGIONS.map((r) => `<option value="${r.code}">${escape(r.label)}</option>`).join("\n")}
</select></p>
<p><input type="checkbox" id="dpo" name="dpo"> <label for="dpo">Sign in as the privacy officer (demo only: opens the privacy console)</label></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

/** What the listener allowed: server-side personalization, and whether they chose on-device recommendations. */
export interface HomeModes {
  personalized: boolean;
  /** The listener granted the on-device purpose: plays stay in the browser, which recommends by itself. */
  onDevice: boolean;
}

/** A playlist as the page and GET /api/playlists show it. */
export interface PlaylistView {
  id: number;
  name: string;
  createdAt: Date;
  /** Track ids, in the playlist's order. */
  tracks: string[];
}

/** The listener's library: their playlists (newest first), and the tracks they like, ticked for a new one. */
export interface HomeLibrary {
  playlists: readonly PlaylistView[];
  liked: ReadonlySet<string>;
}

export function homePage(
  user: Listener,
  recommendations: Recommendations,
  modes: HomeModes,
  library: HomeLibrary,
): string {
  const { personalized, onDevice } = modes;
  // On the device a play is only observed: there is no like (the device model counts plays), and nothing is posted.
  const actions = (id: string) =>
    onDevice
      ? `<button type="button" data-track="${id}" data-action="play">Play</button>`
      : `<button type="button" data-track="${id}" data-action="play">Play</button>
<button type="button" data-track="${id}" data-action="like">Like</button>`;
  const rows = TRACKS.map(
    (
      t,
    ) => `<li data-title="${escape(t.title)}"><span>${escape(t.title)} <small>${escape(t.artist)} · ${t.genre}</small></span>
${actions(t.id)}</li>`,
  ).join("\n");
  const picks = recommendations.tracks
    .map((t) => `<li>${escape(t.title)} <small>${escape(t.artist)}</small></li>`)
    .join("\n");
  const heading =
    recommendations.basedOn === "popular" ? "Popular right now" : "Recommended from your recent listening";
  const mode = onDevice
    ? `<section id="on-device" data-listener="${escape(user.id)}" aria-labelledby="on-device-heading">
<h2 id="on-device-heading">Recommendations on this device</h2>
<p><strong>Your plays stay on this device.</strong> They are kept in this browser's storage and never sent to Tunes; your recommendations are computed here, in the browser.</p>
<p>You can help improve the shared model everyone recommends from: a contribution sends one clipped change of the model's numbers, never your plays, and it is combined with other listeners' changes and blurred with random noise before it is used.</p>
<p><button type="button" id="contribute">Contribute to the shared model</button>
<button type="button" id="leave-device">Stop recommending on this device</button></p>
</section>`
    : `<section id="choose-device" aria-labelledby="choose-device-heading">
<h2 id="choose-device-heading">Keep your listening on this device</h2>
<p>Recommendations can be computed in your browser instead: your plays would stay on this device and never be sent to Tunes.</p>
<p><button type="button" id="choose-device">Recommend on this device only</button></p>
</section>`;
  return page(`<p>Signed in as <strong>${escape(user.id)}</strong> in ${escape(user.region)}.
<a href="/privacy-center">Your privacy choices</a>${user.roles.includes("dpo") ? ` · <a href="/privacy-console">Privacy console</a>` : ""}</p>
<form method="post" action="/signout"><button type="submit">Sign out</button></form>
<p id="status" role="status" aria-live="polite"></p>
${onDevice ? "" : ASK}
${mode}
<h2 id="recommendations-heading">${heading}</h2>
${personalized || onDevice ? "" : `<p id="personalize-hint">Recommendations use what you play only if you allow personalization in <a href="/privacy-center">your privacy choices</a>.</p>`}
<ol id="recommendations">${picks}</ol>
<h2>All tracks</h2>
<ul id="tracks">${rows}</ul>
${librarySection(library)}
${onDevice ? `<script type="module" src="/device.js"></script>` : `<script src="/home.js"></script>`}
<script src="/playlists.js"></script>`);
}

/**
 * Just-in-time consent: shown by home.js (never by the server) when a play or
 * like is refused for want of a consent the listener has not been asked for
 * yet. Not a dialog: the page stays usable, and "Not now" puts it away for
 * the session.
 */
const ASK = `<section id="ask" aria-labelledby="ask-heading" hidden>
<h2 id="ask-heading">Remember what you play?</h2>
<p id="ask-why"></p>
<p><button type="button" id="ask-allow">Allow</button>
<button type="button" id="ask-dismiss">Not now</button></p>
<p><small>Your choice is saved with a receipt, and you can change it any time in <a href="/privacy-center">your privacy choices</a>.</small></p>
</section>`;

/** The listener's playlists, and a form that makes one: a name and a ticked list of tracks. */
function librarySection({ playlists, liked }: HomeLibrary): string {
  const list =
    playlists.length === 0
      ? `<p id="no-playlists">No playlists yet.</p>`
      : `<ul id="playlists">${playlists.map(playlistItem).join("\n")}</ul>`;
  const choices = TRACKS.map(
    (t) =>
      `<li><label><input type="checkbox" name="tracks" value="${t.id}"${liked.has(t.id) ? " checked" : ""}> ${escape(t.title)} <small>${escape(t.artist)}</small></label></li>`,
  ).join("\n");
  return `<section id="library" aria-labelledby="playlists-heading">
<h2 id="playlists-heading">Your playlists</h2>
${list}
<form id="new-playlist" aria-labelledby="new-playlist-heading">
<h3 id="new-playlist-heading">Make a playlist</h3>
<p><label for="playlist-name">Playlist name</label><br><input id="playlist-name" name="name" required maxlength="100" value="${liked.size > 0 ? "My liked tracks" : ""}"></p>
<fieldset><legend>Tracks in it${liked.size > 0 ? " (the ones you like are ticked)" : ""}</legend>
<ul class="choices">${choices}</ul>
</fieldset>
<p><button type="submit">Save as a playlist</button></p>
</form>
</section>`;
}

/** One playlist, folded: its name and size, and its tracks in order when opened. */
function playlistItem(playlist: PlaylistView): string {
  const count = `${playlist.tracks.length} ${playlist.tracks.length === 1 ? "track" : "tracks"}`;
  const titles = playlist.tracks.map((id) => `<li>${escape(trackById.get(id)?.title ?? id)}</li>`).join("");
  return `<li><details><summary>${escape(playlist.name)} <small>${count}</small></summary><ol>${titles}</ol></details></li>`;
}

/**
 * Plays and likes go through the JSON API. A refusal for want of consent is
 * explained in the listener's words, from what GET /privacy/consents says
 * decided it: no choice yet → the question, once, with Allow (a receipt like
 * any other choice, then the play is sent again, once) and Not now (for the
 * session); an explicit no, or their browser's GPC signal → only a quiet line
 * saying the play is not remembered, never the question again.
 */
export const HOME_SCRIPT = `const status = document.getElementById("status");
const ask = document.getElementById("ask");
const privacyChoices = () => Object.assign(document.createElement("a"), { href: "/privacy-center", textContent: "your privacy choices" });
const say = (...parts) => status.replaceChildren(...parts);
const trouble = (answer, response) => "Something went wrong" + (answer.error ? ": " + answer.error.message : " (error " + response.status + ")") + ".";
const notNow = (purpose) => "tunes-not-now:" + purpose;
// The refused play or like the question is about, sent again once if the listener allows.
let waiting;

function send({ action, track }) {
  return fetch(action === "like" ? "/api/likes" : "/api/plays", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ itemId: track, action, durationMs: 200000, userAgent: navigator.userAgent }),
  });
}

document.addEventListener("click", async (event) => {
  if (event.target.closest("#choose-device")) return chooseDevice();
  if (event.target.closest("#ask-allow")) return allow();
  if (event.target.closest("#ask-dismiss")) return dismiss();
  const button = event.target.closest("button[data-track]");
  if (!button) return;
  const attempt = { action: button.dataset.action, track: button.dataset.track, button };
  const response = await send(attempt);
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return location.reload();
  if (answer.error && answer.error.code === "consent_required") return explain(answer.error.purpose, attempt);
  say(trouble(answer, response));
});

ask.addEventListener("keydown", (event) => {
  if (event.key === "Escape") dismiss();
});

async function explain(purpose, attempt) {
  const response = await fetch("/privacy/consents");
  const consents = response.ok ? await response.json() : { purposes: [] };
  const choice = consents.purposes.find((p) => p.purpose === purpose);
  const what = attempt.action === "like" ? "This like is" : "This play is";
  if (choice && choice.source === "gpc") {
    return say(what + " not remembered: your browser's Global Privacy Control signal asks us not to use it for this. You can decide otherwise in ", privacyChoices(), ".");
  }
  const refused = choice && choice.source === "explicit" && !choice.granted;
  if (refused || sessionStorage.getItem(notNow(purpose))) {
    return say(what + " not remembered, as you chose. You can change that in ", privacyChoices(), ".");
  }
  // Only a listener who has never chosen is asked; anything else (the choice changing this very second, the
  // consents unreadable) is not a question to put to them.
  if (!choice || choice.source !== "region-default") return say(what + " not remembered. See ", privacyChoices(), ".");
  waiting = { ...attempt, purpose, description: choice.description };
  document.getElementById("ask-why").textContent =
    "To remember what you play and suggest music from it, we need your permission to use your listening history for: " + choice.description + ".";
  say("");
  ask.hidden = false;
  document.getElementById("ask-allow").focus();
}

async function allow() {
  if (!waiting) return;
  const attempt = waiting;
  waiting = undefined;
  ask.hidden = true;
  const response = await fetch("/privacy/consents/" + encodeURIComponent(attempt.purpose), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ granted: true }),
  });
  const receipt = await response.json().catch(() => ({}));
  attempt.button.focus();
  if (!response.ok) return say(trouble(receipt, response));
  const saved = "Saved. Receipt " + receipt.id + ". ";
  const again = await send(attempt);
  const answer = await again.json().catch(() => ({}));
  document.getElementById("personalize-hint")?.remove();
  if (!again.ok) return say(saved + trouble(answer, again));
  const title = attempt.button.closest("li").dataset.title;
  say(saved + title + " is remembered for your recommendations.");
}

function dismiss() {
  if (!waiting) return;
  sessionStorage.setItem(notNow(waiting.purpose), "1");
  const { button } = waiting;
  waiting = undefined;
  ask.hidden = true;
  say("Not remembered. You can allow it any time in ", privacyChoices(), ".");
  button.focus();
}

// On this device only: consent to the on-device purpose, and withdraw server-side personalization, which
// erases the plays the server holds (onWithdrawal: purge), so that none of the listener's plays stay there.
async function chooseDevice() {
  for (const [purpose, granted] of [["on-device", true], ["personalization", false]]) {
    const response = await fetch("/privacy/consents/" + purpose, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ granted }),
    });
    // Read to the end (the receipt), so the reload below cannot abort a response still arriving.
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      say(trouble(answer, response));
      return;
    }
  }
  location.reload();
}
`;

/**
 * Makes a playlist from the form through the JSON API, in either mode: the
 * gate's answer (201, or an error with its reason) shows as it is.
 */
export const PLAYLISTS_SCRIPT = `document.getElementById("new-playlist").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const status = document.getElementById("status");
  const tracks = [...form.querySelectorAll('input[name="tracks"]:checked')].map((box) => box.value);
  if (tracks.length === 0) {
    status.textContent = "Tick at least one track for the playlist.";
    return;
  }
  const response = await fetch("/api/playlists", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: form.elements.name.value, tracks }),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return location.reload();
  status.textContent = answer.error ? answer.error.code + ": " + answer.error.message : "error " + response.status;
});
`;

/**
 * The on-device mode's module: the recommender of consentgate/client, served
 * by the privacy router at {api}/learning/client.js (same origin, so the
 * page's CSP stays 'self'). Plays are observed into IndexedDB, one database
 * per listener so that two listeners of one browser never mix their plays;
 * recommendations are computed here; a contribution posts one clipped update.
 */
export function deviceScript(api: string): string {
  return `import { createDeviceRecommender, indexedDbStorage } from "${api}/learning/client.js";

const section = document.getElementById("on-device");
const status = document.getElementById("status");
const recommender = createDeviceRecommender({
  api: "${api}",
  model: "recommender",
  storage: indexedDbStorage("tunes-on-device-" + section.dataset.listener),
});
const titleOf = (id) => document.querySelector('button[data-track="' + CSS.escape(id) + '"]')?.closest("li").dataset.title ?? id;
const say = (text) => { status.textContent = text; };
const failed = (error) => say("Something went wrong on this device: " + (error && error.message ? error.message : String(error)));

async function showRecommendations() {
  const ids = await recommender.recommend(5);
  // No plays yet: the popular list the server sent stays.
  if (ids.length === 0) return;
  document.getElementById("recommendations-heading").textContent = "Recommended on this device";
  document.getElementById("recommendations").replaceChildren(
    ...ids.map((id) => Object.assign(document.createElement("li"), { textContent: titleOf(id) })),
  );
}

async function contribute() {
  const result = await recommender.contribute();
  if ("norm" in result) return say("Contributed to round " + result.round + " of the shared model. Your plays stayed on this device.");
  const why = {
    no_plays: "Play a few tracks first: there is nothing to learn from yet.",
    no_known_plays: "None of your plays are tracks the shared model knows yet.",
    stopped: "The shared model is not learning any more.",
    already_contributed: "You already contributed to this round; thank you.",
    already_reported: "You already contributed to this round; thank you.",
    round_closed: "That round just closed; try again later.",
    consent_required: "Contributing needs your consent to on-device recommendations.",
  };
  say(why[result.skipped] ?? "Nothing was sent.");
}

async function leave() {
  const response = await fetch("${api}/consents/on-device", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ granted: false }),
  });
  // Read to the end (the receipt), so the reload cannot abort a response still arriving.
  await response.json().catch(() => ({}));
  if (!response.ok) return say("error " + response.status);
  location.reload();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  let work;
  if (button.dataset.action === "play") {
    const id = button.dataset.track;
    work = recommender.observe(id).then(() => {
      say("Playing " + titleOf(id) + ". The play is kept on this device only.");
      return showRecommendations();
    });
  } else if (button.id === "contribute") work = contribute();
  else if (button.id === "leave-device") work = leave();
  work?.catch(failed);
});

showRecommendations().catch(failed);
`;
}

export const HOME_STYLE = `body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
#tracks { list-style: none; padding: 0; }
#tracks li { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .25rem 0; }
#tracks span { flex: 1 1 14rem; }
small { color: #555; }
fieldset { border: 1px solid #999; }
.choices { list-style: none; padding: 0; margin: 0; columns: 2 14rem; }
.choices li { break-inside: avoid; }
.choices label { display: block; padding: .125rem 0; }
#playlists { list-style: none; padding: 0; }
#ask { border: 2px solid #b35c00; border-radius: .5rem; padding: 0 1rem; margin: 1rem 0; }
:focus-visible { outline: 3px solid #b35c00; outline-offset: 2px; }
`;
