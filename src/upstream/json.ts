/**
 * JSON parsing that keeps the upstream's 18-digit numbers exact.
 *
 * The upstream ids and some numbers (`file_size`, `create_time`) are 18-digit integers, above 2^53. They usually
 * arrive as strings, but a bare number literal would silently lose precision in `JSON.parse`, so such literals are
 * quoted before parsing.
 */

/** Integer literals with more digits than this are turned into strings (2^53 has 16 digits). */
export const MAX_SAFE_INTEGER_DIGITS = 15;

/**
 * `JSON.parse` for every upstream JSON body (client replies and the webhook body): bare integer literals with more
 * than 15 digits become decimal strings (`123456789012345678` → `"123456789012345678"`), everything else parses as
 * usual. Literals inside strings are left alone; fractions and exponents are left to `JSON.parse`.
 *
 * @throws SyntaxError when `text` is not valid JSON (same as `JSON.parse`).
 */
export function parseJsonPreservingBigIds(text: string): unknown {
  return JSON.parse(quoteBigIntegers(text)) as unknown;
}

/**
 * Rewrites the token stream: outside strings, an integer literal (a number token without fraction or exponent)
 * with more than {@link MAX_SAFE_INTEGER_DIGITS} digits is wrapped in quotes. Invalid JSON stays invalid.
 */
export function quoteBigIntegers(text: string): string {
  let out = '';
  let copiedUpTo = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      i = skipString(text, i);
      continue;
    }
    if (ch === 0x2d /* - */ || isDigit(ch)) {
      const start = i;
      if (ch === 0x2d) i++;
      const digitsStart = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      const digits = i - digitsStart;
      // Consume the whole number token, so the digits of a fraction or exponent are never read as a new literal.
      let isInteger = true;
      if (i < n && text.charCodeAt(i) === 0x2e /* . */) {
        isInteger = false;
        i++;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      if (i < n && (text.charCodeAt(i) | 0x20) === 0x65 /* e or E */) {
        isInteger = false;
        i++;
        if (i < n && (text.charCodeAt(i) === 0x2b || text.charCodeAt(i) === 0x2d)) i++;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      // A leading zero is invalid JSON: leave it for JSON.parse to reject.
      if (isInteger && digits > MAX_SAFE_INTEGER_DIGITS && text.charCodeAt(digitsStart) !== 0x30) {
        out += `${text.slice(copiedUpTo, start)}"${text.slice(start, i)}"`;
        copiedUpTo = i;
      }
      continue;
    }
    i++;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

function isDigit(ch: number): boolean {
  return ch >= 0x30 && ch <= 0x39;
}

/** Index just after the closing quote of the string starting at `start` (or `text.length` if unterminated). */
function skipString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c /* \ */) i += 2;
    else if (ch === 0x22) return i + 1;
    else i++;
  }
  return text.length;
}
