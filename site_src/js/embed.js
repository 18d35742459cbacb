// Embedding in an article: ?embed=1 picks a compact layout, ?controls=a,b,c which optional
// parts show, ?theme=light|dark the colours (on any page). Inside an iframe the page tells its
// host two things, and nothing else: its height, postMessage({type: "vi-demo:resize", height}),
// whenever it changes, and once that it is ready, postMessage({type: "vi-demo:ready"}). It
// listens to no message from the host.

import { echo } from "./url-state.js";

export const EMBED_CONTROLS = ["target", "family", "trace"];
export const ALL_CONTROLS = ["target", "family", "optimizer", "trace", "terms", "samples", "compare", "editor", "custom", "about"];

/** What the query asks for: {embed, shown: [control], unknown: [name], fellBack: whether only
 * unknown names were asked for, so the defaults show}. Pure. */
export function readEmbedding(search) {
  const params = new URLSearchParams(search);
  const embed = params.get("embed") === "1";
  let shown = embed ? EMBED_CONTROLS : ALL_CONTROLS;
  let unknown = [];
  let fellBack = false;
  if (params.has("controls")) {
    const asked = params.get("controls").split(",").map((c) => c.trim()).filter(Boolean);
    unknown = asked.filter((c) => !ALL_CONTROLS.includes(c));
    // Only unknown names (a typo, say): the defaults, not a page with every control hidden.
    fellBack = unknown.length > 0 && unknown.length === asked.length;
    if (!fellBack) shown = asked.filter((c) => ALL_CONTROLS.includes(c));
  }
  return { embed, shown, unknown, fellBack };
}

/** The notice for unknown controls= names: a few of them, each quoted short. */
export function unknownControlsNotice(unknown, shownDefaults = false) {
  if (!unknown.length) return "";
  const named = unknown.slice(0, 3).map(echo).join(", ") + (unknown.length > 3 ? ` and ${unknown.length - 3} more` : "");
  return `Unknown controls ignored: ${named} (known: ${ALL_CONTROLS.join(", ")})${shownDefaults ? "; showing the default controls" : ""}.`;
}

/** Lay the page out as asked (before the first paint). */
export function applyEmbedding({ embed, shown }) {
  if (embed) document.documentElement.dataset.embed = "1";
  for (const el of document.querySelectorAll("[data-control]")) {
    el.classList.toggle("control-hidden", !shown.includes(el.dataset.control));
  }
}

/** How far from the viewport an embedded page starts Python: about two screen heights (the
 * pattern of distill's d-figure). */
export const NEAR_MARGIN = "200% 0px";

/**
 * Start Python when the reader gets near. A direct visit starts at once. An embedded page
 * (?embed=1, or inside a frame) waits until it comes within NEAR_MARGIN of the viewport (the
 * top-level viewport for a frame). A cross-origin frame is told only whether it is in view
 * (browsers ignore the margin there), so it starts when it comes on screen.
 * `onVisible(bool)` hears when the page enters or leaves the screen.
 * @param {{lazy: boolean, start: () => void, onVisible: (visible: boolean) => void}} options
 */
export function startWhenNear({ lazy, start, onVisible }) {
  if (typeof IntersectionObserver === "undefined") {
    start();
    return;
  }
  const root = document.documentElement;
  let started = false;
  const go = () => {
    if (!started) {
      started = true;
      start();
    }
  };
  if (!lazy) go();
  else {
    const near = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        near.disconnect();
        go();
      }
    }, { rootMargin: NEAR_MARGIN });
    near.observe(root);
  }
  new IntersectionObserver((entries) => {
    const entry = entries[entries.length - 1];
    if (entry.isIntersecting) go(); // in view: start whatever the margin said
    onVisible(entry.isIntersecting);
  }).observe(root);
}

/** Tell the host page our height whenever it changes, so it can size the iframe. */
export function reportHeight() {
  const app = document.querySelector(".app");
  let last = -1;
  const send = () => {
    const height = Math.ceil(app.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: "vi-demo:resize", height }, "*");
    }
  };
  new ResizeObserver(send).observe(app);
  send();
}

/** Tell the host page once that the page is ready (Python up, the first view computed). */
export function reportReady() {
  const root = document.documentElement;
  const seen = new MutationObserver(() => {
    if (root.dataset.viStatus !== "ready") return;
    seen.disconnect();
    window.parent.postMessage({ type: "vi-demo:ready" }, "*");
  });
  seen.observe(root, { attributes: true, attributeFilter: ["data-vi-status"] });
}

/** The colours the link asks for ("light" | "dark"), or the system's (null). Before the first
 * paint: style.css follows prefers-color-scheme unless html[data-theme] says otherwise. */
export function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
