/**
 * The privacy center's browser script, served as a same-origin file so that a
 * `default-src 'self'` policy allows it. It is a string here, not a .js file
 * beside this one, because tsc ships only compiled .ts into dist/ and the
 * package must work without a copy step. Plain ES2020, no build, no
 * dependencies; the page works for reading without it.
 */
export const SCRIPT = String.raw`"use strict";
const api = document.body.dataset.api;

function say(text, problem) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("problem", Boolean(problem));
}

function enable() {
  for (const control of document.querySelectorAll("[data-needs-js]")) control.disabled = false;
}

async function call(method, path, body) {
  const init = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(api + path, init);
  if (!response.ok) {
    const answer = await response.json().catch(() => undefined);
    throw new Error(answer && answer.error ? answer.error.message : "the server answered " + response.status);
  }
  return response;
}

// Re-render from the server's own HTML, keeping focus where it was.
async function refresh(focusId) {
  const response = await fetch(location.href, { headers: { accept: "text/html" }, cache: "no-store" });
  if (!response.ok) throw new Error("the page could not be reloaded (" + response.status + ")");
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const section of document.querySelectorAll("[data-section]")) {
    const replacement = fresh.getElementById(section.id);
    if (replacement) section.replaceWith(document.adoptNode(replacement));
  }
  enable();
  const target = focusId && document.getElementById(focusId);
  if (target) target.focus();
}

function purposeTitle(input) {
  return input.closest("article").querySelector("h3").textContent;
}

function ask(dialogId, then) {
  const dialog = document.getElementById(dialogId);
  dialog.returnValue = "";
  dialog.addEventListener("close", () => then(dialog.returnValue === "confirm"), { once: true });
  dialog.showModal();
}

async function choose(input, granted, overrideGpc) {
  const id = input.id;
  const title = purposeTitle(input);
  input.disabled = true;
  say("Saving your choice…");
  try {
    const body = overrideGpc ? { granted, overrideGpc } : { granted };
    const receipt = await (await call("PUT", "/consents/" + encodeURIComponent(input.dataset.purpose), body)).json();
    await refresh(id);
    say((granted ? "Allowed: " : "Turned off: ") + title + ". Receipt " + receipt.id + ".");
  } catch (error) {
    input.checked = !granted;
    input.disabled = false;
    say("Your choice was not saved: " + error.message, true);
  }
}

function onSwitch(input) {
  if (input.checked && input.hasAttribute("data-gpc")) {
    // GPC wins until the user confirms, so the switch stays off while they decide.
    input.checked = false;
    document.getElementById("confirm-gpc-purpose").textContent = purposeTitle(input);
    ask("confirm-gpc", (confirmed) => {
      if (confirmed) choose(input, true, true);
      else say("Kept off: " + purposeTitle(input) + ".");
    });
    return;
  }
  choose(input, input.checked, false);
}

function fileName(response) {
  const found = /filename="?([^";]+)"?/.exec(response.headers.get("content-disposition") || "");
  return found ? found[1] : "privacy-export.json";
}

async function download(link) {
  say("Preparing your download…");
  try {
    const response = await call("GET", "/export");
    const name = fileName(response);
    const url = URL.createObjectURL(await response.blob());
    const save = document.createElement("a");
    save.href = url;
    save.download = name;
    document.body.append(save);
    save.click();
    save.remove();
    // The browser reads the blob after this task; give it ample time before freeing it.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    await refresh(link.id);
    say("Downloaded your data as " + name + ".");
  } catch (error) {
    say("Your data could not be downloaded: " + error.message, true);
  }
}

const ERASED = {
  interactions: "records",
  interactionWindows: "record counters",
  consentEvents: "privacy choices, with their history",
  consentState: "current choices",
  privacyRequests: "earlier requests",
  telemetryReports: "when you sent usage reports",
  learningUpdates: "model updates from your device, not yet combined with others'",
};

// As the server writes dates (src/privacy-center/words.ts).
const DATE = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const when = (iso) => DATE.format(new Date(iso)) + " UTC";

// Shape: consentgate-erasure/1 (src/rights/erasure.ts).
function showCertificate(certificate) {
  const body = document.getElementById("certificate-body");
  const paragraph = (text) => Object.assign(document.createElement("p"), { textContent: text });
  const done = certificate.status === "completed";
  body.replaceChildren(
    paragraph((done ? "Completed on " + when(certificate.completedAt) : "Partly completed") + ". Request " + certificate.requestId + "."),
  );
  const list = document.createElement("ul");
  const line = (text) => list.append(Object.assign(document.createElement("li"), { textContent: text }));
  for (const [table, count] of Object.entries(certificate.erased.tables)) line((ERASED[table] || table) + ": " + count);
  for (const [source, count] of Object.entries(certificate.erased.dataSources)) line(source + " (this service's own data): " + count);
  body.append(list);
  if (!done) {
    const names = certificate.failures.map((failure) => failure.dataSource).join(", ");
    body.append(paragraph("Not erased yet: " + names + ". We keep trying; the request stays open until it is done."));
  }
  const details = document.createElement("details");
  details.append(
    Object.assign(document.createElement("summary"), { textContent: "The signed certificate" }),
    Object.assign(document.createElement("pre"), { textContent: JSON.stringify(certificate, null, 2) }),
  );
  body.append(details);
  const section = document.getElementById("certificate");
  section.hidden = false;
  section.focus();
}

function erase() {
  ask("confirm-erase", async (confirmed) => {
    if (!confirmed) return say("Nothing was erased.");
    say("Erasing your data…");
    try {
      const certificate = await (await call("DELETE", "/data")).json();
      await refresh();
      showCertificate(certificate);
      say("Your data was erased. The certificate below lists what was erased where.");
    } catch (error) {
      say("Your data was not erased: " + error.message, true);
    }
  });
}

document.addEventListener("change", (event) => {
  if (event.target.matches("input.switch")) onSwitch(event.target);
});

document.addEventListener("click", (event) => {
  const control = event.target.closest("#export, #erase");
  if (!control) return;
  event.preventDefault();
  if (control.id === "export") download(control);
  else erase();
});

enable();
`;
