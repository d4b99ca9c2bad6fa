"""The built book, read in a real browser (headless Chromium via selenium).

Run by ``make docs-browser`` after ``make docs``. Each page of docs/book/html
is served over loopback HTTP and rendered at 1280 px and 390 px wide. The test
asserts what a reader would notice:

- every mermaid block became an SVG, and none is mermaid's error picture;
- at 1280 px no diagram text is smaller than 12 px (computed font size times
  the SVG's scale, since mermaid shrinks a wide diagram to the column), and
  every diagram fits its column;
- mermaid's 2.6 MB bundle is loaded only by a page that has a diagram;
- no page scrolls sideways, and at 1280 px nothing but a code block has to
  scroll sideways inside the page (a too-wide table does);
- a box that does scroll sideways (a code block, a table, a diagram) shows
  it with a fade at the edge that cuts it off, and a box that fits has none;
- code is drawn in a monospace font, every highlighted token too, in both
  editions (measured: ten i's as wide as ten M's);
- no table cell breaks a number or a word across lines ("110 / 00",
  "Serv / er"): each word of a cell is laid out on one line (its line boxes,
  from Range.getClientRects);
- the label under the title (.page-meta) is there, says the reading time,
  and is quiet: smaller and lighter than the text, yet legible (4.5:1);
- every image loads; each chart (an SVG image) keeps its text at least 10 px
  at 390 px once scaled to the column, and no legend or label is cut off by
  its SVG's viewBox (the SVG is loaded in a frame of the image's size and
  measured there);
- byte-field figures (```bytefield, scripts/mdbook-course) fit the column at
  both widths, wrap on a phone, and keep their text at least 12 px;
- the search box (Pagefind) finds an English term and the Chinese terms
  粘包 and 半连接队列, and each edition ships that one index only;
- the Chinese edition (zh-CN/, docs/build.sh) passes all of the above too;
  its pages say lang="zh-CN" and ask for a CJK font, its translated diagram
  draws Chinese labels, and its own search index finds 粘包, 半连接队列 and
  三次握手 on its translated pages;
- every page's language switch leads to the same page in the other edition,
  and to the same section (location.hash).

Screenshots of every page at both widths go to docs/browser/screenshots/
(gitignored; CI keeps them as an artefact). BOOK_DIR points the test at
another built book (for example a scratch copy with a broken diagram, or a
build of an older commit, to see a check fail).

Without chromium and chromedriver the test skips, unless CI is set: then it
fails, like testutil.RequireTool in the Go tests.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BOOK = Path(os.environ.get("BOOK_DIR", HERE.parent / "book" / "html")).resolve()
SHOTS = HERE / "screenshots"
WIDE, NARROW = 1280, 390
MIN_DIAGRAM_TEXT_PX = 12.0
MIN_CHART_TEXT_PX = 10.0
MIN_FIGURE_TEXT_PX = 12.0
# The label under the title must stay readable: WCAG's AA contrast for text.
MIN_LABEL_CONTRAST = 4.5
# Pages mdBook writes besides the chapters: the one-page print version, the
# table of contents for no-JS readers, and the 404 page.
SKIP_PAGES = {"print.html", "toc.html", "404.html"}
# The Chinese edition, below the English one.
ZH = "zh-CN/"
META_LABEL = {
    "en": re.compile(r"^\d+ min read( · Source text: .+)?$"),
    "zh-CN": re.compile(r"^阅读约 \d+ 分钟( · 原文：.+)?$"),  # noqa: RUF001 (Chinese punctuation)
}

# TEMPORARY ALLOWANCE, to end empty. The two charts of ch07-bench are the
# old ones: their text is 4-6 px at 390 px and the latency legend is cut off
# by its viewBox. The engineer who redraws them (issue 25, item 3: repeated
# runs with their spread, labelled axes, a legend that fits) owns them. Until
# then test_chart reports each one's problems as an expected failure (XFAIL,
# with the reasons, listed by `make docs-browser`) instead of failing the
# run; a chart listed here that passes fails the run, so that its entry is
# removed with the redraw. Keys: the SVG's path in an edition.
CHARTS_AWAITING_REDRAW = {
    "ch07-bench/latency.svg",
    "ch07-bench/throughput.svg",
}

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


IMG_RE = re.compile(r'<img\b[^>]*\bsrc="([^"]+\.svg)"')


def book_charts() -> list[tuple[str, str]]:
    """(page, src) of every SVG image on a page, both editions."""
    charts: list[tuple[str, str]] = []
    for page in book_pages():
        if page.endswith("index.html"):
            continue  # a copy of the introduction
        html = (BOOK / page).read_text(encoding="utf-8")
        main = html[html.find("<main") :]
        for src in dict.fromkeys(IMG_RE.findall(main)):
            charts.append((page, src))
    return charts


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


def set_width(drv: Any, width: int) -> None:
    drv.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def open_page(drv: Any, url: str, width: int) -> None:
    """Loads url in a window of the given CSS width, waits for the diagrams,
    the web fonts and the scroll cues."""
    set_width(drv, width)
    drv.get(url)
    # mermaid-init.js sets data-mermaid when every diagram is drawn (or failed,
    # or there is none); scroll-cue.js sets data-scroll-cue once the fonts
    # are in (a book built before scroll-cue.js has none: no wait for it).
    state = drv.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const t0 = Date.now();
        const cue = !!document.querySelector('script[src*="scroll-cue"]');
        (function poll() {
          const h = document.documentElement.dataset;
          const ready = h.mermaid && (!cue || h.scrollCue) && document.fonts.status === 'loaded';
          if (ready || Date.now() - t0 > 20000) {
            return requestAnimationFrame(() => done(h.mermaid || 'timeout'));
          }
          setTimeout(poll, 50);
        })();
        """
    )
    assert state != "timeout", f"{url}: the page did not finish drawing in 20 s"


