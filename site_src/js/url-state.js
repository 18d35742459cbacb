// The page's state in the URL: ?target=&family=&optimizer=&k= and q's natural parameters.
//
// q is written per component, components separated by ";":
//   mean=x,y;x,y   scale=sx,sy;sx,sy   corr=r;r   weight=w;w
// Numbers use JavaScript's shortest round-trip form, so a copied link restores q exactly.
// Parsing never throws: what cannot be read is dropped and reported in `problems`.

const Q_KEYS = ["mean", "scale", "corr", "weight"];

function parseNumbers(text, perComponent) {
  const parts = text.split(";").map((c) => c.split(",").map((s) => (s.trim() === "" ? NaN : Number(s))));
  if (parts.some((p) => p.length !== perComponent || p.some((v) => !Number.isFinite(v)))) return null;
  return parts;
}

/** Read the state from a query string; returns {target, family, optimizer, k, natural, embed, problems}. */
export function readUrlState(search) {
  const params = new URLSearchParams(search);
  const problems = [];
  const state = {
    target: params.get("target"),
    family: params.get("family"),
    optimizer: params.get("optimizer"),
    k: null,
    natural: null,
    source: params.get("source"),
    params,
    problems,
  };
  if (params.has("k")) {
    const k = Number(params.get("k"));
    if (Number.isInteger(k) && k >= 1 && k <= 10) state.k = k;
    else problems.push(`k=${params.get("k")} is not a whole number from 1 to 10`);
  }
  if (params.has("mean")) {
    const means = parseNumbers(params.get("mean"), 2);
    const scales = params.has("scale") ? parseNumbers(params.get("scale"), 2) : null;
    const corrs = params.has("corr") ? parseNumbers(params.get("corr"), 1) : null;
    const weights = params.has("weight") ? parseNumbers(params.get("weight"), 1) : null;
    const bad = [
      [means, "mean"], [scales, "scale"], [corrs, "corr"], [weights, "weight"],
    ].filter(([v, key]) => v === null && params.has(key)).map(([, key]) => key);
    if (bad.length || !means) {
      problems.push(`could not read q from the link (${bad.join(", ") || "mean"}); using the default q`);
    } else {
      const n = means.length;
      state.natural = {
        means,
        scales: scales ? scales : null,
        correlations: corrs ? corrs.map((c) => c[0]) : Array(n).fill(0),
        weights: weights ? weights.map((w) => w[0]) : Array(n).fill(1 / n),
      };
    }
  }
  return state;
}

/** Write the state back: the link a visitor copies reproduces the view. Other params are kept. */
export function writeUrlState({ target, family, optimizer, k, natural, source }, base) {
  const params = new URLSearchParams(base);
  params.set("target", target);
  // A custom target travels in the link as its source code.
  if (target === "custom" && source) params.set("source", source); else params.delete("source");
  params.set("family", family);
  params.set("optimizer", optimizer);
  if (k) params.set("k", String(k)); else params.delete("k");
  for (const key of Q_KEYS) params.delete(key);
  if (natural) {
    params.set("mean", natural.means.map((m) => m.join(",")).join(";"));
    params.set("scale", natural.scales.map((s) => s.join(",")).join(";"));
    if (natural.correlations.some((c) => c !== 0)) params.set("corr", natural.correlations.join(";"));
    if (natural.weights.length > 1) params.set("weight", natural.weights.join(";"));
  }
  return "?" + params.toString().replace(/%2C/g, ",").replace(/%3B/g, ";");
}
