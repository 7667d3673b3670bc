/**
 * A round's aggregate, read from the store in blocks of coordinates so that
 * memory stays O(participants × blockSize + dimensions) however many devices
 * take part and however large the model is: pass 1 reads every block once
 * for each participant's L2 norm (clipping needs the whole update's norm),
 * pass 2 reads them again, scales each participant's block by its clip
 * factor and aggregates coordinate by coordinate (aggregators.ts).
 */
import { ConsentgateError } from "../errors.ts";
import { AGGREGATIONS, type Aggregation, aggregateBlock, trimCount } from "./aggregators.ts";
import { checkClip, clipScale, squaredNorm } from "./clip.ts";

/**
 * Reads coordinates [offset, offset + length) of every participant's update:
 * one array of `length` values per participant, always in the same order.
 */
export type ReadBlock = (offset: number, length: number) => Promise<readonly ArrayLike<number>[]>;

/** What {@link aggregateRound} needs to know about a round, and how to read its updates. */
export interface RoundInput {
  /** n, the number of updates in the round. */
  readonly participants: number;
  /** d, the length of every update (items × factor dimensions). */
  readonly dimensions: number;
  /** C, the L2 norm every update is clipped to. */
  readonly clip: number;
  /** How the updates are combined. */
  readonly aggregation: Aggregation;
  /** The trimmed mean's fraction cut from each end, in [0, 0.5) (default 0; read only for "trimmed-mean"). */
  readonly trim?: number;
  /** How many coordinates to read at once. */
  readonly blockSize: number;
  /** Reads a block of every participant's update. */
  readonly readBlock: ReadBlock;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConsentgateError("invalid_option", `${name} must be an integer ≥ 1, got ${value}`, { [name]: value });
  }
}

/** The block at offset, checked: one finite array of the right length per participant. */
async function readChecked(input: RoundInput, offset: number, length: number): Promise<readonly ArrayLike<number>[]> {
  const block = await input.readBlock(offset, length);
  if (block.length !== input.participants) {
    throw new ConsentgateError(
      "invalid_option",
      `readBlock returned ${block.length} updates for a round of ${input.participants}`,
      { offset, expected: input.participants, got: block.length },
    );
  }
  for (let p = 0; p < block.length; p++) {
    const values = block[p]!;
    if (values.length !== length) {
      throw new ConsentgateError(
        "invalid_option",
        `readBlock returned ${values.length} values for participant ${p}, not ${length}`,
        { offset, participant: p, expected: length, got: values.length },
      );
    }
  }
  return block;
}

/**
 * The (un-noised) aggregate of a round's clipped updates, as a
 * Float64Array of `dimensions` values: every update is clipped to L2 norm
 * `clip` by its whole norm, then the participants' values are combined
 * coordinate by coordinate with the round's aggregation. Reading in blocks
 * gives bit for bit the result of reading everything at once (the norms are summed in one order).
 *
 * Throws invalid_body when an update holds a value that is not finite (the
 * store should refuse such an upload; a round never aggregates one), and
 * invalid_option for a bad parameter or a readBlock that returns the wrong
 * shape.
 *
 * @example
 * ```ts
 * const aggregate = await aggregateRound({
 *   participants: 3, dimensions: 2, clip: 1, aggregation: "median", blockSize: 1,
 *   readBlock: async (offset, length) =>
 *     [Float32Array.of(0.2, 0), Float32Array.of(1, 0), Float32Array.of(0.5, 0)].map((u) => u.subarray(offset, offset + length)),
 * }); // Float64Array [0.5, 0]
 * ```
 */
export async function aggregateRound(input: RoundInput): Promise<Float64Array> {
  const { participants, dimensions, clip, aggregation, blockSize } = input;
  positiveInteger("participants", participants);
  positiveInteger("dimensions", dimensions);
  positiveInteger("blockSize", blockSize);
  checkClip(clip);
  if (!AGGREGATIONS.includes(aggregation)) {
    throw new ConsentgateError("invalid_option", `unknown aggregation ${String(aggregation)}`, { aggregation });
  }
  const trim = input.trim ?? 0;
  if (aggregation === "trimmed-mean") trimCount(participants, trim);

  // Pass 1: every participant's squared norm, block by block.
  const squares = new Float64Array(participants);
  for (let offset = 0; offset < dimensions; offset += blockSize) {
    const length = Math.min(blockSize, dimensions - offset);
    const block = await readChecked(input, offset, length);
    for (let p = 0; p < participants; p++) {
      const sum = squaredNorm(block[p]!, squares[p]);
      if (!Number.isFinite(sum)) {
        throw new ConsentgateError("invalid_body", `participant ${p}'s update holds a value that is not finite`, {
          participant: p,
          offset,
        });
      }
      squares[p] = sum;
    }
  }
  const scales = Array.from(squares, (square) => clipScale(Math.sqrt(square), clip));

  // Pass 2: clip each block and aggregate it. The norms are summed again: the clip is only a bound if pass 2
  // reads the updates pass 1 measured (the same values give the same sums in the same order).
  const again = new Float64Array(participants);
  const aggregate = new Float64Array(dimensions);
  const columns = Array.from({ length: participants }, () => new Float64Array(Math.min(blockSize, dimensions)));
  for (let offset = 0; offset < dimensions; offset += blockSize) {
    const length = Math.min(blockSize, dimensions - offset);
    const block = await readChecked(input, offset, length);
    for (let p = 0; p < participants; p++) {
      const values = block[p]!;
      const column = columns[p]!;
      const scale = scales[p]!;
      for (let j = 0; j < length; j++) column[j] = values[j]! * scale;
      again[p] = squaredNorm(values, again[p]);
    }
    aggregate.set(aggregateBlock(aggregation, columns, length, trim), offset);
  }
  for (let p = 0; p < participants; p++) {
    if (again[p] !== squares[p]) {
      throw new ConsentgateError("invalid_option", `participant ${p}'s update changed between the two reads`, {
        participant: p,
      });
    }
  }
  return aggregate;
}
