// What the page says about itself: `data-vi-status` on <html> (loading | busy | ready | error,
// which tests and embedding hosts read), the status line, the start-up stages, the one-line
// notice and the versions in the footer. A function of the state.

import { pageStatus } from "./store.js";

const $ = (id) => document.getElementById(id);
const STAGES = ["runtime", "packages", "vi_core"];

export function statusText(state) {
  if (state.python === "failed") return state.failure;
  if (state.python === "loading") return `${state.progress ? state.progress.label : "Starting Python"}…`;
  const status = pageStatus(state);
  if (status === "busy") return state.run && state.run.kind === "optimize" ? "Optimizing…" : "Computing…";
  return "Ready";
}

/** The footer's versions; scipy only once something has imported it. */
export function versionsText(v) {
  return `Python ${v.python}, numpy ${v.numpy}` + (v.scipy ? `, scipy ${v.scipy}` : "");
}

export function renderStatus(state) {
  document.documentElement.dataset.viStatus = pageStatus(state);
  $("status").textContent = statusText(state);

  const loading = state.python === "loading";
  $("progress").hidden = !(loading || state.python === "failed");
  const at = loading && state.progress ? STAGES.indexOf(state.progress.stage) : -1;
  for (const li of document.querySelectorAll("#stages li")) {
    const i = STAGES.indexOf(li.dataset.stage);
    li.classList.toggle("active", i === at);
    li.classList.toggle("done", state.python === "starting" || state.python === "ready" || (at >= 0 && i < at));
  }

  const notice = $("notice");
  notice.textContent = state.notice.text;
  notice.dataset.kind = state.notice.kind;
  notice.hidden = !state.notice.text;
  $("notice-box").hidden = notice.hidden;

  if (state.versions) $("python-version").textContent = versionsText(state.versions);
}
