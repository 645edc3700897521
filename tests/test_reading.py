"""A reading test (issue #19, item 5): Debian's Chromium renders every page of _toc.yml at
1280 px (a laptop) and at 390 px (a phone), with the same server and browser as test_browser.py.
A page fails if

- a table or figure overflows its container with no way to see it: clipped by an ancestor with
  overflow hidden/clip, or spilling over an ancestor (up to the article) that does not scroll; a
  wide table inside a horizontally scrollable container (overflow-x auto/scroll) is fine, and the
  page as a whole never scrolls sideways (document scrollWidth <= the viewport width);
- an image has no alt text, or two images on the page share one;
- a figure's text renders below LEGIBLE_PX CSS pixels: displayed width / natural width times
  the figure's smallest text in image pixels (its point size times the PNG's own dpi / 72).
  At 1280 px every figure must be legible; on a phone a figure may instead be a link that opens
  the full-resolution (vector) figure.

Screenshots of every page at both widths go to _build/screenshots/reading/<page>-<width>.png
(a CI artefact: look at them)."""

import re
import struct
import urllib.request
from base64 import b64decode
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml

from test_browser import ARGS, CHROMIUM, browser, site  # noqa: F401  (shared fixtures and launch flags)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "screenshots" / "reading"
WIDTHS = {1280: 900, 390: 844}  # viewport width: height (a laptop; a phone held upright)
LEGIBLE_PX = 6.0
# the smallest text drawn in each kind of figure, in points (glumeta.views.forest / glumeta.views.figures:
# 8 pt footnotes and annotations; glumeta.views.flow: 8.5 pt box details)
TEXT_PT = {"glumeta-forest": 8.0, "glumeta-flow": 8.5}
DEFAULT_PT = 8.0


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.append(ch["file"])
            files += [s["file"] for s in ch.get("sections", [])]
    return [Path(f).name for f in files]


PAGES = toc_pages()

# Every table, figure and image inside the article, and every image on the page.
MEASURE = r"""
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const label = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
    return s;
  };
  const what = el => {
    const img = el.tagName === 'IMG' ? el : el.querySelector('img');
    if (img) return (img.alt || img.src).slice(0, 70);
    const head = el.querySelector('th, td');
    return head ? 'table starting "' + head.textContent.trim().slice(0, 40) + '"' : '';
  };
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const FULL_WIDTH = 'div.full-width, div.full_width, div.cell.tag_full-width, div.cell.tag_full_width';
  for (const el of article.querySelectorAll('table, figure, img')) {
    let r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not rendered
    let box = el;
    for (let a = el.parentElement; a && a !== article.parentElement; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.display.startsWith('inline') && cs.display !== 'inline-block') continue;  // e.g. <a> round an <img>
      const ar = a.getBoundingClientRect();
      const left = ar.left + a.clientLeft, right = left + a.clientWidth;
      if (r.right <= right + 1 && r.left >= left - 1) {  // fits
        // the theme's full-width cells reach into the right margin by design: they fit if the viewport holds them
        if (a.matches(FULL_WIDTH)) { box = a; r = ar; if (r.right > vw + 1) problems.push(
          `${label(el)} (${what(el)}) sits in ${label(a)}, which ends at ${Math.round(r.right)} px, beyond the ${vw} px viewport`);
          break; }
        continue;
      }
      if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') {
        // a scrollable container: fine if it fits in turn
        box = a; r = ar;
        continue;
      }
      const how = (cs.overflowX === 'hidden' || cs.overflowX === 'clip') ? 'is clipped by' : 'spills over';
      problems.push(`${label(el)} (${what(el)}) ${how} ${label(a)}: ` +
                    `${Math.round(r.left)}..${Math.round(r.right)} px vs ${Math.round(left)}..${Math.round(right)} px`);
      break;
    }
  }
  const imgs = [...document.querySelectorAll('img')].map(img => {
    const r = img.getBoundingClientRect();
    const fig = img.closest('figure');
    const a = img.closest('a[href]');
    return {alt: img.getAttribute('alt'), src: img.currentSrc || img.src, width: r.width,
            natural: img.naturalWidth, complete: img.complete,
            kind: fig ? [...fig.classList].find(c => c.startsWith('glumeta-')) || '' : '',
            figure: !!fig, link: a ? a.href : null};
  });
  // what sticks out of the viewport, if anything (the deepest elements, for the message)
  const out = [...document.body.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect();
    if (!(r.width > 0 && r.right > vw + 1) || getComputedStyle(e).visibility === 'hidden') return false;
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible') return false;  // inside a scroller or a clip
    return ![...e.children].some(c => c.getBoundingClientRect().right > vw + 1);
  }).slice(0, 5).map(e => `${label(e)} (${e.textContent.trim().slice(0, 40)}) ends at ${Math.round(e.getBoundingClientRect().right)} px`);
  return {outside: out, scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
          problems, imgs};
}
"""


