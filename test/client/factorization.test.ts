/**
 * The device's matrix factorization (src/client/factorization.ts): the user
 * solve against the normal equations written out entry by entry (HKV eq. 4)
 * and against a hand-computed 1-dimensional case, the dense item gradient
 * against finite differences of the device's loss, the local update's
 * incremental YᵀY against a recomputation, the float32 base64 against
 * Node's Buffer, clipping, and the top-k order.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  clipToNorm,
  decodeFloat32,
  deviceLoss,
  encodeFloat32,
  gramian,
  type ItemFactors,
  type ItemPlays,
  itemGradient,
  l2Norm,
  localUpdate,
  solveUserVector,
  topItems,
} from "../../src/client/index.ts";

/** A small model with values from a fixed-seed LCG (reproducible; the math does not care where they come from). */
function smallModel(items: number, dimensions: number, seed = 1): ItemFactors {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.5;
  };
  return { items, dimensions, factors: Float64Array.from({ length: items * dimensions }, next) };
}

const PLAYS: ItemPlays[] = [
  { item: 1, count: 3 },
  { item: 4, count: 1 },
  { item: 6, count: 7 },
];

describe("solveUserVector (HKV eq. 4)", () => {
  test("satisfies (Σ_i c_ui y_i y_iᵀ + λI) x = Σ_i c_ui p_ui y_i, summed over every item", () => {
    const model = smallModel(9, 4);
    const options = { alpha: 5, regularization: 0.3 };
    const x = solveUserVector(model, PLAYS, options);
    const d = 4;
    const counts = new Map(PLAYS.map((p) => [p.item, p.count]));
    for (let a = 0; a < d; a++) {
      // Row a of the normal equations, built from the definition (no YᵀY shortcut).
      let left = options.regularization * x[a]!;
      let right = 0;
      for (let i = 0; i < model.items; i++) {
        const c = 1 + options.alpha * (counts.get(i) ?? 0);
        const p = counts.has(i) ? 1 : 0;
        let score = 0;
        for (let b = 0; b < d; b++) score += model.factors[i * d + b]! * x[b]!;
        left += c * model.factors[i * d + a]! * score;
        right += c * p * model.factors[i * d + a]!;
      }
      assert.ok(Math.abs(left - right) < 1e-10, `row ${a}: ${left} vs ${right}`);
    }
  });

  test("one dimension by hand: x = Σ c p y / (Σ c y² + λ)", () => {
    // y = [1, 2, 3], item 0 played twice, α = 1, λ = 0.5: c = [3, 1, 1].
    // x = (3·1) / (3·1 + 4 + 9 + 0.5) = 3 / 16.5.
    const x = solveUserVector({ items: 3, dimensions: 1, factors: [1, 2, 3] }, [{ item: 0, count: 2 }], {
      alpha: 1,
      regularization: 0.5,
    });
    assert.ok(Math.abs(x[0]! - 3 / 16.5) < 1e-15);
  });

  test("no plays: the zero vector; a given YᵀY gives the same answer as the computed one", () => {
    const model = smallModel(6, 3);
    assert.deepEqual(Array.from(solveUserVector(model, [], { alpha: 2, regularization: 0.1 })), [0, 0, 0]);
    const options = { alpha: 2, regularization: 0.1 };
    const plays = [{ item: 2, count: 1 }];
    assert.deepEqual(solveUserVector(model, plays, options, gramian(model)), solveUserVector(model, plays, options));
  });

  test("refuses λ ≤ 0, unknown rows, repeated rows and counts ≤ 0", () => {
    const model = smallModel(3, 2);
    assert.throws(() => solveUserVector(model, [], { alpha: 1, regularization: 0 }), RangeError);
    assert.throws(() => solveUserVector(model, [{ item: 3, count: 1 }], { alpha: 1, regularization: 1 }), RangeError);
    assert.throws(
      () =>
        solveUserVector(
          model,
          [
            { item: 0, count: 1 },
            { item: 0, count: 2 },
          ],
          { alpha: 1, regularization: 1 },
        ),
      RangeError,
    );
    assert.throws(() => solveUserVector(model, [{ item: 0, count: 0 }], { alpha: 1, regularization: 1 }), RangeError);
  });
});

