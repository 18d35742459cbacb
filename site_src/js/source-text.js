// Code from a link or the editor is shown exactly as it runs. Two things can make the two
// differ: line breaks that a browser draws one way and Python's tokenizer reads another (a lone
// carriage return ends a line for Python but not in a <pre>), and characters that draw as
// nothing or reorder what is drawn (bidi controls, zero-width characters, other controls).
// The first are normalised once, before the text is shown or run; the second are made visible
// in what is shown (the text that runs keeps them) with a one-line warning.

// CRLF, lone CR, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR, form feed and vertical tab: all
// become "\n", so the text shown and the text run break at the same places.
const LINE_BREAKS = /\r\n|[\r\u0085\u2028\u2029\f\v]/g;

// What draws as nothing or changes the drawing order: C0 and C1 controls (but tab and newline),
// the bidi embeddings, overrides, isolates and marks, zero-width characters, the BOM, and the
// Unicode tag characters.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const HIDDEN = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;
// Breaks a browser and Python draw differently (CRLF is only two ways of writing one break).
const ODD_BREAKS = /\r(?!\n)|[\u0085\u2028\u2029\f\v]/;

/** The text with every kind of line break turned into "\n" (what is both shown and run). */
export function normaliseSource(text) {
  return String(text).replace(LINE_BREAKS, "\n");
}

const codePoint = (ch) => `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * What to show for source as it arrived: its normalised text (what runs) with hidden characters
 * as ⟨U+XXXX⟩ markers, and a one-line warning that names what was changed or marked, or null.
 * @param {string} raw
 * @returns {{shown: string, warning: string|null}}
 */
export function revealSource(raw) {
  const text = String(raw);
  const oddBreaks = ODD_BREAKS.test(text);
  const found = new Set();
  const shown = normaliseSource(text).replace(HIDDEN, (ch) => {
    const name = codePoint(ch);
    found.add(name);
    return `\u27e8${name}\u27e9`;
  });
  const parts = [];
  if (oddBreaks) {
    parts.push("odd line breaks (a lone carriage return, form feed or line separator), shown as " +
      "the new lines Python reads");
  }
  if (found.size) {
    const names = [...found];
    const listed = names.slice(0, 6).join(", ") + (names.length > 6 ? ", \u2026" : "");
    parts.push(`invisible or reordering characters (${listed}), shown as \u27e8U+\u2026\u27e9`);
  }
  if (!parts.length) return { shown, warning: null };
  return {
    shown,
    warning: `Warning: this code has ${parts.join(", and ")}. Code that hides parts of itself ` +
      "is a reason not to run it.",
  };
}
