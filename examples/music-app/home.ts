/** The example's one HTML page: sign in, play and like tracks, see recommendations. */
import { REGIONS, type Listener } from "./sign-in.ts";
import { TRACKS, type Recommendations } from "./catalog.ts";

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
<p><button type="submit">Sign in</button></p>
</form>`);
}

export function homePage(user: Listener, recommendations: Recommendations, personalized: boolean): string {
  const rows = TRACKS.map(
    (t) => `<li><span>${escape(t.title)} <small>${escape(t.artist)} · ${t.genre}</small></span>
<button type="button" data-track="${t.id}" data-action="play">Play</button>
<button type="button" data-track="${t.id}" data-action="like">Like</button></li>`,
  ).join("\n");
  const picks = recommendations.tracks
    .map((t) => `<li>${escape(t.title)} <small>${escape(t.artist)}</small></li>`)
    .join("\n");
  return page(`<p>Signed in as <strong>${escape(user.id)}</strong> in ${escape(user.region)}.
<a href="/privacy-center">Your privacy choices</a></p>
<form method="post" action="/signout"><button type="submit">Sign out</button></form>
<p id="status" role="status" aria-live="polite"></p>
<h2>${recommendations.basedOn === "popular" ? "Popular right now" : "Recommended from your recent listening"}</h2>
${personalized ? "" : `<p>Recommendations use what you play only if you allow personalization in <a href="/privacy-center">your privacy choices</a>.</p>`}
<ol id="recommendations">${picks}</ol>
<h2>All tracks</h2>
<ul id="tracks">${rows}</ul>
<script src="/home.js"></script>`);
}

/** Plays and likes go through the JSON API, so the gate's answer (201, or 403 with its reason) shows as it is. */
export const HOME_SCRIPT = `document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-track]");
  if (!button) return;
  const action = button.dataset.action;
  const response = await fetch(action === "like" ? "/api/likes" : "/api/plays", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ itemId: button.dataset.track, action, durationMs: 200000, userAgent: navigator.userAgent }),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return location.reload();
  document.getElementById("status").textContent = answer.error ? answer.error.code + ": " + answer.error.message : "error " + response.status;
});
`;

export const HOME_STYLE = `body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
#tracks { list-style: none; padding: 0; }
#tracks li { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .25rem 0; }
#tracks span { flex: 1 1 14rem; }
small { color: #555; }
:focus-visible { outline: 3px solid #b35c00; outline-offset: 2px; }
`;