def png_bytes(src: str) -> bytes | None:
    if src.startswith("data:image/png;base64,"):
        return b64decode(src.split(",", 1)[1])
    if src.startswith("http") and src.lower().split("?")[0].endswith(".png"):
        with urllib.request.urlopen(src) as r:
            return r.read()
    return None


def png_dpi(data: bytes) -> float | None:
    """The dpi a PNG declares in its pHYs chunk (pixels per metre), if any."""
    i = data.find(b"pHYs", 8, 4096)
    if i < 0:
        return None
    x, _, unit = struct.unpack(">IIB", data[i + 4:i + 13])
    return x * 0.0254 if unit == 1 else None


def text_px(img: dict) -> float | None:
    """The figure's smallest text in CSS px as rendered, or None if the image has no known dpi."""
    data = png_bytes(img["src"])
    dpi = png_dpi(data) if data else None
    if not dpi or not img["natural"]:
        return None
    return img["width"] / img["natural"] * TEXT_PT.get(img["kind"], DEFAULT_PT) * dpi / 72


def opens_full_figure(href: str | None) -> bool:
    """A link that opens the figure at full resolution: a vector file (SVG/PDF) or a PNG that is served."""
    if not href or not re.search(r"\.(svg|pdf|png)(\?|#|$)", href, re.I):
        return False
    try:
        with urllib.request.urlopen(href) as r:
            body = r.read()
    except OSError:
        return False
    return r.status == 200 and (b"<svg" in body[:2000] or body[:5] == b"%PDF-" or body[:8] == b"\x89PNG\r\n\x1a\n")


def reading_faults(page, width: int) -> list[str]:
    """Everything a reader would stumble over on the page open in *page* at viewport *width*."""
    m = page.evaluate(MEASURE)
    faults = list(m["problems"])
    if m["scrollWidth"] > width + 1:
        faults.append(f"the page scrolls sideways: document is {m['scrollWidth']} px wide in a {width} px viewport: "
                      + "; ".join(m["outside"]))
    alts = {}
    for img in m["imgs"]:
        short = img["src"][:60]
        alt = (img["alt"] or "").strip()
        if not alt:
            faults.append(f"image without alt text: {short}")
            continue
        alts.setdefault(alt, []).append(short)
        if not (img["complete"] and img["natural"] > 0):
            faults.append(f"image not loaded: {alt[:70]}")
            continue
        if not img["figure"] or img["width"] == 0:
            continue
        px = text_px(img)
        if px is None or px >= LEGIBLE_PX:
            continue
        if width < 1000 and opens_full_figure(img["link"]):
            continue
        faults.append(f"figure text {px:.2f} px (< {LEGIBLE_PX:g}) at {width} px"
                      + ("" if width >= 1000 else " and no link to the full-resolution figure")
                      + f": {img['width']:.0f} of {img['natural']} px shown; {alt[:70]}")
    faults += [f"{len(v)} images share the alt text {k[:80]!r}" for k, v in alts.items() if len(v) > 1]
    return faults


def open_page(browser, base: str, slug: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": WIDTHS[width]}, device_scale_factor=1,
                            is_mobile=width < 1000, has_touch=width < 1000)
    resp = page.goto(f"{base}/book/{slug}.html", wait_until="load")
    assert resp.ok, f"{slug}: HTTP {resp.status}"
    page.wait_for_timeout(200)
    return page


def test_every_toc_page_is_read():
    assert "intro" in PAGES and "ledger" in PAGES and len(PAGES) == len(set(PAGES)) >= 10, PAGES


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("slug", PAGES)
def test_page_reads_well(site, browser, slug, width):
    base, _ = site
    page = open_page(browser, base, slug, width)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{slug}-{width}.png"), full_page=True)
        faults = reading_faults(page, width)
        # hidden code cells (<details>) are read too: what a reader can open must fit as well
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        page.wait_for_timeout(100)
        faults += [f"(with code cells open) {f}" for f in reading_faults(page, width) if f not in faults]
    finally:
        page.close()
    assert not faults, f"{slug} at {width} px:\n  " + "\n  ".join(faults)
