/**
 * Expected HTTP status codes, Octavia style: a comma-separated list of codes and inclusive
 * ranges, e.g. "200", "200,204", "200-299,301". Whitespace around items is allowed.
 */

const MIN_CODE = 100;
const MAX_CODE = 599;

export class ExpectedCodesError extends Error {
  override name = "ExpectedCodesError";
}

export interface ExpectedCodes {
  /** The expression as given (trimmed), used in failure reasons: "HTTP 503 (expected 200-299)". */
  readonly text: string;
  matches(code: number): boolean;
}

function parseCode(item: string, whole: string): number {
  if (!/^\d{3}$/.test(item)) {
    throw new ExpectedCodesError(
      `expected codes "${whole}": "${item}" is not a 3-digit status code (${MIN_CODE}-${MAX_CODE})`,
    );
  }
  const code = Number(item);
  if (code < MIN_CODE || code > MAX_CODE) {
    throw new ExpectedCodesError(
      `expected codes "${whole}": ${code} is outside ${MIN_CODE}-${MAX_CODE}`,
    );
  }
  return code;
}

/** Parses and validates an expression; throws ExpectedCodesError with a precise message. */
export function parseExpectedCodes(expression: string): ExpectedCodes {
  const whole = expression.trim();
  if (whole === "")
    throw new ExpectedCodesError('expected codes: empty expression (e.g. "200" or "200-299")');
  // One bit per code 0..599: matching is a single array read per probe.
  const accepted = new Uint8Array(MAX_CODE + 1);
  for (const rawItem of whole.split(",")) {
    const item = rawItem.trim();
    if (item === "")
      throw new ExpectedCodesError(`expected codes "${whole}": empty item between commas`);
    const dash = item.indexOf("-");
    if (dash === -1) {
      accepted[parseCode(item, whole)] = 1;
      continue;
    }
    const low = parseCode(item.slice(0, dash).trim(), whole);
    const high = parseCode(item.slice(dash + 1).trim(), whole);
    if (low > high)
      throw new ExpectedCodesError(`expected codes "${whole}": range ${low}-${high} is reversed`);
    accepted.fill(1, low, high + 1);
  }
  return {
    text: whole,
    matches: (code) => code >= 0 && code <= MAX_CODE && accepted[code] === 1,
  };
}
