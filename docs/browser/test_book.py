"""The built book, read in a real browser (headless Chromium via selenium).

Run by ``make docs-browser`` after ``make docs``. Each page of docs/book/html
is served over loopback HTTP and rendered at 1280 px and 390 px wide. The test
asserts what a reader would notice:

- every mermaid block became an SVG, and none is mermaid's error picture;
- at 1280 px no diagram text is smaller than 12 px (computed font size times
  the SVG's scale, since mermaid shrinks a wide diagram to the column), and
  every diagram fits its column;
- no page scrolls sideways, and at 1280 px nothing but a code block has to
  scroll sideways inside the page (a too-wide table does);
- every image loads;
- the search box (Pagefind) finds an English term and the Chinese terms
  粘包 and 半连接队列;
- the Chinese edition (zh-CN/, docs/build.sh) passes all of the above too;
  its pages say lang="zh-CN" and ask for a CJK font, its translated diagram
  draws Chinese labels, and its own search index finds 粘包, 半连接队列 and
  三次握手 on its translated pages;
- every page's language switch leads to the same page in the other edition.

Screenshots of every page at both widths go to docs/browser/screenshots/
(gitignored; CI keeps them as an artefact). BOOK_DIR points the test at
another built book (for example a scratch copy with a broken diagram).

Without chromium and chromedriver the test skips, unless CI is set: then it
fails, like testutil.RequireTool in the Go tests.
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
BOOK = Path(os.environ.get("BOOK_DIR", HERE.parent / "book" / "html")).resolve()
SHOTS = HERE / "screenshots"
WIDE, NARROW = 1280, 390
MIN_DIAGRAM_TEXT_PX = 12.0
# Pages mdBook writes besides the chapters: the one-page print version, the
# table of contents for no-JS readers, and the 404 page.
SKIP_PAGES = {"print.html", "toc.html", "404.html"}
# The Chinese edition, below the English one.
ZH = "zh-CN/"

# Chromium needs these flags on a machine with no display and no internet
# (without them it waits for network services and stalls).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def need(what: str, ok: bool) -> None:
    """Skip when a prerequisite is missing, or fail under CI."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} (required when CI is set)")
    pytest.skip(what)


def book_pages() -> list[str]:
    if not BOOK.is_dir():
        return []
    return sorted(
        str(p.relative_to(BOOK))
        for p in BOOK.rglob("*.html")
        if p.name not in SKIP_PAGES and "pagefind" not in p.parts
    )


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    need(f"the book is not built in {BOOK} (run make docs)", (BOOK / "index.html").is_file())
    handler = functools.partial(QuietHandler, directory=str(BOOK))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 (the base class declares it mutable)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".pagefind": "application/octet-stream",
        ".pf_meta": "application/octet-stream",
        ".pf_index": "application/octet-stream",
        ".pf_fragment": "application/octet-stream",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    # Debian's chromium + chromium-driver; or the Chrome and chromedriver
    # that GitHub's Ubuntu runners carry ($CHROMEWEBDRIVER).
    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    chromedriver = shutil.which("chromedriver") or shutil.which(
        "chromedriver", path=os.environ.get("CHROMEWEBDRIVER", "")
    )
    need("chromium is not installed (scripts/install-tools.sh installs it)", bool(chromium))
    need("chromedriver is not installed (apt-get install chromium-driver)", bool(chromedriver))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need("selenium is not installed (pip install -r python/requirements-dev.txt)", False)
        raise
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # An explicit chromedriver: selenium must not try to download one.
    drv = webdriver.Chrome(service=Service(executable_path=str(chromedriver)), options=options)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(drv: Any, url: str, width: int) -> None:
    """Loads url in a window of the given CSS width, waits for the diagrams."""
    drv.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    drv.get(url)
    # mermaid-init.js sets data-mermaid when every diagram is drawn (or failed).
    drv.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const t0 = Date.now();
        (function poll() {
          const d = document.documentElement.dataset.mermaid;
          if (d || Date.now() - t0 > 20000) return done(d || 'timeout');
          setTimeout(poll, 50);
        })();
        """
    )


def screenshot(drv: Any, page: str, width: int) -> None:
    """Saves a full-page PNG of what the browser shows."""
    SHOTS.mkdir(exist_ok=True)
    shot = drv.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    name = page.replace("/", "_").removesuffix(".html")
    (SHOTS / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))


# Collects, in the page, everything the assertions need. Font sizes: the text
# of an SVG is drawn at its computed font-size in SVG units, and the SVG is
# scaled by (rendered width / viewBox width).
INSPECT_JS = r"""
const out = {mermaid: document.documentElement.dataset.mermaid,
             errors: window.mermaidErrors || [], diagrams: [], overflow: [],
             images: [], pageScrollWidth: document.documentElement.scrollWidth,
             pageWidth: document.documentElement.clientWidth};
