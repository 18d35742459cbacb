// The small pure parts of the page: gauge and readout texts, embedding, Reset's start,
// errors across the worker boundary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { contradiction, gaugeFill, elboErrorText, fmt, klText } from "../../site_src/js/readouts.js";
import { readEmbedding, unknownControlsNotice, EMBED_CONTROLS, ALL_CONTROLS } from "../../site_src/js/embed.js";
import { resetStart } from "../../site_src/js/session.js";
import { errorObject, toError, TO_WORKER, FROM_WORKER } from "../../site_src/js/messages.js";
import { statusText, versionsText } from "../../site_src/js/status.js";
import { initialState } from "../../site_src/js/store.js";
import { silenceNotice } from "../../site_src/js/python.js";
import { catalog } from "./fixtures.js";

test("the gauge: one fixed log scale of the KL gap, full at 0, empty at 100 nats, worse always emptier", () => {
  assert.equal(gaugeFill(0), 1);
  assert.equal(gaugeFill(-1e-9), 1);
  assert.equal(gaugeFill(null), 1);
  assert.equal(gaugeFill(100), 0);
  assert.equal(gaugeFill(1e6), 0);
  assert.ok(Math.abs(gaugeFill(1) - 0.5) < 0.01); // the ticks 0.01, 0.1, 1, 10, 100 fall about evenly
  const gaps = [0, 1e-4, 0.01, 0.1, 0.5, 0.87, 1, 5, 30, 99];
  for (let i = 1; i < gaps.length; i++) assert.ok(gaugeFill(gaps[i]) < gaugeFill(gaps[i - 1]), gaps[i]);
  assert.ok(gaugeFill(30) < gaugeFill(0.87)); // a KL of 30 never looks fuller than one of 0.87
});

test("readout texts", () => {
  assert.equal(fmt(-1.234567), "\u22121.235");
  assert.equal(fmt(-13.41852), "\u221213.42");
  assert.equal(fmt(0.00031234), "0.0003123");
  assert.equal(fmt(4.15072e-9), "0");
  assert.equal(fmt(-3e-5), "0");
  assert.equal(fmt(123456.7), "123500");
  assert.equal(klText(-2e-7, 1e-8), "\u2248 0");
  assert.equal(klText(3e-4, 5e-4), "\u2248 0"); // within the ELBO's error of 0
  assert.equal(klText(0.8704), "0.8704");
  assert.equal(fmt(null), "—");
  assert.equal(elboErrorText(3e-7), "± <1e-6");
  assert.equal(elboErrorText(2.4e-4), "± 2e-4");
  assert.equal(elboErrorText(null), "± ?");
});

