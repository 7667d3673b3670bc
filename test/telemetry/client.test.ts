/**
 * The device's side of the Hadamard count-mean sketch (src/client/): the hash
 * family against an independent computation with node:crypto, the Hadamard
 * entries against Sylvester's construction, the exact samplers against their
 * probabilities, and the reports' distribution: j and l uniform, the sign
 * flipped with probability exactly 1/(e^ε + 1).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { sketchHash, telemetryReport } from "../../src/client/index.ts";
import { hadamardEntry, sketchHashes, utf8 } from "../../src/client/hash.ts";
import { telemetryParamsProblems } from "../../src/client/params.ts";
import {
  bernoulliExpMinus,
  exactRational,
  RandomWords,
  signFlip,
  uniformBigInt,
  uniformInt,
} from "../../src/client/random.ts";
import { sha256 } from "../../src/client/sha256.ts";
import { binomialWithin, uniformChiSquare } from "./stats.ts";

/** The hash family as src/client/hash.ts defines it, computed with node:crypto instead. */
function referenceHash(value: string, j: number, width: number): number {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(j);
  return createHash("sha256").update(prefix).update(Buffer.from(value, "utf8")).digest().readUInt32BE(0) % width;
}

describe("sha256", () => {
  test("matches node:crypto on every length across the padding boundaries, and the FIPS 180-2 example", () => {
    assert.equal(
      Buffer.from(sha256(new TextEncoder().encode("abc"))).toString("hex"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    for (let length = 0; length <= 200; length++) {
      const message = randomBytes(length);
      assert.deepEqual(Buffer.from(sha256(message)), createHash("sha256").update(message).digest(), `length ${length}`);
    }
    const long = randomBytes(10_000);
    assert.deepEqual(Buffer.from(sha256(long)), createHash("sha256").update(long).digest());
  });
});

describe("the hash family", () => {
  test("h_j(value) is BE32(SHA-256(BE32(j) ‖ UTF-8(value))[0..4]) mod m", () => {
    const values = ["", "jazz", "Jazz", "é", "e\u0301", "🎷 bebop", "x".repeat(300), "日本の音楽"];
    for (const value of values) {
      for (const width of [2, 1024, 32768, 2 ** 31]) {
        for (const j of [0, 1, 7, 1023, 65535, 2 ** 31 - 1]) {
          assert.equal(sketchHash(value, j, width), referenceHash(value, j, width), `${value} ${j} ${width}`);
        }
      }
    }
  });

  test("the test vectors published in docs/telemetry.md are the family's values", () => {
    const doc = readFileSync(new URL("../../docs/telemetry.md", import.meta.url), "utf8");
    const rows = [...doc.matchAll(/^\| (`([^`]*)`|\(empty\)) \| (\d+) \| (\d+) \| (\d+) \|$/gm)];
    assert.ok(rows.length >= 5, "the table of vectors is in docs/telemetry.md");
    for (const [, , quoted, j, m, h] of rows) {
      const value = quoted ?? "";
      assert.equal(Number(h), referenceHash(value, Number(j), Number(m)), `${value} ${j} ${m}`);
      assert.equal(sketchHash(value, Number(j), Number(m)), Number(h));
    }
  });

  test("sketchHashes gives h_j for every row, as sketchHash does one at a time", () => {
    const params = { hashes: 64, width: 4096 };
    const columns = sketchHashes("bebop", params);
    assert.equal(columns.length, 64);
    for (let j = 0; j < 64; j++) assert.equal(columns[j], referenceHash("bebop", j, 4096));
  });

  test("values that are not well-formed strings are refused, not merged into U+FFFD", () => {
    assert.throws(() => sketchHash("a\uD800b", 0, 1024), TypeError);
    assert.throws(() => sketchHash("\uDC00", 0, 1024), TypeError);
    assert.throws(() => utf8(42), TypeError);
    assert.equal(sketchHash("\uD83C\uDFB7", 0, 1024), referenceHash("🎷", 0, 1024));
  });
});

describe("the Hadamard matrix", () => {
  test("hadamardEntry is Sylvester's H_m (H_2m = [[H, H], [H, −H]]) and H·H = m·I", () => {
    let h: number[][] = [[1]];
    while (h.length < 64) {
      const m = h.length;
      h = Array.from({ length: 2 * m }, (_, i) =>
        Array.from({ length: 2 * m }, (_, j) => h[i % m]![j % m]! * (i >= m && j >= m ? -1 : 1)),
      );
      for (let i = 0; i < 2 * m; i++) for (let j = 0; j < 2 * m; j++) assert.equal(hadamardEntry(i, j), h[i]![j]);
    }
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 64; j++) {
        let dot = 0;
        for (let l = 0; l < 64; l++) dot += hadamardEntry(i, l) * hadamardEntry(l, j);
        assert.equal(dot, i === j ? 64 : 0);
      }
    }
    assert.equal(hadamardEntry(2 ** 31 - 1, 2 ** 31 - 1), -1, "31 shared bits: odd");
    assert.equal(hadamardEntry(2 ** 30 + 1, 2 ** 30 + 1), 1);
  });
});

describe("params", () => {
  test("epsilon, hashes and width are checked, every problem named", () => {
    assert.deepEqual(telemetryParamsProblems({ epsilon: 4, hashes: 1024, width: 32768 }), []);
    assert.deepEqual(telemetryParamsProblems({ epsilon: 0.01, hashes: 1, width: 2 }), []);
    assert.deepEqual(telemetryParamsProblems({ epsilon: 1, hashes: 2 ** 31, width: 2 ** 31 }), []);
    const bad = [
      [{ epsilon: 0, hashes: 1, width: 2 }, /epsilon/],
      [{ epsilon: -1, hashes: 1, width: 2 }, /epsilon/],
      [{ epsilon: Number.POSITIVE_INFINITY, hashes: 1, width: 2 }, /epsilon/],
      [{ epsilon: "4", hashes: 1, width: 2 }, /epsilon/],
      [{ epsilon: 1, hashes: 0, width: 2 }, /hashes/],
      [{ epsilon: 1, hashes: 1.5, width: 2 }, /hashes/],
      [{ epsilon: 1, hashes: 2 ** 31 + 1, width: 2 }, /hashes/],
      [{ epsilon: 1, hashes: 1, width: 1 }, /width/],
      [{ epsilon: 1, hashes: 1, width: 1000 }, /width/],
      [{ epsilon: 1, hashes: 1, width: 2 ** 32 }, /width/],
    ] as const;
    for (const [params, problem] of bad) {
      const problems = telemetryParamsProblems(params);
      assert.equal(problems.length, 1, JSON.stringify(params));
      assert.match(problems[0]!, problem);
      assert.throws(() => telemetryReport("jazz", params as never), RangeError);
    }
    assert.equal(telemetryParamsProblems({ epsilon: 0, hashes: 0, width: 3 }).length, 3);
    assert.deepEqual(telemetryParamsProblems(null), ["params must be an object { epsilon, hashes, width }"]);
  });
});

describe("exact randomness", () => {
  test("exactRational gives the double's exact value as num / 2^e", () => {
    for (const x of [1, 4, 0.5, 0.1, Math.LN2, Math.log(3), 1e-300, 1e300, 123.456, -2.75]) {
      const { num, den } = exactRational(x);
      assert.equal(den & (den - 1n), 0n, "den is a power of two");
      assert.ok(num % 2n !== 0n || den === 1n, "the fraction is reduced");
      // Scaling by a power of two is exact while the result is a normal double (Number(den) overflows for 1e-300).
      assert.equal(Number(num) * 2 ** -(den.toString(2).length - 1), x);
    }
    // 0.1 is not one tenth: its exact value is 3602879701896397 / 2^55.
    assert.deepEqual(exactRational(0.1), { num: 3602879701896397n, den: 2n ** 55n });
    assert.deepEqual(exactRational(Number.MIN_VALUE), { num: 1n, den: 2n ** 1074n });
    assert.deepEqual(exactRational(0), { num: 0n, den: 1n });
  });

  test("uniformInt and uniformBigInt are uniform, also where rejection is needed", () => {
    const random = new RandomWords(256);
    for (const n of [3, 12, 64]) {
      const counts = new Array<number>(n).fill(0);
      for (let i = 0; i < 300 * n; i++) counts[uniformInt(n, random)]!++;
      const { statistic, bound } = uniformChiSquare(counts);
      assert.ok(statistic <= bound, `n = ${n}: χ² ${statistic} > ${bound}`);
    }
    // n = 3·2^40: drawn as 42 bits with rejection; its residues mod 3 and its top bits are uniform.
    const big = 3n * 2n ** 40n;
    const residues = [0, 0, 0];
    const thirds = [0, 0, 0];
    for (let i = 0; i < 6000; i++) {
      const x = uniformBigInt(big, random);
      assert.ok(x >= 0n && x < big);
      residues[Number(x % 3n)]!++;
      thirds[Number(x / 2n ** 40n)]!++;
    }
    for (const counts of [residues, thirds]) {
      const { statistic, bound } = uniformChiSquare(counts);
      assert.ok(statistic <= bound, `χ² ${statistic} > ${bound}`);
    }
    assert.throws(() => uniformInt(0, random), RangeError);
    assert.throws(() => uniformInt(2 ** 32 + 1, random), RangeError);
    assert.ok(uniformInt(2 ** 32, random) < 2 ** 32);
  });

  test("bernoulliExpMinus(γ) comes up with probability e^−γ, for γ below, at and above 1", () => {
    const random = new RandomWords(256);
    const trials = 20_000;
    for (const gamma of [0.1, 0.5, 1, Math.LN2 * 3, 2.5]) {
      const { num, den } = exactRational(gamma);
      let ones = 0;
      for (let i = 0; i < trials; i++) if (bernoulliExpMinus(num, den, random)) ones++;
      const { ok, z } = binomialWithin(ones, trials, Math.exp(-gamma));
      assert.ok(ok, `γ = ${gamma}: ${ones} of ${trials}, z = ${z}`);
    }
    assert.equal(bernoulliExpMinus(0n, 1n, random), true, "e^0 = 1");
  });

  test("signFlip(ε) comes up with probability 1/(e^ε + 1)", () => {
    const random = new RandomWords(256);
    const trials = 20_000;
    for (const epsilon of [0.25, Math.log(3), 4]) {
      let flips = 0;
      for (let i = 0; i < trials; i++) if (signFlip(epsilon, random)) flips++;
      const { ok, z } = binomialWithin(flips, trials, 1 / (Math.exp(epsilon) + 1));
      assert.ok(ok, `ε = ${epsilon}: ${flips} flips of ${trials}, z = ${z}`);
    }
  });

  test("a RandomWords source refills when used up and holds nothing after wipe", () => {
    const random = new RandomWords(4);
    const words = Array.from({ length: 9 }, () => random.word());
    assert.ok(words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32));
    assert.ok(new Set(words).size > 1);
    random.wipe();
    assert.ok(random.word() >= 0, "draws again after a wipe");
  });
});

describe("telemetryReport", () => {
  test("j and l are uniform and the sign is flipped with probability 1/(e^ε + 1)", () => {
    // k = 12 is not a power of two, so j goes through rejection sampling.
    const params = { epsilon: 1, hashes: 12, width: 64 };
    const value = `genre-${randomInt(1_000_000)}`;
    const columns = sketchHashes(value, params);
    const trials = 20_000;
    const byHash = new Array<number>(params.hashes).fill(0);
    const byIndex = new Array<number>(params.width).fill(0);
    let flips = 0;
    for (let i = 0; i < trials; i++) {
      const { hash, index, bit } = telemetryReport(value, params);
      assert.ok(Number.isInteger(hash) && hash >= 0 && hash < params.hashes);
      assert.ok(Number.isInteger(index) && index >= 0 && index < params.width);
      assert.ok(bit === 1 || bit === -1);
      byHash[hash]!++;
      byIndex[index]!++;
      if (bit !== hadamardEntry(index, columns[hash]!)) flips++;
    }
    for (const counts of [byHash, byIndex]) {
      const { statistic, bound } = uniformChiSquare(counts);
      assert.ok(statistic <= bound, `χ² ${statistic} > ${bound}`);
    }
    const { ok, z } = binomialWithin(flips, trials, 1 / (Math.E + 1));
    assert.ok(ok, `${flips} flips of ${trials}, z = ${z}`);
  });

  test("a record is exactly { hash, index, bit }, and a bad value is a TypeError", () => {
    const record = telemetryReport("jazz", { epsilon: 4, hashes: 1024, width: 32768 });
    assert.deepEqual(Object.keys(record), ["hash", "index", "bit"]);
    assert.throws(() => telemetryReport("\uD800", { epsilon: 4, hashes: 8, width: 8 }), TypeError);
    assert.throws(() => telemetryReport(7 as never, { epsilon: 4, hashes: 8, width: 8 }), TypeError);
  });
});