document.querySelectorAll('pre.mermaid').forEach((pre, i) => {
  const svg = pre.querySelector('svg');
  const d = {index: i + 1, svg: !!svg, error: false, minFont: null, minText: '',
             scale: null, fits: true};
  out.diagrams.push(d);
  if (!svg) return;
  d.error = svg.getAttribute('aria-roledescription') === 'error' ||
            /Syntax error/.test(svg.textContent);
  const vb = svg.viewBox && svg.viewBox.baseVal;
  const rect = svg.getBoundingClientRect();
  d.scale = vb && vb.width ? rect.width / vb.width : 1;
  d.fits = rect.width <= pre.clientWidth + 1;
  const nodes = svg.querySelectorAll('text, tspan, foreignObject *');
  for (const el of nodes) {
    const own = Array.from(el.childNodes).some(
      n => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!own) continue;
    const px = parseFloat(getComputedStyle(el).fontSize) * d.scale;
    if (d.minFont === null || px < d.minFont) {
      d.minFont = px; d.minText = el.textContent.trim().slice(0, 40);
    }
  }
});
// Anything in the page that has to scroll sideways, other than a code block.
const main = document.querySelector('main');
for (const el of main.querySelectorAll('*')) {
  if (el.scrollWidth <= el.clientWidth + 1) continue;
  const st = getComputedStyle(el);
  if (st.overflowX === 'visible' && el.tagName !== 'TABLE') continue;
  const codeBlock = el.closest('pre') && !el.closest('pre.mermaid');
  if (codeBlock) continue;
  out.overflow.push(el.tagName.toLowerCase() +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
    ' ' + el.scrollWidth + '>' + el.clientWidth + ': ' +
    el.textContent.trim().slice(0, 50));
}
const sw = document.getElementById('language-switch');
out.lang = document.documentElement.lang;
out.languageSwitch = sw ? sw.href : null;
out.fontFamily = getComputedStyle(document.querySelector('main p') || document.body).fontFamily;
out.diagramText = Array.from(document.querySelectorAll('pre.mermaid svg'))
  .map(svg => svg.textContent).join(' ');