test("embedding: ?embed=1 shows the essentials, ?controls= picks, unknown names are reported", () => {
  assert.deepEqual(readEmbedding(""), { embed: false, shown: ALL_CONTROLS, unknown: [], fellBack: false });
  assert.deepEqual(readEmbedding("?embed=1"), { embed: true, shown: EMBED_CONTROLS, unknown: [], fellBack: false });
  assert.deepEqual(readEmbedding("?embed=1&controls=optimizer, samples,,bogus"),
    { embed: true, shown: ["optimizer", "samples"], unknown: ["bogus"], fellBack: false });
  assert.deepEqual(readEmbedding("?controls="), { embed: false, shown: [], unknown: [], fellBack: false }); // asked for none
  // Only unknown names (controls=foo): the defaults show, and the notice says so.
  assert.deepEqual(readEmbedding("?embed=1&controls=foo"), { embed: true, shown: EMBED_CONTROLS, unknown: ["foo"], fellBack: true });
  assert.match(unknownControlsNotice(["foo"], true), /^Unknown controls ignored: "foo" \(known: target, .*\); showing the default controls\.$/);
  assert.match(unknownControlsNotice(["bogus"]), /^Unknown controls ignored: "bogus" \(known: target, family/);
  const many = unknownControlsNotice(["a".repeat(200), "b", "c", "d", "e"]);
  assert.ok(many.length < 200 && many.includes("and 2 more"), many);
  assert.equal(unknownControlsNotice([]), "");
});

test("Reset starts from the page's own q on its target and family, else the build's theta for the default K", () => {
  const initial = {
    defaults: { target: "banana", family: "gaussian-full", natural: { means: [[-0.9, -0.7]] } },
    initial_thetas: { banana: { "gaussian-full": [1, 2, 3, 4, 5], "mixture-full": [9] }, ring: { "gaussian-full": [6] } },
  };
  const state = (extra) => ({ ...initialState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs" }), ...extra });
  assert.deepEqual(resetStart(state({}), catalog, initial), { natural: { means: [[-0.9, -0.7]] }, theta: null });
  assert.deepEqual(resetStart(state({ target: "ring" }), catalog, initial), { natural: null, theta: [6] });
  assert.deepEqual(resetStart(state({ family: "mixture-full" }), catalog, initial), { natural: null, theta: [9] });
  assert.deepEqual(resetStart(state({ family: "mixture-full", k: 3 }), catalog, initial), { natural: null, theta: [9] });
  assert.deepEqual(resetStart(state({ family: "mixture-full", k: 5 }), catalog, initial), { natural: null, theta: null });
  assert.deepEqual(resetStart(state({ target: "custom" }), catalog, initial), { natural: null, theta: null });
});

test("errors cross the worker boundary as {name, message}, Python's traceback cut to its last line", () => {
  const python = Object.assign(new Error("Traceback (most recent call last):\n  File ...\nVIError: q is out of range\n"), { name: "PythonError" });
  assert.deepEqual(errorObject(python), { name: "PythonError", message: "VIError: q is out of range" });
  const err = toError({ name: "Restarted", message: "Python was restarted" });
  assert.ok(err instanceof Error);
  assert.deepEqual([err.name, err.message], ["Restarted", "Python was restarted"]);
  assert.deepEqual(Object.values(TO_WORKER).sort(), ["boot", "call", "file", "ping", "run", "stop"]);
  assert.equal(FROM_WORKER.FRAME, "frame");
});

test("the status line", () => {
  const s = initialState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs" });
  assert.equal(statusText(s), "Starting Python…");
  assert.equal(statusText({ ...s, progress: { stage: "packages", label: "Loading numpy and scipy" } }), "Loading numpy and scipy…");
  assert.equal(statusText({ ...s, python: "ready" }), "Ready");
  assert.equal(statusText({ ...s, python: "ready", pending: 1 }), "Computing…");
  assert.equal(statusText({ ...s, python: "ready", run: { id: 1, kind: "optimize" } }), "Optimizing…");
  assert.equal(statusText({ ...s, python: "ready", run: { id: 1, kind: "step" } }), "Computing…");
  assert.equal(statusText({ ...s, python: "failed", failure: "Python could not start (runtime): x" }), "Python could not start (runtime): x");
});

test("the footer names scipy only once something has loaded it", () => {
  const v = { python: "3.12.7", numpy: "2.0.2", scipy: null, vi_core: "0.1.0" };
  assert.equal(versionsText(v), "Python 3.12.7, numpy 2.0.2");
  assert.equal(versionsText({ ...v, scipy: "1.14.1" }), "Python 3.12.7, numpy 2.0.2, scipy 1.14.1");
  assert.equal(FROM_WORKER.PACKAGES, "packages");
});

test("a silent Python: the likely cause named after what ran in it", () => {
  const s = initialState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs" });
  assert.match(silenceNotice("busy", s), /slow device, or the browser stopped it/);
  assert.match(silenceNotice("busy", { ...s, workerRan: "typed" }), /your target's code may be in an endless loop/);
  assert.match(silenceNotice("busy", { ...s, target: "custom", workerRan: "link" }), /the code from the link may be in an endless loop/);
  assert.match(silenceNotice("idle", s), /the browser stopped it \(out of memory, or a crash\)/);
  assert.doesNotMatch(silenceNotice("idle", s), /code/);
  assert.match(silenceNotice("idle", { ...s, workerRan: "link" }), /the code from the link may still be running in the background/);
});

test("readouts that break the bound or do not add up are called contradictory, not KL ≈ 0", () => {
  const honest = { elbo: -1.5, expected_log_density: -2.6, entropy: 1.1, log_z: -1.2, kl: 0.3, elbo_error: 1e-7, log_z_error: 1e-9 };
  assert.equal(contradiction(honest), null);
  // KL slightly below 0 within the errors: the page says ≈ 0, nothing contradicts.
  assert.equal(contradiction({ ...honest, elbo: -1.2 + 2e-7, expected_log_density: -2.3 + 2e-7, kl: -2e-7, elbo_error: 3e-7 }), null);
  // The red team's patched view: ELBO 42 above log Z −0.6931, parts that do not add up.
  const patched = { elbo: 42, expected_log_density: -2.6, entropy: 1.1, log_z: -0.6931, kl: 0, elbo_error: 1e-6, log_z_error: 1e-9 };
  const said = contradiction(patched);
  assert.match(said, /contradict/);
  assert.match(said, /above log Z/);
  assert.match(said, /is not the ELBO/);
  assert.match(said, /is not log Z − ELBO/);
  assert.match(contradiction({ ...honest, kl: 0 }), /KL .* is not log Z − ELBO/);
  assert.match(contradiction({ ...honest, entropy: 1.2 }), /is not the ELBO/);
  // Missing numbers are not a contradiction (they show as —).
  assert.equal(contradiction({ ...honest, log_z: null, kl: null }), null);
  assert.equal(contradiction(null), null);
});

test("package news from the worker is repeated only in the loader's own shape", async () => {
  const { packagesNews } = await import("../../site_src/js/worker-client.js");
  assert.deepEqual(packagesNews({ label: "Loading scipy, openblas" }), { label: "Loading scipy, openblas" });
  assert.deepEqual(packagesNews({ label: "Loading scipy" }), { label: "Loading scipy" });
  for (const label of ["Security notice: your session expired. Sign in again at http://evil.example/login",
    "Loading scipy. Download the update from http://evil.example/update.exe", "Loading <b>x</b>", 42]) {
    assert.deepEqual(packagesNews({ label }), { label: null }, String(label));
  }
  const versions = { python: "3.12.7", numpy: "2.0.2", scipy: null, vi_core: "0.1.0" };
  assert.deepEqual(packagesNews({ label: null, versions }), { label: null, versions });
  assert.deepEqual(packagesNews({ label: null, versions: { ...versions, numpy: "2.0 visit evil.example" } }), { label: null });
  assert.deepEqual(packagesNews({ label: null, versions: { numpy: "2.0.2" } }), { label: null });
});
