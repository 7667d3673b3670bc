/**
 * "Did you mean" hints: policy files are written by hand, and a typo such as
 * `retension` would otherwise read as a puzzling "unknown key".
 */

/** The candidate closest to `input`, if it is close enough to be a likely typo. */
function closest(input: string, candidates: readonly string[]): string | undefined {
  const wanted = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = levenshtein(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(wanted.length / 3)) ? best : undefined;
}

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const suggestion = closest(input, candidates);
  return suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
