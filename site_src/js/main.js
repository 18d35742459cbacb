import { PythonWorker } from "./worker-client.js";

const root = document.documentElement;
const statusEl = document.getElementById("status");

function setStatus(status, text) {
  root.dataset.viStatus = status;
  statusEl.textContent = text;
}

const py = new PythonWorker(new URL("assets/worker.js", document.baseURI), {
  onProgress: ({ stage, label }) => {
    setStatus("loading", label + "…");
    for (const li of document.querySelectorAll("#stages li")) {
      li.classList.toggle("active", li.dataset.stage === stage);
    }
  },
  onReady: (versions) => {
    document.getElementById("versions").textContent = JSON.stringify(versions);
    window.viVersions = versions;
    setStatus("ready", `Ready: vi_core ${versions.vi_core} on Python ${versions.python}`);
  },
  onFatal: ({ stage, error }) => setStatus("error", `Could not start Python (${stage}): ${error.message}`),
});
window.viPython = py;
