/**
 * Checks that relate one part of a policy to another: a route names a purpose
 * that exists, the default region exists, no country belongs to two regions.
 * They read the raw merged data defensively, so that they report alongside
 * the schema's problems instead of waiting for those to be fixed first.
 */
import { describe, type Problem } from "./problem.ts";
import { didYouMean } from "./suggest.ts";

export function checkRelations(data: Record<string, unknown>): Problem[] {
  const purposes = asRecord(data["purposes"]);
  const regions = asRecord(data["regions"]);
  return [
    ...(purposes ? windowsNeedRetention(purposes) : []),
    ...(purposes ? routesNamePurposes(asRecord(data["routes"]) ?? {}, Object.keys(purposes)) : []),
    ...(regions ? defaultRegionExists(asRecord(data["defaults"])?.["region"], Object.keys(regions)) : []),
    ...(regions ? regionNamesDistinct(Object.keys(regions)) : []),
    ...(regions ? countriesInOneRegion(regions) : []),
  ];
}

function windowsNeedRetention(purposes: Record<string, unknown>): Problem[] {
  return Object.entries(purposes).flatMap(([name, value]) => {
    const purpose = asRecord(value);
    if (purpose === undefined) return [];
    const path = ["purposes", name, "retention"];
    if ("window" in purpose && !("retention" in purpose))
      return [
        {
          path,
          message: "is missing; a purpose with a window must say how long interactions are kept, e.g. retention: 90d",
        },
      ];
    if ("retention" in purpose && !("window" in purpose))
      return [
        {
          path,
          message: "has no effect without window: this purpose stores no interactions; add window or remove retention",
        },
      ];
    return [];
  });
}

function routesNamePurposes(routes: Record<string, unknown>, purposes: readonly string[]): Problem[] {
  return Object.entries(routes).flatMap(([route, purpose]) =>
    typeof purpose === "string" && !purposes.includes(purpose)
      ? [
          {
            path: ["routes", route],
            message: `no purpose named "${purpose}"${didYouMean(purpose, purposes)}; purposes are: ${list(purposes)}`,
            needsEveryFile: true,
          },
        ]
      : [],
  );
}

function defaultRegionExists(region: unknown, regions: readonly string[]): Problem[] {
  return typeof region === "string" && !regions.includes(region)
    ? [
        {
          path: ["defaults", "region"],
          message: `no region named "${region}"${didYouMean(region, regions)}; regions are: ${list(regions)}`,
          needsEveryFile: true,
        },
      ]
    : [];
}

/** Region names are matched case-insensitively when resolving a request's region, so "eu" and "EU" would be ambiguous. */
function regionNamesDistinct(names: readonly string[]): Problem[] {
  return names.flatMap((name, index) => {
    const earlier = names.slice(0, index).find((other) => other.toLowerCase() === name.toLowerCase());
    return earlier === undefined
      ? []
      : [
          {
            path: ["regions", name],
            message: `differs from region "${earlier}" only in capitals; region names must differ in letters`,
          },
        ];
  });
}

/** Each caller gets exactly one region, so a country in two regions has no answer. */
function countriesInOneRegion(regions: Record<string, unknown>): Problem[] {
  const owner = new Map<string, string>();
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(regions)) {
    const countries = asRecord(value)?.["countries"];
    if (!Array.isArray(countries)) continue;
    countries.forEach((country: unknown, index) => {
      if (typeof country !== "string") return;
      const code = country.toUpperCase();
      const previous = owner.get(code);
      if (previous === undefined) owner.set(code, name);
      else {
        const message =
          previous === name
            ? `${describe(code)} is listed twice in this region`
            : `${describe(code)} is also in region ${previous}; a country belongs to one region`;
        problems.push({ path: ["regions", name, "countries", index], message });
      }
    });
  }
  return problems;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "(none)" : names.join(", ");
}
