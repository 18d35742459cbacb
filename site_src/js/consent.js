// Code that arrives in a link (?target=custom&source=...) never runs unseen: the page shows it,
// read-only, with a plain warning, and runs it only when the visitor presses "Run this code"
// (data-testid consent-run). Until then, or after "Don't run it", the page shows a built-in
// target; the rest of the link (family, optimizer, K) applies either way.

import { normaliseSource, revealSource } from "./source-text.js";
import { isFramed } from "./framing.js";

const $ = (id) => document.getElementById(id);

/** The consent panel, from the state (the code as text, never as HTML). */
export function renderConsent(state) {
  const panel = $("consent");
  panel.hidden = state.linkCode === null;
  if (state.linkCode === null) return;
  // Shown as it will run (line breaks normalised), with hidden characters made visible.
  const { shown, warning } = revealSource(state.linkCode);
  const code = $("consent-code");
  if (code.textContent !== shown) code.textContent = shown;
  const warn = $("consent-warning");
  warn.hidden = warning === null;
  if (warn.textContent !== (warning ?? "")) warn.textContent = warning ?? "";
  // In a frame: no Run button to click (or to be tricked into clicking), the link instead.
  const framed = isFramed();
  $("consent-framed").hidden = !framed;
  $("consent-open").hidden = !framed;
  if (framed && $("consent-open").getAttribute("href") !== location.href) $("consent-open").href = location.href;
  const ready = state.python === "ready";
  const run = $("consent-run");
  run.hidden = framed;
  run.disabled = framed || !ready;
  run.textContent = ready ? "Run this code" : "Run this code (Python is loading…)";
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {{useLinkCode: (source: string, natural: object|null) => Promise<void>}} deps.session
 * @param {object|null} deps.natural  q from the link, for the code's target
 */
export function wireConsent({ store, session, natural }) {
  $("consent-run").addEventListener("click", () => {
    const source = store.state.linkCode;
    // Checked when the click arrives, not only when the button was drawn.
    if (source === null || store.state.python !== "ready" || isFramed()) return;
    store.linkCodeSettled();
    session.useLinkCode(source, natural);
  });
  $("consent-decline").addEventListener("click", () => {
    const source = store.state.linkCode;
    if (source === null) return;
    // Kept where the visitor can read or edit it, and run it themselves; nothing runs now.
    // (Not in a frame, where the editor's button only opens a new tab.)
    const editorShown = !$("custom").classList.contains("control-hidden") && !isFramed();
    if (editorShown) $("custom-source").value = normaliseSource(source);
    store.linkCodeSettled(editorShown
      ? "The link's code was not run. It is in \u201cYour own target density\u201d below, if you want to read it or run it yourself."
      : "The link's code was not run.");
  });
}
