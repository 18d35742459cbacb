// Code runs only on a page of its own. Inside another site's frame a click can be laid over a
// decoy (clickjacking), so a framed page never takes consent for code, and never runs any: it
// offers the same link in a new tab, a top-level page where the visitor sees what they click.

/** Whether this page is inside a frame (a cross-origin parent is a frame too). */
export function isFramed() {
  try {
    return window.top !== window.self;
  } catch {
    return true; // a parent we may not even compare with is still a parent
  }
}

/**
 * The link that opens `source` as the custom target on a top-level page (where it waits for
 * consent as any code link does).
 * @param {string} source
 * @param {string} base  this page's URL
 */
export function codeLink(source, base) {
  const url = new URL(base);
  url.search = "";
  url.hash = "";
  url.searchParams.set("target", "custom");
  url.searchParams.set("source", source);
  return url.href;
}

/** Open `href` in a new top-level tab that cannot reach back into this page. */
export function openOnItsOwn(href) {
  window.open(href, "_blank", "noopener,noreferrer");
}