for (const img of document.images) {
  out.images.push({src: img.getAttribute('src'),
                   ok: img.complete && img.naturalWidth > 0});
}
return out;
"""


@pytest.mark.parametrize("page", book_pages() or ["(no book built)"])
def test_page(driver: Any, base_url: str, page: str) -> None:
    problems: list[str] = []

    open_page(driver, base_url + page, WIDE)
    wide = driver.execute_script(INSPECT_JS)
    screenshot(driver, page, WIDE)
    if wide["mermaid"] != "done":
        problems.append(f"mermaid rendering ended with {wide['mermaid']!r}: {wide['errors']}")
    for d in wide["diagrams"]:
        if not d["svg"]:
            problems.append(f"diagram {d['index']}: no SVG (mermaid did not render it)")
        elif d["error"]:
            problems.append(f"diagram {d['index']}: mermaid drew a syntax error")
        else:
            if d["minFont"] is not None and d["minFont"] < MIN_DIAGRAM_TEXT_PX - 0.05:
                problems.append(
                    f"diagram {d['index']}: text {d['minFont']:.1f} px at {WIDE} px "
                    f"(scale {d['scale']:.2f}, {d['minText']!r}); want >= {MIN_DIAGRAM_TEXT_PX:g}"
                )
            if not d["fits"]:
                problems.append(f"diagram {d['index']}: wider than the column at {WIDE} px")
    if wide["pageScrollWidth"] > wide["pageWidth"]:
        problems.append(
            f"page scrolls sideways at {WIDE} px ({wide['pageScrollWidth']} > {wide['pageWidth']})"
        )
    for o in wide["overflow"]:
        problems.append(f"scrolls sideways at {WIDE} px (not a code block): {o}")
    for img in wide["images"]:
        if not img["ok"]:
            problems.append(f"image does not load: {img['src']}")
    problems += check_edition(base_url, page, wide)

    open_page(driver, base_url + page, NARROW)
    narrow = driver.execute_script(INSPECT_JS)
    screenshot(driver, page, NARROW)
    if narrow["pageScrollWidth"] > narrow["pageWidth"]:
        problems.append(
            f"page scrolls sideways at {NARROW} px "
            f"({narrow['pageScrollWidth']} > {narrow['pageWidth']})"
        )

    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def check_edition(base_url: str, page: str, seen: dict[str, Any]) -> list[str]:
    """The page's language, font stack and language switch."""
    problems: list[str] = []
    zh = page.startswith(ZH)
    if zh and seen["lang"] != "zh-CN":
        problems.append(f'<html lang="{seen["lang"]}">, want "zh-CN"')
    if zh and "Noto Sans CJK SC" not in seen["fontFamily"]:
        problems.append(f"no CJK font in the font stack: {seen['fontFamily']}")
    # The same page in the other edition: X.html <-> zh-CN/X.html.
    other = page.removeprefix(ZH) if zh else ZH + page
    want = base_url + other
    if seen["languageSwitch"] != want:
        problems.append(f"language switch goes to {seen['languageSwitch']}, want {want}")
    elif not (BOOK / other).is_file():
        problems.append(f"language switch goes to {other}, which the build did not write")
    return problems


# A translated diagram (handshake.md's, through po/zh-CN.po) draws Chinese.
def test_translated_diagram(driver: Any, base_url: str) -> None:
    open_page(driver, base_url + ZH + "handshake.html", WIDE)
    seen = driver.execute_script(INSPECT_JS)
    assert seen["mermaid"] == "done", seen["errors"]
    assert "半连接队列" in seen["diagramText"], seen["diagramText"][:200]


@pytest.mark.parametrize(
    ("edition", "term"),
    [
        ("", "backlog"),
        ("", "粘包"),
        ("", "半连接队列"),
        (ZH, "粘包"),
        (ZH, "半连接队列"),
        (ZH, "三次握手"),
    ],
)
def test_search(driver: Any, base_url: str, edition: str, term: str) -> None:
    """The edition's search box finds the term in that edition, and its first
    result opens a page that has it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(driver, base_url + edition + "index.html", WIDE)
    driver.find_element(By.ID, "mdbook-search-toggle").click()
    wait = WebDriverWait(driver, 20)
    box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pagefind-search input"))
    box.send_keys(term)
    results = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".pagefind-ui__result-link") or None,
        message=f"no search results for {term!r}",
    )
    hrefs = [r.get_attribute("href") for r in results]
    for h in hrefs:
        assert h.startswith(base_url + edition), h
        assert edition or not h.startswith(base_url + ZH), (
            f"the English search for {term!r} offers a Chinese page: {h}"
        )
        assert h.split("#")[0].rsplit("/", 1)[-1] not in SKIP_PAGES | {"index.html"}, (
            f"search for {term!r} offers {h}: only the chapters' pages are indexed"
        )
    href = hrefs[0]
    driver.get(href)
    assert term in driver.find_element(By.TAG_NAME, "main").text, (
        f"the first result for {term!r}, {href}, does not contain it"
    )
