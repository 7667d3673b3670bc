/**
 * Text PostgreSQL cannot store: its text and jsonb types refuse U+0000 and
 * lone surrogates. A value holding either fails the whole statement it is
 * in, so callers refuse it up front, alone, rather than let it fail a batch.
 */

/** Why a value was refused, for error messages. */
export const UNSTORABLE_TEXT =
  "text cannot contain the NUL character (U+0000) or an unpaired surrogate (invalid UTF-16)";

/**
 * What JSON.stringify writes for U+0000 and for a lone surrogate (a pair it
 * writes as it is): a \u escape preceded by an even number of backslashes, so
 * that an escaped backslash followed by "u0000" does not count.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/;

/** U+0000, or a surrogate that is not half of a pair. */
const UNSTORABLE_CHARACTER = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when JSON.stringify's output holds text PostgreSQL cannot store. */
export function unstorableJson(json: string): boolean {
  return UNSTORABLE_ESCAPE.test(json);
}

/** True when a string holds text PostgreSQL cannot store. */
export function unstorableText(text: string): boolean {
  return UNSTORABLE_CHARACTER.test(text);
}