describe("itemGradient (FCF §3)", () => {
  test("equals central finite differences of the device's loss, on every coordinate of every item", () => {
    const model = smallModel(8, 3, 7);
    const user = [0.4, -0.7, 1.1];
    const options = { alpha: 4, itemRegularization: 0.05 };
    const gradient = itemGradient(model, user, PLAYS.slice(0, 2), options);
    const factors = Float64Array.from(model.factors);
    const h = 1e-6;
    for (let j = 0; j < factors.length; j++) {
      const at = (shift: number) => {
        const moved = Float64Array.from(factors);
        moved[j]! += shift;
        return deviceLoss({ ...model, factors: moved }, user, PLAYS.slice(0, 2), options);
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(numeric - gradient[j]!) < 1e-6, `coordinate ${j}: ${numeric} vs ${gradient[j]}`);
    }
  });

  test("is dense: unplayed items get 2(xᵀy)x, non-zero whenever xᵀy is", () => {
    const model = smallModel(10, 2, 3);
    const user = [0.5, 0.25];
    const gradient = itemGradient(model, user, [{ item: 0, count: 1 }], { alpha: 1, itemRegularization: 0 });
    for (let i = 1; i < 10; i++) {
      const score = 0.5 * model.factors[2 * i]! + 0.25 * model.factors[2 * i + 1]!;
      assert.ok(Math.abs(gradient[2 * i]! - 2 * score * 0.5) < 1e-15);
      assert.notEqual(gradient[2 * i], 0);
    }
  });
});

describe("localUpdate", () => {
  test("one epoch is −γ ∇J_u at the solved x_u", () => {
    const model = smallModel(7, 3, 11);
    const options = { alpha: 3, regularization: 0.2, itemRegularization: 0.01, learningRate: 0.1, epochs: 1 };
    const plays = [{ item: 5, count: 2 }];
    const { delta, user } = localUpdate(model, plays, options);
    assert.deepEqual(user, solveUserVector(model, plays, options));
    const gradient = itemGradient(model, user, plays, options);
    for (let j = 0; j < delta.length; j++) assert.ok(Math.abs(delta[j]! + 0.1 * gradient[j]!) < 1e-14);
  });

  test("several epochs equal the same steps taken one at a time (the incremental YᵀY is exact)", () => {
    const model = smallModel(12, 4, 5);
    const options = { alpha: 6, regularization: 0.1, itemRegularization: 0.02, learningRate: 0.07, epochs: 3 };
    const plays = PLAYS;
    const { delta, user } = localUpdate(model, plays, options);
    let factors = Float64Array.from(model.factors);
    let lastUser: Float64Array = new Float64Array(0);
    for (let epoch = 0; epoch < 3; epoch++) {
      const step = localUpdate({ ...model, factors }, plays, { ...options, epochs: 1 });
      factors = factors.map((value, j) => value + step.delta[j]!);
      lastUser = step.user;
    }
    for (let j = 0; j < delta.length; j++)
      assert.ok(Math.abs(model.factors[j]! + delta[j]! - factors[j]!) < 1e-12, `coordinate ${j}`);
    for (let a = 0; a < 4; a++) assert.ok(Math.abs(user[a]! - lastUser[a]!) < 1e-12);
  });

  test("lowers the device's loss for a small step", () => {
    const model = smallModel(20, 4, 9);
    // Small against the loss's curvature 2·c_ui·‖x_u‖² (about 1 300 here: c = 71, ‖x_u‖² ≈ 9).
    const options = { alpha: 10, regularization: 0.1, itemRegularization: 0, learningRate: 1e-4, epochs: 1 };
    const { delta, user } = localUpdate(model, PLAYS, options);
    const moved = { ...model, factors: Float64Array.from(model.factors, (v, j) => v + delta[j]!) };
    assert.ok(deviceLoss(moved, user, PLAYS, options) < deviceLoss(model, user, PLAYS, options));
  });
});

