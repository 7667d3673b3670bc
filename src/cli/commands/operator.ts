/**
 * What `consentgate export` and `consentgate erase` share: the subject an
 * operator names, who the operator is, the region the request is made in,
 * and a gate on the app's database to run the HTTP routes' code with.
 */
import { userInfo } from "node:os";
import { type Consentgate, createConsentgate } from "../../consentgate.ts";
import { didYouMean } from "../../policy/suggest.ts";
import type { Policy } from "../../policy/types.ts";
import { unstorableText } from "../../store/storable.ts";
import { type Io, UsageError } from "../command.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems } from "./configured.ts";
import { SIGNING_KEYS_OPTIONS, SIGNING_KEYS_USAGE, signingKeysFile } from "./signing-keys.ts";

export const OPERATOR_OPTIONS = {
  ...CONFIGURED_OPTIONS,
  actor: { type: "string" },
  region: { type: "string" },
  ...SIGNING_KEYS_OPTIONS,
} as const;

export const OPERATOR_USAGE = `[--actor id] [--region name] ${CONFIGURED_USAGE} ${SIGNING_KEYS_USAGE}`;

/**
 * The CLI has none of the app's code: its registered data sources and its
 * gated Prisma models (which GET /export includes) are not reached. Said
 * after every export, so nobody mistakes one for the route's. (An erasure
 * leaves its request open for the app's erasure-retry job instead: erase.ts.)
 */
export const APP_DATA_NOT_INCLUDED =
  "the app's own data (its registered data sources and gated Prisma models) is not included: the CLI does not run the app's code; use the app's GET /export for it";

export interface OperatorRequest {
  subjectId: string;
  /** Who is logged as acting for the subject. */
  operator: string;
  region: string;
  gate: Consentgate;
}

/** Parses what both commands share and opens the gate (the caller closes it); undefined after printing a policy's problems. */
export async function operatorRequest(
  values: { database?: string; policies?: string; actor?: string; region?: string; "signing-keys"?: string },
  positionals: readonly string[],
  io: Io,
): Promise<OperatorRequest | undefined> {
  if (positionals.length !== 1) throw new UsageError("name one subject id");
  const subjectId = positionals[0]!;
  if (subjectId.length === 0 || subjectId.length > 256 || unstorableText(subjectId))
    throw new UsageError("the subject id must be 1 to 256 characters of storable text");
  const operator = values.actor ?? osOperator();
  if (operator.length === 0 || operator.length > 256 || unstorableText(operator))
    throw new UsageError("--actor must be 1 to 256 characters of storable text");
  const target = configured(values);
  const secret = process.env.CONSENTGATE_SECRET;
  if (!secret)
    throw new UsageError(
      "set CONSENTGATE_SECRET to the app's secret: requests are logged and certificates signed with it",
    );
  // The app's keys, so that a certificate the CLI signs verifies against the app's GET /keys.
  const signing = await signingKeysFile(values["signing-keys"], secret);
  const policy = await policyOrProblems(target.policies, io);
  if (!policy) return undefined;
  const region = regionNamed(policy, values.region);
  const gate = await createConsentgate({
    policies: target.policies,
    ...(target.option === undefined ? {} : { database: target.option }),
    secret,
    ...(signing === undefined ? {} : { signingKeys: signing.sources }),
  });
  return { subjectId, operator, region, gate };
}

/** The operator by default: "cli:" and the login name, so the log says which account ran it. */
function osOperator(): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (a container's arbitrary user): nobody to name by default.
  }
  if (!name) throw new UsageError("name the operator with --actor (this account has no login name)");
  return `cli:${name}`;
}

/** --region, else the policy's default region: the deadline is the region's. */
function regionNamed(policy: Policy, name: string | undefined): string {
  if (name === undefined) return policy.defaults.region;
  const regions = Object.keys(policy.regions);
  if (!Object.hasOwn(policy.regions, name))
    throw new UsageError(`unknown region "${name}"${didYouMean(name, regions)} (regions: ${regions.join(", ")})`);
  return name;
}
