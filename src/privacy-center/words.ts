/**
 * The privacy center's plain-language wording: what a legal basis, a
 * duration or a decision means for the person reading, without jargon.
 */
import type { DecisionSource } from "../decision/decide.ts";
import type { LegalBasis, Region } from "../policy/types.ts";
import type { RequestStatus, RequestType } from "../store/requests.ts";
import type { PurposeView } from "./view.ts";

export const LEGAL_BASIS: Record<LegalBasis, { name: string; meaning: string; because: string }> = {
  consent: {
    name: "Your consent",
    meaning: "We rely on your permission. You can give it or take it back here at any time.",
    because: "you allowed it",
  },
  contract: {
    name: "Contract",
    meaning: "Needed to provide the service you signed up for. You can still object here.",
    because: "needed to provide the service you signed up for",
  },
  "legitimate-interest": {
    name: "Legitimate interest",
    meaning:
      "We think you would reasonably expect this, and we weighed it against your rights. You can object here at any time.",
    because: "we rely on a legitimate interest",
  },
  "legal-obligation": {
    name: "Legal obligation",
    meaning: "A law requires us to do this.",
    because: "a law requires it",
  },
};

const UNITS: Record<string, [string, string]> = { d: ["day", "days"], mo: ["month", "months"], y: ["year", "years"] };

/** "90d" → "90 days", "1mo" → "1 month". */
export function duration(text: string): string {
  const found = /^(\d+)(d|mo|y)$/.exec(text);
  if (!found) return text;
  const amount = Number(found[1]);
  const [one, many] = UNITS[found[2]!]!;
  return `${amount} ${amount === 1 ? one : many}`;
}

const DATE = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });

export function when(date: Date): string {
  return `${DATE.format(date)} UTC`;
}

export function records(n: number): string {
  return n === 0 ? "nothing" : `${n} record${n === 1 ? "" : "s"}`;
}

export function regionRules(region: Region): string {
  const law = region.frameworks.length > 0 ? ` (${region.frameworks.join(", ")})` : "";
  const model =
    region.model === "opt-in"
      ? "anything that needs your permission stays off until you turn it on"
      : "you can turn off anything that needs your permission; it is on until you do";
  return `The rules of ${region.name}${law} apply to you: ${model}.`;
}

/** Why the switch is where it is, in a sentence. */
export function explainChoice(p: PurposeView, region: Region): string {
  const at = p.choice ? when(p.choice.at) : "";
  const reasons: Record<DecisionSource | "unknown", () => string> = {
    explicit: () =>
      p.granted
        ? `On: you allowed this on ${at}${p.choice?.overrideGpc ? ", confirming it over your browser's Global Privacy Control signal" : ""}.`
        : `Off: you turned this off on ${at}.`,
    gpc: () =>
      p.choice?.granted
        ? `Off: you allowed this on ${at}, but your browser now sends Global Privacy Control, which opts you out of selling and sharing. The signal wins unless you confirm your permission again.`
        : "Off: your browser sends Global Privacy Control, which opts you out of selling and sharing.",
    "legal-basis": () => `On: ${LEGAL_BASIS[p.legalBasis].because}. Turn it off to object.`,
    "region-default": () => {
      if (p.granted) return `On by default under the rules of ${region.name}. Turn it off to opt out.`;
      return p.sensitive
        ? "Off: this is sensitive, so it needs your explicit permission wherever you are."
        : `Off until you allow it: under the rules of ${region.name} this needs your permission.`;
    },
    unknown: () => "Unknown purpose.",
  };
  return reasons[p.source]();
}

export const REQUEST_TYPE: Record<RequestType, string> = {
  export: "Copy of your data",
  erasure: "Erasure of your data",
};

export const REQUEST_STATUS: Record<RequestStatus, string> = {
  received: "In progress",
  completed: "Done",
  partial: "Partly done; we keep trying",
  overdue: "Overdue",
  aborted: "Download interrupted; download again for a copy",
  failed: "Could not be completed; please try again",
};