def screenshot(drv: Any, page: str, width: int, suffix: str = "") -> None:
    """Saves a full-page PNG of what the browser shows."""
    SHOTS.mkdir(exist_ok=True)
    shot = drv.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    name = page.replace("/", "_").removesuffix(".html") + suffix
    (SHOTS / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))


# What the test measures in the page: functions, one of which each script
# below calls (checks.js says what each returns).
CHECKS_JS = (HERE / "checks.js").read_text(encoding="utf-8")


def js(drv: Any, call: str, *args: Any) -> Any:
    """Runs checks.js in the page and returns the value of call, an
    expression over arguments[0], arguments[1]..."""
    return drv.execute_script(f"{CHECKS_JS}\nreturn {call};", *args)


def js_async(drv: Any, call: str, *args: Any) -> Any:
    """Like js, for a call that returns a Promise."""
    return drv.execute_async_script(
        f"{CHECKS_JS}\nconst done = arguments[arguments.length - 1];\n"
        f"Promise.resolve({call}).then(done, (e) => done({{error: String(e)}}));",
        *args,
    )


def inspect(drv: Any) -> dict[str, Any]:
    seen: dict[str, Any] = js(drv, "inspect(arguments[0])", MIN_FIGURE_TEXT_PX)
    return seen


def page_problems(seen: dict[str, Any], width: int, edition: str) -> list[str]:
    """The checks made at both widths."""
    problems: list[str] = []
    at = f"at {width} px"
    if seen["pageScrollWidth"] > seen["pageWidth"]:
        problems.append(
            f"page scrolls sideways {at} ({seen['pageScrollWidth']} > {seen['pageWidth']})"
        )
    if not seen["hasDiagram"] and seen["mermaidBundle"]:
        problems.append(
            f"no diagram on the page, yet it loads mermaid's bundle: {seen['mermaidBundle']}"
        )
    problems += [f"{c} {at}" for c in seen["cues"]]
    problems += [f"code font {at}: {f}" for f in seen["fonts"]]
    problems += [f"table cell breaks inside a word {at}: {c}" for c in seen["cells"]]
    problems += [f"{f} {at}" for f in seen["figures"]]
    meta = seen["meta"]
    if not meta:
        problems.append("no .page-meta label under the title")
    else:
        if not meta["afterTitle"]:
            problems.append(".page-meta is not right under the page's <h1>")
        if not META_LABEL[edition].match(meta["text"]):
            problems.append(f".page-meta says {meta['text']!r}, want {META_LABEL[edition].pattern}")
        if meta["px"] > 0.9 * meta["textPx"] + 0.05:
            problems.append(
                f".page-meta is {meta['px']:.1f} px, not a label beside {meta['textPx']:.1f} px "
                "text (want at most 90%)"
            )
        if meta["contrast"] >= meta["textContrast"] - 0.05:
            problems.append(
                f".page-meta is as dark as the text (contrast {meta['contrast']:.1f}:1, "
                f"text {meta['textContrast']:.1f}:1): not a quiet label"
            )
        if meta["contrast"] < MIN_LABEL_CONTRAST:
            problems.append(
                f".page-meta contrast {meta['contrast']:.1f}:1 {at}, want >= {MIN_LABEL_CONTRAST}:1"
            )
    return problems


