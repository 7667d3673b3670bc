/**
 * When each job fires (docs/deployment.md: Jobs and schedules), in UTC. The policy's `jobs:` section
 * overrides the defaults, and the `schedules` option overrides the policy.
 */
import cron from "node-cron";
import { ConsentgateError } from "../errors.ts";
import { JOB_NAMES, type JobName, type Policy } from "../policy/types.ts";

export type Schedules = Readonly<Record<JobName, string>>;

export const DEFAULT_SCHEDULES: Schedules = {
  purge: "*/15 * * * *",
  deadlines: "0 * * * *",
  "compliance-report": "0 2 * * *",
  "log-retention": "0 3 * * *",
  // Half past, so that a retried erasure is done before the next hourly deadlines run looks at it.
  "erasure-retry": "30 * * * *",
  // Daily: a release is made when its policy's `every` has passed, and a refused one is logged each time it is tried.
  insights: "45 3 * * *",
  // Every 10 minutes: a round is aggregated soon after it holds minClients updates, and a run with none ready costs one count.
  learning: "*/10 * * * *",
};

export function resolveSchedules(policy: Policy, overrides: Partial<Record<JobName, string>> = {}): Schedules {
  // The policy loader checks the shape of a cron expression; node-cron is the judge of what it can run.
  const problems = JOB_NAMES.flatMap((job) => {
    const expression = policy.jobs[job];
    return expression === undefined || cron.validate(expression)
      ? []
      : [`jobs.${job}: "${expression}" is not a cron expression node-cron can run`];
  });
  if (problems.length > 0)
    throw new ConsentgateError("policy_invalid", `the policy's job schedules are invalid: ${problems.join("; ")}`, {
      problems,
    });
  return Object.fromEntries(
    JOB_NAMES.map((job) => [job, overrides[job] ?? policy.jobs[job] ?? DEFAULT_SCHEDULES[job]]),
  ) as Record<JobName, string>;
}
