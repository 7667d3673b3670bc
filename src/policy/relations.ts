/**
 * Checks that relate one part of a policy to another: a route names a purpose
 * that exists, the default region exists, no country belongs to two regions.
 * They read the raw merged data defensively, so that they report alongside
 * the schema's problems instead of waiting for those to be fixed first.
 */
import { discreteLaplaceThreshold } from "../noise/index.ts";
import { describe, type Problem } from "./problem.ts";
import { isSketchHashes, isSketchWidth } from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import { AGGREGATIONS, MAX_DELTA, MAX_KEYS_LIMIT, MAX_SKETCH_CELLS } from "./types.ts";

export function checkRelations(data: Record<string, unknown>): Problem[] {
  const purposes = asRecord(data["purposes"]);
  const regions = asRecord(data["regions"]);
  const telemetry = asRecord(data["telemetry"]);
  return [
    ...(purposes ? windowsNeedRetention(purposes) : []),
    ...(purposes ? insightsNeedWindow(purposes) : []),
    ...(purposes ? releaseKeysAreKept(purposes) : []),
    ...(purposes ? releaseNamesUnique(purposes) : []),
    ...(purposes ? budgetsHoldOneRelease(purposes) : []),
    ...(purposes ? thresholdsFinite(purposes) : []),
    ...(purposes ? modelNamesUnique(purposes) : []),
    ...(purposes ? trimGoesWithTrimmedMean(purposes) : []),
    ...(telemetry && purposes ? metricsNamePurposes(telemetry, Object.keys(purposes)) : []),
    ...(telemetry ? sketchesFit(telemetry) : []),
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

/** Each purpose's releases as [purpose, release name, raw release] (the release may be anything a file wrote). */
function releasesOf(purposes: Record<string, unknown>): [string, string, Record<string, unknown> | undefined][] {
  return Object.entries(purposes).flatMap(([purpose, value]) =>
    Object.entries(asRecord(asRecord(value)?.["insights"]) ?? {}).map(
      ([name, release]) => [purpose, name, asRecord(release)] as [string, string, Record<string, unknown> | undefined],
    ),
  );
}

/** A release counts what the purpose's windows hold; a purpose without a window holds nothing. */
function insightsNeedWindow(purposes: Record<string, unknown>): Problem[] {
  return Object.entries(purposes).flatMap(([name, value]) => {
    const purpose = asRecord(value);
    const insights = asRecord(purpose?.["insights"]);
    if (purpose === undefined || insights === undefined || Object.keys(insights).length === 0 || "window" in purpose)
      return [];
    return [
      {
        path: ["purposes", name, "insights"],
        message:
          "has no effect without window: this purpose stores no interactions, so every release would be empty; add window or remove insights",
      },
    ];
  });
}

/**
 * A release counts the stored values of its key, so the key must be stored as
 * written (keep) or as a pseudonym that stays equal for equal values (hash).
 * A coarsened value (bucket, geohash, …) is refused: a release counts keys,
 * not ranges. A rule the schema already refuses is left to the schema.
 */
function releaseKeysAreKept(purposes: Record<string, unknown>): Problem[] {
  return releasesOf(purposes).flatMap(([purpose, name, release]) => {
    const key = release?.["key"];
    if (typeof key !== "string" || key === "") return [];
    const fields = asRecord(asRecord(purposes[purpose])?.["fields"]) ?? {};
    const path = ["purposes", purpose, "insights", name, "key"];
    const kept = Object.keys(fields).filter((field) => fields[field] === "keep" || fields[field] === "hash");
    const candidates = `fields this purpose keeps or hashes: ${list(kept)}`;
    if (!Object.hasOwn(fields, key))
      return [{ path, message: `"${key}" is not a field of this purpose${didYouMean(key, kept)}; ${candidates}` }];
    const rule = fields[key];
    if (rule === "keep" || rule === "hash") return [];
    if (rule === "drop")
      return [{ path, message: `field "${key}" is dropped by this purpose, so no window holds it; ${candidates}` }];
    // An unknown word or a malformed rule is the schema's to report; a well-formed coarsening rule is ours.
    const coarsened = asRecord(rule);
    if (coarsened === undefined || Object.keys(coarsened).length !== 1) return [];
    return [
      {
        path,
        message: `field "${key}" is stored coarsened ({ ${Object.keys(coarsened)[0]}: … }); a release key must be kept (keep) or pseudonymized (hash), so that equal values are counted together; ${candidates}`,
      },
    ];
  });
}

/** A release is addressed by its name alone (GET /insights/<name>), whichever purpose it belongs to. */
function releaseNamesUnique(purposes: Record<string, unknown>): Problem[] {
  const owner = new Map<string, string>();
  return releasesOf(purposes).flatMap(([purpose, name]) => {
    const previous = owner.get(name);
    if (previous === undefined) {
      owner.set(name, purpose);
      return [];
    }
    return [
      {
        path: ["purposes", purpose, "insights", name],
        message: `is also a release of purpose ${previous}; releases are addressed by name alone (GET /insights/${name}), so each name may be used once in the policy`,
      },
    ];
  });
}

/** Each purpose's federated model as [purpose, raw learning block], for purposes that have one. */
function modelsOf(purposes: Record<string, unknown>): [string, Record<string, unknown>][] {
  return Object.entries(purposes).flatMap(([purpose, value]) => {
    const learning = asRecord(asRecord(value)?.["learning"]);
    return learning ? [[purpose, learning] as [string, Record<string, unknown>]] : [];
  });
}

/** A model is addressed by its name alone (GET /learning/<model>), whichever purpose trains it. */
function modelNamesUnique(purposes: Record<string, unknown>): Problem[] {
  const owner = new Map<string, string>();
  return modelsOf(purposes).flatMap(([purpose, learning]) => {
    const model = learning["model"];
    if (typeof model !== "string") return [];
    const previous = owner.get(model);
    if (previous === undefined) {
      owner.set(model, purpose);
      return [];
    }
    return [
      {
        path: ["purposes", purpose, "learning", "model"],
        message: `"${model}" is also the model of purpose ${previous}; models are addressed by name alone (GET /learning/${model}), so each name may be used once in the policy`,
      },
    ];
  });
}

/** `trim` means something only to trimmed-mean, and trimmed-mean means nothing without it. */
function trimGoesWithTrimmedMean(purposes: Record<string, unknown>): Problem[] {
  return modelsOf(purposes).flatMap(([purpose, learning]) => {
    const trimmed = learning["aggregation"] === "trimmed-mean";
    if (trimmed && !("trim" in learning))
      return [
        {
          path: ["purposes", purpose, "learning", "trim"],
          message: "is missing; trimmed-mean must say what fraction of updates to cut from each end, e.g. trim: 0.1",
        },
      ];
    // An aggregation that is not one of the choices is the schema's to report; here it would only add noise.
    if (!trimmed && "trim" in learning && (AGGREGATIONS as readonly unknown[]).includes(learning["aggregation"]))
      return [
        {
          path: ["purposes", purpose, "learning", "trim"],
          message: `has no effect with aggregation ${learning["aggregation"]}; remove it, or use aggregation: trimmed-mean`,
        },
      ];
    return [];
  });
}

/** A budget that cannot hold one release would refuse every release: surely not what was meant. */
function budgetsHoldOneRelease(purposes: Record<string, unknown>): Problem[] {
  return releasesOf(purposes).flatMap(([purpose, name, release]) => {
    const epsilon = release?.["epsilon"];
    const budget = asRecord(release?.["budget"])?.["epsilon"];
    // Values the schema refuses are reported there; comparing them would only repeat it.
    if (!isPositive(epsilon) || !isPositive(budget) || budget >= epsilon) return [];
    return [
      {
        path: ["purposes", purpose, "insights", name, "budget", "epsilon"],
        message: `${budget} is less than one release's epsilon (${epsilon}), so every release would be refused; raise budget.epsilon to at least ${epsilon} or lower epsilon`,
      },
    ];
  });
}

/**
 * Each value the schema allows can still combine into a threshold too large
 * for a double (an epsilon of 1e-320, a delta of 1e-320 over maxKeys keys):
 * the release could never compute it, so the policy is refused here, where
 * the line can be named. The threshold is src/noise's, the one releases use.
 */
function thresholdsFinite(purposes: Record<string, unknown>): Problem[] {
  return releasesOf(purposes).flatMap(([purpose, name, release]) => {
    const epsilon = release?.["epsilon"];
    const delta = release?.["delta"];
    const maxKeys = release?.["maxKeys"];
    if (!isPositive(epsilon) || !isPositive(delta) || delta > MAX_DELTA) return [];
    if (!Number.isInteger(maxKeys) || (maxKeys as number) < 1 || (maxKeys as number) > MAX_KEYS_LIMIT) return [];
    try {
      discreteLaplaceThreshold({ l0: maxKeys as number, lInf: 1, epsilon, delta });
      return [];
    } catch {
      return [
        {
          path: ["purposes", purpose, "insights", name],
          message: `with epsilon ${epsilon}, delta ${delta} and maxKeys ${maxKeys as number}, the threshold a key must reach to be released is too large to compute, so nothing could ever be released; raise epsilon or delta`,
        },
      ];
    }
  });
}

function metricsNamePurposes(telemetry: Record<string, unknown>, purposes: readonly string[]): Problem[] {
  return Object.entries(telemetry).flatMap(([metric, value]) => {
    const purpose = asRecord(value)?.["purpose"];
    return typeof purpose === "string" && purpose !== "" && !purposes.includes(purpose)
      ? [
          {
            path: ["telemetry", metric, "purpose"],
            message: `no purpose named "${purpose}"${didYouMean(purpose, purposes)}; purposes are: ${list(purposes)}`,
            needsEveryFile: true,
          },
        ]
      : [];
  });
}

/** The server holds a metric's whole sketch in memory (src/telemetry/sketch.ts refuses more than MAX_CELLS). */
function sketchesFit(telemetry: Record<string, unknown>): Problem[] {
  return Object.entries(telemetry).flatMap(([metric, value]) => {
    const sketch = asRecord(asRecord(value)?.["sketch"]);
    const hashes = sketch?.["hashes"];
    const width = sketch?.["width"];
    if (typeof hashes !== "number" || typeof width !== "number") return [];
    if (!isSketchHashes(hashes) || !isSketchWidth(width) || hashes * width <= MAX_SKETCH_CELLS) return [];
    return [
      {
        path: ["telemetry", metric, "sketch"],
        message: `has ${hashes} × ${width} = ${hashes * width} cells; the server holds a sketch in memory, 4 bytes a cell, and allows at most 2^28 = ${MAX_SKETCH_CELLS} (1 GiB): lower hashes or width`,
      },
    ];
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

function isPositive(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "(none)" : names.join(", ");
}
