/**
 * aggregateRound reads a round's updates in blocks of coordinates; the
 * result must not depend on the block size (blocks that do not divide d
 * included), clipping must use each update's whole norm, and a readBlock
 * that returns the wrong shape, a value that is not finite, or different
 * updates on the second read must be refused.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AGGREGATIONS,
  aggregateBlock,
  aggregateRound,
  clipUpdate,
  type ReadBlock,
} from "../../src/aggregation/index.ts";
import { isConsentgateError } from "../../src/errors.ts";

/** n float32 updates of d coordinates with a fixed pattern (some far outside the clip, one all zero). */
function updates(n: number, d: number): Float32Array[] {
  return Array.from({ length: n }, (_, p) =>
    Float32Array.from({ length: d }, (_, j) => (p === 0 ? 0 : Math.sin(p * 7.3 + j * 1.7) * (1 + (p % 4) * 3))),
  );
}

function reader(all: Float32Array[], log?: [number, number][]): ReadBlock {
  return async (offset, length) => {
    log?.push([offset, length]);
    return all.map((u) => u.subarray(offset, offset + length));
  };
}

describe("aggregateRound", () => {
  const n = 9;
  const d = 23;
  const clip = 1.5;
  const all = updates(n, d);
  for (const aggregation of AGGREGATIONS) {
    test(`${aggregation}: block sizes 1, 4, 5, 22, 23 and 100 give the one-block result, which clips each update whole`, async () => {
      const expected = aggregateBlock(
        aggregation,
        all.map((u) => clipUpdate(u, clip)),
        d,
        0.2,
      );
      for (const blockSize of [1, 4, 5, 22, 23, 100]) {
        const log: [number, number][] = [];
        const result = await aggregateRound({
          participants: n,
          dimensions: d,
          clip,
          aggregation,
          trim: 0.2,
          blockSize,
          readBlock: reader(all, log),
        });
        assert.deepEqual(Array.from(result), Array.from(expected), `block size ${blockSize}`);
        // Two passes, each over [0, d) in blocks of at most blockSize.
        const pass = log.slice(0, log.length / 2);
        assert.deepEqual(log.slice(log.length / 2), pass);
        assert.equal(
          pass.reduce(
            (covered, [offset, length]) => (offset === covered && length <= blockSize ? covered + length : -1),
            0,
          ),
          d,
        );
      }
    });
  }

  test("a readBlock with the wrong number of updates or of values is invalid_option; a NaN value is invalid_body", async () => {
    const base = { participants: n, dimensions: d, clip, aggregation: "mean" as const, blockSize: 5 };
    await assert.rejects(
      aggregateRound({ ...base, readBlock: async (o, l) => all.slice(1).map((u) => u.subarray(o, o + l)) }),
      (error: unknown) => isConsentgateError(error, "invalid_option"),
    );
    await assert.rejects(
      aggregateRound({ ...base, readBlock: async (o, l) => all.map((u) => u.subarray(o, o + l + 1)) }),
      (error: unknown) => isConsentgateError(error, "invalid_option"),
    );
    const broken = all.map((u) => u.slice());
    broken[3]![7] = Number.NaN;
    await assert.rejects(aggregateRound({ ...base, readBlock: reader(broken) }), (error: unknown) =>
      isConsentgateError(error, "invalid_body"),
    );
  });

  test("updates that change between the two reads are refused: the clip was measured on the first", async () => {
    let reads = 0;
    const grown = all.map((u) => u.map((v) => v * 10));
    const readBlock: ReadBlock = async (offset, length) => {
      reads += length;
      return (reads > d ? grown : all).map((u) => u.subarray(offset, offset + length));
    };
    await assert.rejects(
      aggregateRound({ participants: n, dimensions: d, clip, aggregation: "median", blockSize: 4, readBlock }),
      (error: unknown) => isConsentgateError(error, "invalid_option"),
    );
  });

  test("bad parameters are invalid_option: no participants, a block size of 0, an unknown aggregation, a trim that leaves nothing", async () => {
    const base = {
      participants: n,
      dimensions: d,
      clip,
      aggregation: "mean" as const,
      blockSize: 5,
      readBlock: reader(all),
    };
    const invalid = (error: unknown) => isConsentgateError(error, "invalid_option");
    await assert.rejects(aggregateRound({ ...base, participants: 0 }), invalid);
    await assert.rejects(aggregateRound({ ...base, blockSize: 0 }), invalid);
    await assert.rejects(aggregateRound({ ...base, aggregation: "krum" as "mean" }), invalid);
    await assert.rejects(aggregateRound({ ...base, aggregation: "trimmed-mean", trim: 0.5 }), invalid);
    await assert.rejects(aggregateRound({ ...base, clip: 0 }), invalid);
  });
});
