import type { Checker } from '@coderoom/contracts';

/** `float` checker: the allowed difference when the problem states none. */
export const DEFAULT_TOLERANCE = 1e-6;

/**
 * `exact`: the text after normalising what editors and operating systems disagree on: line
 * endings (CRLF and CR become LF), whitespace at the end of each line (spaces, tabs, form feeds,
 * vertical tabs) and newlines at the end of the output. Everything else must match byte for byte:
 * leading whitespace, blank lines between lines, case.
 */
export function normaliseExact(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\f\v]+$/gm, '')
    .replace(/\n+$/, '');
}

/** `tokens`: the words of the text, split on any run of whitespace. */
export function tokens(s: string): string[] {
  return s.split(/\s+/).filter((t) => t.length > 0);
}

/** A decimal number as programs print it (123, -4.5, 1e-9, .5, 5.); not inf, nan, hex. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * `float`: the same tokens, where numbers (on both sides) may differ by `tolerance`, absolute or
 * relative to the expected value (whichever allows more); other tokens must be equal.
 */
function floatEqual(actual: string, expected: string, tolerance: number): boolean {
  if (actual === expected) return true;
  if (!NUMBER.test(actual) || !NUMBER.test(expected)) return false;
  const a = Number(actual);
  const e = Number(expected);
  if (!Number.isFinite(a) || !Number.isFinite(e)) return false;
  const diff = Math.abs(a - e);
  return diff <= tolerance || diff <= tolerance * Math.abs(e);
}

/** Whether the program's output `actual` passes against `expected` under `checker`. */
export function check(
  checker: Checker,
  actual: string,
  expected: string,
  tolerance = DEFAULT_TOLERANCE,
): boolean {
  switch (checker) {
    case 'exact':
      return normaliseExact(actual) === normaliseExact(expected);
    case 'tokens': {
      const a = tokens(actual);
      const e = tokens(expected);
      return a.length === e.length && a.every((t, i) => t === e[i]);
    }
    case 'float': {
      const a = tokens(actual);
      const e = tokens(expected);
      return a.length === e.length && a.every((t, i) => floatEqual(t, e[i], tolerance));
    }
    default: {
      const never: never = checker;
      throw new Error(`unknown checker ${String(never)}`);
    }
  }
}
