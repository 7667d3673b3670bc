/**
 * The sensitivities of sensitivity.ts, checked the way they are defined:
 * replace one participant's clipped update by another (extreme directions
 * ±C·e_j, C spread over every coordinate, zero, random ones) and measure how
 * far the aggregate moves in L2. It must never exceed the stated Δ₂, and the
 * worst case of the derivation must reach it, so the bound is not loose.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type Aggregation,
  aggregateBlock,
  aggregationSensitivity,
  aggregationWindow,
  clipUpdate,
  trimCount,
} from "../../src/aggregation/index.ts";

/** ‖a − b‖₂ */
function distance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/** An update of norm ≤ clip in d coordinates: an extreme direction, or a random vector clipped. */
function update(d: number, clip: number): fc.Arbitrary<Float64Array> {
  const basis = fc
    .tuple(fc.integer({ min: 0, max: d - 1 }), fc.constantFrom(1, -1))
    .map(([j, sign]) => Float64Array.from({ length: d }, (_, i) => (i === j ? sign * clip : 0)));
  const spread = fc
    .array(fc.constantFrom(1, -1), { minLength: d, maxLength: d })
    .map((signs) => Float64Array.from(signs, (sign) => (sign * clip) / Math.sqrt(d)));
  const random = fc
    .array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: d, maxLength: d })
    .map((values) => clipUpdate(values, clip));
  return fc.oneof(basis, spread, random, fc.constant(new Float64Array(d)));
}

const round = fc
  .record({
    aggregation: fc.constantFrom<Aggregation>("mean", "median", "trimmed-mean"),
    participants: fc.integer({ min: 1, max: 12 }),
    dimensions: fc.integer({ min: 1, max: 5 }),
    clip: fc.constantFrom(1, 0.1, 3.7),
    trim: fc.constantFrom(0, 0.1, 0.2, 0.3, 0.45),
  })
  .filter((r) => r.aggregation !== "trimmed-mean" || r.participants - 2 * Math.floor(r.trim * r.participants) >= 1)
  .chain((r) =>
    fc.record({
      round: fc.constant(r),
      others: fc.array(update(r.dimensions, r.clip), { minLength: r.participants - 1, maxLength: r.participants - 1 }),
      before: update(r.dimensions, r.clip),
      after: update(r.dimensions, r.clip),
      position: fc.integer({ min: 0, max: r.participants - 1 }),
    }),
  );

describe("L2 sensitivity under replace-one adjacency", () => {
  test("property: replacing one clipped update never moves the aggregate by more than Δ₂ (2 000 rounds)", () => {
    fc.assert(
      fc.property(round, ({ round: r, others, before, after, position }) => {
        const withBefore = [...others.slice(0, position), before, ...others.slice(position)];
        const withAfter = [...others.slice(0, position), after, ...others.slice(position)];
        const moved = distance(
          aggregateBlock(r.aggregation, withBefore, r.dimensions, r.trim),
          aggregateBlock(r.aggregation, withAfter, r.dimensions, r.trim),
        );
        const bound = aggregationSensitivity(r);
        return moved <= bound * (1 + 1e-12);
      }),
      { numRuns: 2000 },
    );
  });

  test("the derivation's worst case attains Δ₂: k others at −C·e₁, k at +C·e₁, the rest at 0, and C·e₁ replaced by −C·e₁", () => {
    const cases: [Aggregation, number, number][] = [
      ["mean", 1, 0],
      ["mean", 10, 0],
      ["median", 7, 0],
      ["median", 8, 0],
      ["trimmed-mean", 10, 0.1],
      ["trimmed-mean", 10, 0.2],
      ["trimmed-mean", 101, 0.25],
    ];
    for (const [aggregation, participants, trim] of cases) {
      const r = { aggregation, participants, clip: 2, trim };
      const window = aggregationWindow(r);
      const k = (participants - window) / 2; // the cut of each end
      assert.equal(k, aggregation === "trimmed-mean" ? trimCount(participants, trim) : k);
      const d = 3;
      const at = (v: number) => Float64Array.of(v, 0, 0);
      const others = [
        ...Array.from({ length: k }, () => at(-2)),
        ...Array.from({ length: k }, () => at(2)),
        ...Array.from({ length: participants - 2 * k - 1 }, () => at(0)),
      ];
      const moved = distance(
        aggregateBlock(aggregation, [...others, at(2)], d, trim),
        aggregateBlock(aggregation, [...others, at(-2)], d, trim),
      );
      const bound = aggregationSensitivity(r);
      assert.ok(
        moved >= bound * (1 - 1e-12) && moved <= bound * (1 + 1e-12),
        `${aggregation} n=${participants}: ${moved} vs ${bound}`,
      );
    }
  });

  test("the stated values: mean 2C/n, trimmed mean 2C/(n − 2⌊βn⌋), median 2C (odd n) or C (even n)", () => {
    assert.equal(aggregationSensitivity({ aggregation: "mean", participants: 100, clip: 1 }), 0.02);
    assert.equal(
      aggregationSensitivity({ aggregation: "trimmed-mean", participants: 100, clip: 1, trim: 0.1 }),
      2 / 80,
    );
    assert.equal(aggregationSensitivity({ aggregation: "median", participants: 101, clip: 1 }), 2);
    assert.equal(aggregationSensitivity({ aggregation: "median", participants: 100, clip: 1 }), 1);
  });
});
