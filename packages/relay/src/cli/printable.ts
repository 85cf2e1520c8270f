const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

// Control and format characters (ESC, BEL, bidi overrides, zero-width), line and paragraph
// separators, private-use, unassigned code points and lone surrogates: anything that could
// move the cursor, recolour or reorder a terminal line, or hide text. Backslash is escaped too,
// so an escape in the output always means an escaped character.
const UNPRINTABLE = /[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/gu;

/**
 * `text` made safe for a terminal line: control and other non-printable characters become
 * visible escapes (`\n`, `\t`, `\x1b`, `\u{202e}`), and backslashes are doubled. Keys, ids and
 * error messages come from producers and brokers outside the trust boundary, so every value the
 * CLI prints as text goes through here.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    const code = ch.codePointAt(0) as number;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
