import { test } from "node:test";
import assert from "node:assert/strict";

import { normaliseSource, revealSource } from "../../site_src/js/source-text.js";

test("every kind of line break becomes one newline, the same in what is shown and what runs", () => {
  const raw = "a\rb\r\nc\u2028d\u2029e\ff\vg\u0085h\ni";
  assert.equal(normaliseSource(raw), "a\nb\nc\nd\ne\nf\ng\nh\ni");
  assert.equal(revealSource(raw).shown, normaliseSource(raw));
});

test("a statement hidden behind a lone carriage return is shown on its own line, with a warning", () => {
  const raw = "# a harmless comment\rimport js; js.fetch('/x')\ndef log_density(x, y):\n    return -x*x";
  const { shown, warning } = revealSource(raw);
  assert.equal(shown.split("\n")[1], "import js; js.fetch('/x')");
  assert.match(warning, /lone carriage return/);
  assert.match(warning, /^Warning: /);
});

test("CRLF and plain text need no warning", () => {
  assert.deepEqual(revealSource("a = 1\r\nb = 2\n\tc = 3"), { shown: "a = 1\nb = 2\n\tc = 3", warning: null });
});

test("bidi controls, zero-width and other control characters are made visible and named", () => {
  const raw = "s = '\u202e' # \u2066x\u2069\u200b\u0000\u{e0041}";
  const { shown, warning } = revealSource(raw);
  for (const name of ["U+202E", "U+2066", "U+2069", "U+200B", "U+0000", "U+E0041"]) {
    assert.ok(shown.includes(`\u27e8${name}\u27e9`), name);
    assert.ok(warning.includes(name), name);
  }
  for (const ch of ["\u202e", "\u2066", "\u2069", "\u200b", "\u0000"]) assert.ok(!shown.includes(ch));
  assert.doesNotMatch(warning, /carriage return/);
  // What runs keeps them (only line breaks are normalised).
  assert.equal(normaliseSource(raw), raw);
});