describe("float32 base64", () => {
  test("matches Buffer's base64 of the little-endian float32 bytes, and decodes back exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { maxLength: 40 }), (values) => {
        const text = encodeFloat32(values);
        const floats = Float32Array.from(values);
        const bytes = Buffer.alloc(4 * floats.length);
        floats.forEach((v, i) => bytes.writeFloatLE(v, 4 * i));
        assert.equal(text, bytes.toString("base64"));
        const back = decodeFloat32(text, values.length);
        values.forEach((v, i) => assert.ok(Object.is(back[i], v), `${v} came back as ${back[i]}`));
      }),
    );
  });

  test("the documented example, −0 keeps its sign, and doubles round to the nearest float32", () => {
    assert.equal(encodeFloat32([0.5, -0.25, 0]), "AAAAPwAAgL4AAAAA");
    assert.ok(Object.is(decodeFloat32(encodeFloat32([-0]))[0], -0));
    assert.equal(decodeFloat32(encodeFloat32([0.1]))[0], Math.fround(0.1));
  });

  test("never encodes a non-finite value, and refuses one on decode", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e39])
      assert.throws(() => encodeFloat32([1, bad]), RangeError);
    const nan = Buffer.alloc(4);
    nan.writeFloatLE(Number.NaN);
    assert.throws(() => decodeFloat32(nan.toString("base64")), TypeError);
    const infinity = Buffer.alloc(4);
    infinity.writeFloatLE(Number.POSITIVE_INFINITY);
    assert.throws(() => decodeFloat32(infinity.toString("base64")), TypeError);
  });

  test("refuses text that is not canonical base64 of whole float32 values", () => {
    for (const bad of ["AAA", "AAAA====", "AA=A", "AAA*", "AAAAAAA=", "AAAAAB==", "AAAAAAAAAA=="])
      assert.throws(() => decodeFloat32(bad), TypeError, bad);
    assert.throws(() => decodeFloat32("AAAAPw==", 2), TypeError);
    assert.deepEqual(Array.from(decodeFloat32("")), []);
  });
});

describe("clipToNorm", () => {
  test("within clip: unchanged; beyond: scaled to just under clip, still under after float32 rounding", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 64 }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        (values, clip) => {
          const { delta, norm } = clipToNorm(values, clip);
          assert.ok(Math.abs(norm - l2Norm(values)) === 0);
          const sent = decodeFloat32(encodeFloat32(delta));
          let square = 0;
          for (const v of sent) square += v * v;
          assert.ok(Math.sqrt(square) <= clip, `${Math.sqrt(square)} > ${clip}`);
          if (norm <= clip * (1 - 2 ** -20)) assert.deepEqual(Array.from(delta), values);
          else assert.ok(Math.abs(l2Norm(delta) - clip) < clip * 1e-5);
        },
      ),
    );
  });

  test("an all-zero delta stays all zero (no division by its zero norm); a bad clip is refused", () => {
    const { delta, norm } = clipToNorm(new Float64Array(5), 1);
    assert.equal(norm, 0);
    assert.deepEqual(Array.from(delta), [0, 0, 0, 0, 0]);
    assert.throws(() => clipToNorm([1], 0), RangeError);
    assert.throws(() => clipToNorm([1], Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => clipToNorm([Number.NaN], 1), RangeError);
  });

  test("l2Norm is √Σv², without overflow on large values", () => {
    assert.equal(l2Norm([3, 4]), 5);
    assert.ok(Math.abs(l2Norm([3e200, 4e200]) / 5e200 - 1) < 1e-15);
    assert.equal(l2Norm([]), 0);
  });
});

describe("topItems", () => {
  test("the k best scores in order, ties to the lower row, excluded rows skipped", () => {
    const model = { items: 6, dimensions: 2, factors: [1, 0, 0, 1, 2, 0, 1, 1, 0.5, 0, 2, 0] };
    const user = [1, 0.5];
    // Scores: 1, 0.5, 2, 1.5, 0.5, 2.
    assert.deepEqual(topItems(model, user, 3), [2, 5, 3]);
    assert.deepEqual(topItems(model, user, 10), [2, 5, 3, 0, 1, 4]);
    assert.deepEqual(topItems(model, user, 3, new Set([2, 3])), [5, 0, 1]);
    assert.deepEqual(topItems(model, user, 0), []);
  });

  test("agrees with a full sort on random models", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 12 }), fc.integer(), (n, k, seed) => {
        const model = smallModel(n, 3, Math.abs(seed) + 1);
        const user = [0.3, -0.2, 0.9];
        const scores = Array.from({ length: n }, (_, i) =>
          user.reduce((sum, u, a) => sum + u * model.factors[i * 3 + a]!, 0),
        );
        const sorted = scores
          .map((score, i) => ({ score, i }))
          .sort((a, b) => b.score - a.score || a.i - b.i)
          .slice(0, k)
          .map((entry) => entry.i);
        assert.deepEqual(topItems(model, user, k), sorted);
      }),
    );
  });
});