@pytest.mark.parametrize("page", book_pages() or ["(no book built)"])
def test_page(driver: Any, base_url: str, page: str) -> None:
    problems: list[str] = []
    edition = "zh-CN" if page.startswith(ZH) else "en"

    open_page(driver, base_url + page, WIDE)
    wide = inspect(driver)
    screenshot(driver, page, WIDE)
    want_state = "done" if wide["hasDiagram"] else "none"
    if wide["mermaid"] != want_state:
        problems.append(
            f"mermaid rendering ended with {wide['mermaid']!r}, want {want_state!r}: "
            f"{wide['errors']}"
        )
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
    for o in wide["overflow"]:
        problems.append(f"scrolls sideways at {WIDE} px (not a code block): {o}")
    for img in wide["images"]:
        if not img["ok"]:
            problems.append(f"image does not load: {img['src']}")
    problems += page_problems(wide, WIDE, edition)
    problems += check_edition(base_url, page, wide)
    if wide["headingIds"]:
        # The switch follows the reader to a section.
        section = wide["headingIds"][-1]
        href = js_async(driver, "switchAfterHash(arguments[0])", section)
        other = page.removeprefix(ZH) if edition == "zh-CN" else ZH + page
        if unquote(href or "") != f"{base_url}{other}#{section}":
            problems.append(
                f"at #{section} the language switch goes to {href}, "
                f"want {base_url}{other}#{section} (the same section)"
            )

    open_page(driver, base_url + page, NARROW)
    narrow = inspect(driver)
    screenshot(driver, page, NARROW)
    problems += page_problems(narrow, NARROW, edition)
    moved = js_async(driver, "cueFollows()")
    if moved and not (
        "scroll-cue-start" in moved["after"] and "scroll-cue-end" not in moved["after"]
    ):
        problems.append(
            f"box {moved['text']!r} scrolled to its end at {NARROW} px: classes "
            f"{moved['before']!r} -> {moved['after']!r}, want the fade to move to its start"
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


HEADING_ID_RE = re.compile(r'<h[23] id="([^"]+)"')


def shared_section(page: str) -> str | None:
    """A heading id that both editions' copies of a page have."""
    try:
        en = (BOOK / page).read_text(encoding="utf-8")
        zh = (BOOK / ZH / page).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    zh_ids = set(HEADING_ID_RE.findall(zh))
    shared = [i for i in HEADING_ID_RE.findall(en) if i in zh_ids]
    # One in the middle of the page, so that the browser has to scroll to it.
    return shared[len(shared) // 2] if shared else None


@pytest.mark.parametrize("edition", ["", ZH])
def test_language_switch_keeps_section(driver: Any, base_url: str, edition: str) -> None:
    """A reader at a section who clicks the switch lands on the same section
    of the other edition, in view."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    pages = [p for p in book_pages() if not p.startswith(ZH) and shared_section(p)]
    assert pages, "no page has a heading id in both editions"
    page = "handshake.html" if "handshake.html" in pages else pages[0]
    section = shared_section(page)
    open_page(driver, f"{base_url}{edition}{page}#{section}", WIDE)
    driver.find_element(By.ID, "language-switch").click()
    other = ZH if edition == "" else ""
    WebDriverWait(driver, 20).until(
        lambda d: d.current_url.startswith(base_url + other + page),
        message=f"the switch did not lead to {other}{page}",
    )
    landed = driver.execute_script(
        """
        const t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
        const r = t && t.getBoundingClientRect();
        return {hash: location.hash, found: !!t, top: r ? r.top : null,
                height: window.innerHeight};
        """
    )
    assert landed["hash"] == f"#{section}", (
        f"the switch from {edition}{page}#{section} landed at {driver.current_url}"
    )
    assert landed["found"], f"{other}{page} has no #{section}"
    assert 0 <= landed["top"] < landed["height"], f"#{section} is not in view: {landed}"


def chart_problems(seen: dict[str, Any], width: int) -> list[str]:
    if "error" in seen:
        return [f"at {width} px: {seen['error']}"]
    problems: list[str] = []
    texts = seen["texts"]
    if width == NARROW:
        small = [t for t in texts if t["px"] < MIN_CHART_TEXT_PX - 0.05]
        if small:
            t = min(small, key=lambda t: t["px"])
            problems.append(
                f"at {width} px, {len(small)} of {len(texts)} texts are under "
                f"{MIN_CHART_TEXT_PX:g} px; the smallest, {t['text']!r}, is {t['px']:.1f} px "
                f"({t['size']:g} px in the SVG, scaled {seen['scale']:.2f} to "
                f"{seen['width']:.0f} px wide)"
            )
    for t in texts:
        # A text's box runs from the font's ascent to its descent, about a
        # fifth of its size beyond the letters: that much past the edge
        # cuts nothing off.
        if t["outside"] > max(0.5, 0.2 * t["px"]):
            problems.append(
                f"at {width} px, {t['text']!r} is cut off: {t['outside']:.1f} px past the "
                f"viewBox's {t['side']} edge"
            )
    return problems


@pytest.mark.parametrize(
    ("page", "src"), book_charts() or [("(no book built)", "(none)")], ids=lambda v: str(v)
)
def test_chart(driver: Any, base_url: str, page: str, src: str) -> None:
    """A chart is legible on a phone and shows all of its labels."""
    need(f"the book is not built in {BOOK} (run make docs)", (BOOK / "index.html").is_file())
    problems: list[str] = []
    for width in (WIDE, NARROW):
        open_page(driver, base_url + page, width)
        problems += chart_problems(js_async(driver, "chart(arguments[0])", src), width)
    # The SVG's path in its edition: ch07-bench/latency.svg.
    key = str(Path(page.removeprefix(ZH)).parent / src).removeprefix("./")
    if key in CHARTS_AWAITING_REDRAW:
        if not problems:
            pytest.fail(
                f"{key} passes now: remove it from CHARTS_AWAITING_REDRAW in {Path(__file__).name}"
            )
        pytest.xfail(f"{key} awaits its redraw (CHARTS_AWAITING_REDRAW): " + "; ".join(problems))
    assert not problems, f"{page}: {src}:\n  " + "\n  ".join(problems)


FIGURE_RE = re.compile(r"<figure class=\"bytefield\">.*?</figure>", re.DOTALL)


def drawn_figures(lang: str) -> list[str]:
    """docs/browser/fixtures/bytefield.md, drawn by scripts/mdbook-course."""
    go = shutil.which("go")
    need("go is not installed (the book's preprocessor is a Go program)", bool(go))
    fixture = (HERE / "fixtures" / "bytefield.md").read_text(encoding="utf-8")
    context = {
        "root": str(REPO / "docs"),
        "renderer": "html",
        "mdbook_version": "0.5.4",
        "config": {"book": {"language": lang, "src": "src"}},
    }
    chapter = {
        "name": "Fixture",
        "content": fixture,
        "number": [1],
        "path": "browser-fixture.md",
        "source_path": "browser-fixture.md",
        "sub_items": [],
    }
    book = {"items": [{"Chapter": chapter}]}
    run = subprocess.run(
        [str(go), "run", "./scripts/mdbook-course"],
        cwd=REPO,
        input=json.dumps([context, book]),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    content = json.loads(run.stdout)["items"][0]["Chapter"]["content"]
    figures = FIGURE_RE.findall(content)
    assert len(figures) == len(re.findall(r"^```bytefield$", fixture, re.MULTILINE)), content
    return figures


@pytest.mark.parametrize("edition", ["", ZH])
def test_bytefield_figures(driver: Any, base_url: str, edition: str) -> None:
    """ch05's frames as byte-field figures, in a page of the built book (its
    stylesheet): they fit the column at both widths and wrap on a phone."""
    figures = drawn_figures("zh-CN" if edition else "en")
    problems: list[str] = []
    for width in (WIDE, NARROW):
        open_page(driver, f"{base_url}{edition}introduction.html", width)
        seen = js(
            driver, "figures(arguments[0], arguments[1])", "\n".join(figures), MIN_FIGURE_TEXT_PX
        )
        screenshot(driver, f"{edition}bytefield-fixture", width)
        problems += [f"at {width} px: {p}" for p in seen["problems"]]
        if width == NARROW and seen["rows"] < 2:
            problems.append(f"at {width} px the header frame is on {seen['rows']} row: no wrap")
    assert not problems, "\n  ".join(problems)


def test_one_search_index() -> None:
    """Each edition ships Pagefind's index and not mdBook's (2.9 MB)."""
    need(f"the book is not built in {BOOK} (run make docs)", (BOOK / "index.html").is_file())
    problems: list[str] = []
    for edition in (BOOK, BOOK / "zh-CN"):
        if not (edition / "pagefind" / "pagefind-ui.js").is_file():
            problems.append(f"{edition}: no Pagefind index")
        for extra in sorted(edition.glob("searchindex*")) + sorted(edition.glob("elasticlunr*")):
            size = extra.stat().st_size
            problems.append(
                f"{extra.relative_to(BOOK)} ({size / 1e6:.1f} MB) ships beside Pagefind"
            )
    assert not problems, "\n  ".join(problems)


# A translated diagram (handshake.md's, through po/zh-CN.po) draws Chinese.
def test_translated_diagram(driver: Any, base_url: str) -> None:
    open_page(driver, base_url + ZH + "handshake.html", WIDE)
    seen = inspect(driver)
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
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => /searchindex|elasticlunr/.test(n))"
    )
    assert not loaded, f"the search loaded mdBook's index too: {loaded}"
    href = hrefs[0]
    driver.get(href)
    assert term in driver.find_element(By.TAG_NAME, "main").text, (
        f"the first result for {term!r}, {href}, does not contain it"
    )
