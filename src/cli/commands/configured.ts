/**
 * What the job commands (purge, report, verify) share: which database and
 * policy they act on. The database is the app's: --database, else
 * DATABASE_URL, else the embedded files in ./.consentgate; an in-memory
 * database would be a fresh, empty one, so it is refused.
 */
import { isConsentgateError } from "../../errors.ts";
import { loadPolicy } from "../../policy/load.ts";
import { didYouMean } from "../../policy/suggest.ts";
import type { Policy } from "../../policy/types.ts";
import { type Database, parseDatabase } from "../../store/connection.ts";
import { type Io, UsageError, failure } from "../command.ts";

export const CONFIGURED_OPTIONS = {
  database: { type: "string" },
  policies: { type: "string" },
} as const;

export const CONFIGURED_USAGE = "[--database postgres://…] [--policies folder]";

export interface Configured {
  /** The `database` option as createConsentgate takes it (undefined: the embedded files). */
  option: string | undefined;
  database: Database;
  policies: string;
}

export function configured(
  values: { database?: string | undefined; policies?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Configured {
  const option = values.database ?? (env.DATABASE_URL || undefined);
  if (option === "memory") {
    throw new UsageError(
      "an in-memory database starts empty: name the app's database with --database or DATABASE_URL (or neither, for ./.consentgate)",
    );
  }
  try {
    return { option, database: parseDatabase(option), policies: values.policies ?? "./policies" };
  } catch (error) {
    if (isConsentgateError(error, "invalid_option")) throw new UsageError(error.message);
    throw error;
  }
}

/** The policy, or undefined after printing its problems (the command then exits 1). */
export async function policyOrProblems(folder: string, io: Io): Promise<Policy | undefined> {
  try {
    return await loadPolicy(folder);
  } catch (error) {
    if (!isConsentgateError(error, "policy_invalid")) throw error;
    const problems = error.details.problems ?? [];
    const message = `${folder}: the policy is not valid`;
    failure(io, { code: "policy_invalid", message, problems }, [...problems, message]);
    return undefined;
  }
}

export function regionOf(policy: Policy, positionals: readonly string[]): string {
  const regions = Object.keys(policy.regions);
  if (positionals.length !== 1) throw new UsageError(`name one region (${regions.join(", ")})`);
  const region = positionals[0]!;
  if (!Object.hasOwn(policy.regions, region))
    throw new UsageError(`unknown region "${region}"${didYouMean(region, regions)} (regions: ${regions.join(", ")})`);
  return region;
}
