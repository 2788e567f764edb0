"""The rendered book in a real browser.

Builds the site from the committed chapters (``jupyter-book build``, strict: warnings are errors)
into tmp_path, serves it on 127.0.0.1 from a stdlib HTTP server, opens every page of the table of
contents in headless Chromium and checks: no console errors, every image loaded, all math typeset
by MathJax (served by the site itself, no internet), figures and equations numbered, and every
same-site link answering HTTP 200 with its #fragment present. Screenshots go to
``test-artifacts/book-site/``.

Then :func:`page_defects` looks, on every page, for the kinds of defect a reader meets
(:data:`DEFECT_KINDS`): TeX left as text, a list item cut out of a formula, one printed table
split into several output boxes, papermill's injected cell, a provenance note from uncommitted
code or from a commit that is not an ancestor of HEAD, code, output or equations clipped
(wider than their box with no scroll bar), figure text under 9 px at the page's scale, a pointer
to a chapter that does not exist, bibliography labels that are not the citations' author-year,
a solution's code behind a toggle that does not name it, an internal equation label shown to the
reader, and low-contrast figure captions. Each kind is shown to fail on a small fixture page
with the defect (``test_each_check_catches_its_defect``) before it passes on the book.

Needs Debian's ``chromium`` and ``chromium-driver`` (``book/install_browser.sh``), the Python
package ``selenium``, and MathJax in ``book/_assets`` (``book/fetch_mathjax.sh``); the test is
skipped with the reason when one of them is missing.
"""

import functools
import http.server
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
ARTIFACTS = ROOT / "test-artifacts" / "book-site"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MATHJAX = BOOK / "_assets" / "mathjax" / "tex-chtml.js"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1600"]


def toc_parts() -> list[str]:
    """The captions of the parts of _toc.yml (``"Part I: ..."``)."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [part.get("caption", "") for part in toc.get("parts", [])]


def toc_pages() -> list[str]:
    """The pages of _toc.yml, as paths of the built site (``chapters/02_....html``)."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return [f"{f}.html" for f in files]


PAGES = toc_pages()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the book and serve it; yields the base URL."""
    if not MATHJAX.is_file():
        pytest.skip("MathJax is not in book/_assets: run `bash book/fetch_mathjax.sh`")
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book) if jupyter_book.is_file() else "jupyter-book", "build", str(BOOK),
           "--path-output", str(out), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"jupyter-book build failed:\n{proc.stdout[-6000:]}\n"
                                  f"{proc.stderr[-3000:]}")
    html = out / "_build" / "html"
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="the selenium package is not installed")
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("Chromium is not installed: run `bash book/install_browser.sh` "
                    "(Debian packages chromium and chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


_fetched: dict[str, tuple[int, str]] = {}


def fetch(url: str) -> tuple[int, str]:
    """HTTP status and body (for HTML pages) of a same-site URL, cached per test session."""
    if url not in _fetched:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "")
                _fetched[url] = (response.status,
                                 body.decode("utf-8", "replace") if "html" in kind else "")
        except urllib.error.HTTPError as e:
            _fetched[url] = (e.code, "")
    return _fetched[url]


def save_full_page(browser, path: Path) -> None:
    """A screenshot of the whole page, not only the window: window-sized shots down the page,
    stitched (sticky headers are pinned at the top for the capture)."""
    from io import BytesIO

    from PIL import Image

    browser.execute_script(
        "document.querySelectorAll('*').forEach(e => { const p = getComputedStyle(e).position;"
        " if (p === 'sticky' || p === 'fixed') e.style.position = 'static'; });")
    height, view = browser.execute_script(
        "return [document.documentElement.scrollHeight, window.innerHeight]")
    sheet = None
    for top in range(0, height, view):
        browser.execute_script(f"window.scrollTo(0, {top});")
        shot = Image.open(BytesIO(browser.get_screenshot_as_png()))
        scrolled = browser.execute_script("return window.scrollY")
        if sheet is None:
            sheet = Image.new("RGB", (shot.width, height), "white")
        sheet.paste(shot, (0, round(scrolled)))
    sheet.save(path)
    browser.execute_script("window.scrollTo(0, 0);")


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(() => done("typeset")).catch(e => done("error: " + e));
} else { done("no MathJax"); }
"""


def test_toc_lists_the_foundation_chapters():
    assert PAGES[0] == "intro.html"
    assert [p for p in PAGES if p.startswith("chapters/")][:5] == [
        "chapters/01_reid_and_metrics.html", "chapters/02_depthwise_separable.html",
        "chapters/03_omni_scale_block.html", "chapters/04_aggregation_gate.html",
        "chapters/05_architecture.html"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chromium(site, browser, page):
    browser.get(site + page)
    status = browser.execute_async_script(WAIT_FOR_MATHJAX)
    save_full_page(browser, ARTIFACTS / (page.replace("/", "__").replace(".html", ".png")))

    # no errors in the console (failed resources, script errors)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"console errors on {page}:\n" + "\n".join(errors)

    # every image loaded
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])")
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"images that did not load on {page}: {broken}"

    # math typeset by the site's own MathJax, without errors
    math = browser.execute_script("""
        const m = Array.from(document.querySelectorAll('.math'));
        return [m.length, m.filter(e => e.querySelector('mjx-container')).length,
                document.querySelectorAll('mjx-merror').length,
                Array.from(document.scripts).map(s => s.src).filter(s => s.includes('mathjax'))];
    """)
    n_math, n_typeset, n_errors, mathjax_src = math
    assert all(src.startswith(site) for src in mathjax_src), \
        f"MathJax not served locally: {mathjax_src}"
    if page.startswith("chapters/"):
        assert mathjax_src and status == "typeset", f"MathJax on {page}: {status}"
        assert n_math > 0, f"no math on {page}"
        assert images, f"no figure on {page}"
        captions = browser.execute_script(
            "return Array.from(document.querySelectorAll('figcaption .caption-number'))"
            ".map(e => e.textContent)")
        assert captions and all(re.match(r"Fig\. \d+\.\d+", c) for c in captions), captions
        # a chapter is numbered by its file (book/_ext/chapter_numbers), whatever its position
        number = int(page.removeprefix("chapters/").split("_")[0])
        heading = browser.execute_script(
            "const n = document.querySelector('h1 .section-number');"
            "return n ? n.textContent.trim() : null")
        assert heading == f"{number}.", f"{page} is titled chapter {heading!r}"
        assert all(c.startswith(f"Fig. {number}.") for c in captions), captions
    assert n_typeset == n_math, f"{n_math - n_typeset} math element(s) not typeset on {page}"
    assert n_errors == 0, f"{n_errors} MathJax error(s) on {page}"

    # every same-site link answers 200, and its fragment exists
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    internal = sorted({h for h in hrefs if h.startswith(site)})
    assert internal, f"no internal links on {page}"
    bad = []
    for href in internal:
        url, fragment = urldefrag(href)
        code, body = fetch(url)
        if code != 200:
            bad.append(f"{href}: HTTP {code}")
        elif fragment and body and f'id="{fragment}"' not in body:
            bad.append(f"{href}: no element with id {fragment!r}")
    assert not bad, f"broken links on {page}:\n" + "\n".join(bad)
    assert urlparse(browser.current_url).path.endswith(page)


def test_equations_are_numbered(site, browser):
    browser.get(site + "chapters/02_depthwise_separable.html")
    browser.execute_async_script(WAIT_FOR_MATHJAX)
    numbers = browser.execute_script(
        "return Array.from(document.querySelectorAll('span.eqno')).map(e => e.textContent)")
    assert len(numbers) >= 5 and all(re.match(r"\(\d+\.\d+\)", n.strip()) for n in numbers), numbers
    # an equation reference in the prose points at one of them
    refs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a.reference.internal[href*=\"#equation-\"]'))"
        ".map(a => a.textContent)")
    assert refs and all(re.match(r"\(\d+\.\d+\)", r) for r in refs), refs


# -- the kinds of defect a reader meets ------------------------------------------------------------
#: The smallest text a figure may show, in CSS pixels at the page's scale.
MIN_FIGURE_TEXT_PX = 9.0
#: The contrast (WCAG) a figure caption must have against its background.
MIN_CAPTION_CONTRAST = 4.5
DEFECT_KINDS = ("raw_tex", "bullet_in_formula", "split_output", "injected_parameters",
                "provenance", "clipped", "small_figure_text", "missing_chapter",
                "citation_label", "solution_toggle", "internal_label", "caption_contrast")

PAGE_FACTS = r"""
const article = document.querySelector('article') || document.querySelector('main') || document.body;
const skip = 'script, style, pre, code, textarea, mjx-container, .highlight, .cell_input';
function visibleText(root) {
  // the text a reader sees, outside code and typeset math
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement.closest(skip)) parts.push(n.textContent);
  }
  return parts.join('');
}
const outputText = Array.from(article.querySelectorAll('.cell_output pre'))
  .map(e => e.textContent).join('\n');
const lists = Array.from(article.querySelectorAll('li')).map(li => visibleText(li));
const afterText = Array.from(article.querySelectorAll('ul, ol')).map(l => {
  const p = l.previousElementSibling;
  return p ? visibleText(p) : '';
});
const streams = [];
for (const out of article.querySelectorAll('.cell_output')) {
  const kids = Array.from(out.children);
  for (let i = 1; i < kids.length; i++) {
    const a = kids[i - 1].classList, b = kids[i].classList;
    for (const name of ['stream', 'stderr']) {
      if (a.contains(name) && b.contains(name)) streams.push(kids[i].textContent.slice(0, 80));
    }
  }
}
const injected = Array.from(article.querySelectorAll('.tag_injected-parameters, .cell'))
  .filter(c => c.classList.contains('tag_injected-parameters') ||
               /^# Parameters\s*$/m.test((c.querySelector('.cell_input pre') || {}).textContent?.split('\n')[0] || ''))
  .map(c => (c.textContent || '').trim().slice(0, 80));
const notes = Array.from(article.querySelectorAll('.admonition'))
  .map(a => a.textContent).filter(t => t.includes('The outputs on this page come from'));
const box = article.getBoundingClientRect();
const clipped = [];
for (const e of article.querySelectorAll('pre, div.highlight, .cell_output, div.math, mjx-container[display="true"], .output, table, img')) {
  if (e.closest('details:not([open])')) continue;   // folded away: not on screen
  const style = getComputedStyle(e);
  const scrolls = ['auto', 'scroll'].includes(style.overflowX);
  const inner = e.scrollWidth > e.clientWidth + 1;
  const r = e.getBoundingClientRect();
  const what = e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '');
  // a printed output or an equation must fit the column: overlay scroll bars (phones, macOS)
  // are invisible, so what needs scrolling looks cut off
  const mustFit = e.matches('.cell_output pre, mjx-container[display="true"]');
  if (inner && mustFit) clipped.push(`${what} content ${e.scrollWidth}px is wider than its ${e.clientWidth}px box: ` + e.textContent.trim().slice(0, 60));
  else if (inner && !scrolls && e.tagName !== 'IMG') clipped.push(`${what} content ${e.scrollWidth}px in a ${e.clientWidth}px box without a scroll bar: ` + e.textContent.trim().slice(0, 60));
  if (r.width > 0 && r.right > box.right + 1) clipped.push(`${what} reaches ${Math.round(r.right - box.right)}px past the column: ` + e.textContent.trim().slice(0, 60));
}
const images = Array.from(article.querySelectorAll('.cell_output img, figure img'))
  .filter(i => i.complete && i.naturalWidth > 0)
  .map(i => [i.src, i.clientWidth, i.naturalWidth]);
const links = Array.from(article.querySelectorAll('a[href]')).map(a => [a.href, a.textContent]);
const labels = Array.from(document.querySelectorAll('.citation')).map(c =>
  [c.id, (c.querySelector('.label') || {}).textContent || '']);
const solutions = Array.from(article.querySelectorAll('.cell.tag_solution')).map(c => {
  const summary = c.querySelector('summary');
  return summary ? summary.textContent.trim() : '(shown without a toggle)';
});
function rgb(s) { const m = s.match(/[\d.]+/g) || [0, 0, 0, 1]; return m.map(Number); }
function background(e) {
  for (; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  }
  return [255, 255, 255];
}
function luminance(c) {
  const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const captions = Array.from(article.querySelectorAll('figcaption')).map(f => {
  const target = f.querySelector('.caption-text') || f;
  const style = getComputedStyle(target);
  const a = luminance(rgb(style.color)), b = luminance(background(target));
  return [target.textContent.slice(0, 60), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
          parseInt(style.fontWeight, 10)];
});
return {text: visibleText(article), outputText, lists, afterText, streams, injected, notes,
        clipped, images, links, labels, solutions, captions,
        counts: {outputs: article.querySelectorAll('.cell_output').length,
                 streams: article.querySelectorAll('.cell_output .stream').length,
                 code: article.querySelectorAll('.cell_input pre').length}};
"""

RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\$[^$\s]")
INTERNAL_LABEL = re.compile(r"\bEqs?\. \(?[a-z][a-z0-9]*-[a-z0-9-]+\)?")
#: Parts of the book named in prose before they exist ("Part II" while _toc.yml has only Part I).
MISSING_PARTS = [f"Part {n}" for n in ("II", "III", "IV")
                 if not any(re.match(rf"Part {n}\b", caption) for caption in toc_parts())]
PROMISE = re.compile(r"\b(?:(?:a|the) (?:later|future|coming|forthcoming) chapters?|"
                     r"chapters? (?:to come|still to be written)|the chapter on|a later part"
                     + "".join(f"|{part}" for part in MISSING_PARTS) + r")\b", re.IGNORECASE)
NEXT_CHAPTER = re.compile(r"\b(?:the )?(?:next|following) chapters?\b", re.IGNORECASE)
CHAPTER_NUMBER = re.compile(r"\b[Cc]hapters? (\d+)\b")


def _chapter_count() -> int:
    return sum(p.startswith("chapters/") for p in PAGES)


def _is_ancestor(commit: str) -> bool:
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    return proc.returncode == 0


def _png_text_px(url: str) -> float | None:
    """The smallest text of a chapter's figure in pixels of the image (inf: no text), or None
    if the image does not say."""
    from io import BytesIO

    from PIL import Image

    with urllib.request.urlopen(url, timeout=30) as response:
        image = Image.open(BytesIO(response.read()))
        image.load()
    value = getattr(image, "text", {}).get("MinTextPx")
    if value == "none":  # a figure without text
        return float("inf")
    return float(value) if value else None


def _norm(label: str) -> str:
    return re.sub(r"[\s\[\](),]+", " ", label).strip()


def page_defects(browser, url: str, last_chapter: bool = False) -> dict[str, list[str]]:
    """The defects of each kind of :data:`DEFECT_KINDS` on the page at ``url`` (already loaded
    in ``browser`` and typeset), as readable lines; empty lists when there are none."""
    facts = browser.execute_script(PAGE_FACTS)
    found: dict[str, list[str]] = {kind: [] for kind in DEFECT_KINDS}
    text = facts["text"]
    found["raw_tex"] = [text[max(0, m.start() - 30): m.end() + 30].replace("\n", " ")
                        for m in RAW_TEX.finditer(text)]
    found["bullet_in_formula"] = [
        f"list item {li[:60]!r}" for li in facts["lists"] if RAW_TEX.search(li)] + [
        f"list after {p[-60:]!r}" for p in facts["afterText"]
        if p.count("$") % 2 or re.search(r"\\[A-Za-z]+[^$]*$", p)]
    found["split_output"] = [f"a second output box right after another: {t!r}"
                             for t in facts["streams"]]
    found["injected_parameters"] = [f"papermill's injected cell is shown: {t!r}"
                                    for t in facts["injected"]]
    for note in facts["notes"]:
        match = re.search(r"git commit\s+([0-9a-f]{7,40})(\+dirty)?", note)
        if "Not a published execution" in note or (match and match.group(2)):
            found["provenance"].append(f"made from uncommitted code: {note.strip()[:120]!r}")
        elif not match:
            found["provenance"].append(f"no commit in the note: {note.strip()[:120]!r}")
        elif not _is_ancestor(match.group(1)):
            found["provenance"].append(f"commit {match.group(1)} is not an ancestor of HEAD")
    found["clipped"] = list(facts["clipped"])
    for src, shown, natural in facts["images"]:
        px = _png_text_px(src)
        name = src.rsplit("/", 1)[-1][:16]
        if px is None:
            found["small_figure_text"].append(f"{name}: no recorded text size (MinTextPx); "
                                              "re-execute the chapter")
        elif px * shown / natural < MIN_FIGURE_TEXT_PX:
            found["small_figure_text"].append(
                f"{name}: smallest text {px * shown / natural:.1f} px on the page "
                f"({px:.1f} px in the image, shown at {shown}/{natural})")
    chapters = _chapter_count()
    for m in PROMISE.finditer(text):
        found["missing_chapter"].append(f"points to a chapter that does not exist: "
                                        f"{text[max(0, m.start() - 40): m.end() + 30]!r}")
    if last_chapter:
        found["missing_chapter"] += [f"the last chapter points to a next one: "
                                     f"{text[max(0, m.start() - 40): m.end() + 30]!r}"
                                     for m in NEXT_CHAPTER.finditer(text)]
    found["missing_chapter"] += [f"chapter {m.group(1)} does not exist (the book has "
                                 f"{chapters})" for m in CHAPTER_NUMBER.finditer(text)
                                 if int(m.group(1)) > chapters]
    for href, _ in facts["links"]:
        path = urlparse(href).path
        if "/chapters/" in path and path.endswith(".html"):
            page = "chapters/" + path.rsplit("/", 1)[-1]
            if page not in PAGES:
                found["missing_chapter"].append(f"link to a chapter not in the book: {href}")
    for _, label in facts["labels"]:
        if not (re.search(r"\b(1[89]|20)\d\d[a-z]?\b", label) and re.search(r"[a-z]{2}", label)):
            found["citation_label"].append(f"bibliography label {label!r} is not author-year")
    for href, shown in facts["links"]:
        url_, fragment = urldefrag(href)
        if not url_.endswith("references.html") or not fragment:
            continue
        code, body = fetch(url_)
        match = re.search(rf'id="{re.escape(fragment)}"[^>]*>\s*<span class="label">(.*?)</span>'
                          r"\s*</span>", body, re.S)
        if match:
            label = re.sub(r"<[^>]+>", "", match.group(1))
            if _norm(shown) not in _norm(label) and _norm(label) not in _norm(shown):
                found["citation_label"].append(f"cited as {shown!r}, listed as {label!r}")
    found["solution_toggle"] = [f"solution code behind a toggle {t!r}"
                                for t in facts["solutions"] if "Solution" not in t]
    found["internal_label"] = [
        f"internal label {m.group(0)!r}" for source in (text, facts["outputText"])
        for m in INTERNAL_LABEL.finditer(source)]
    found["caption_contrast"] = [f"caption {t!r}: contrast {c:.1f} < {MIN_CAPTION_CONTRAST}"
                                 for t, c, _ in facts["captions"] if c < MIN_CAPTION_CONTRAST]
    found["caption_contrast"] += [f"caption {t!r}: a light font (weight {w}) reads as faint"
                                  for t, _, w in facts["captions"] if w < 400]
    found["_counts"] = facts["counts"]  # type: ignore[assignment]
    return found


def _load(browser, url: str) -> None:
    browser.get(url)
    browser.execute_async_script(WAIT_FOR_MATHJAX)


@pytest.mark.parametrize("page", PAGES)
def test_page_has_none_of_the_defect_kinds(site, browser, page):
    _load(browser, site + page)
    chapters = [p for p in PAGES if p.startswith("chapters/")]
    found = page_defects(browser, site + page, last_chapter=bool(chapters) and page == chapters[-1])
    counts = found.pop("_counts")
    if page.startswith("chapters/"):
        # the checks look at what is there: outputs, printed streams and code exist
        assert counts["outputs"] and counts["streams"] and counts["code"], counts
    bad = {kind: lines for kind, lines in found.items() if lines}
    assert not bad, f"defects on {page}:\n" + "\n".join(
        f"  {kind}: {line}" for kind, lines in bad.items() for line in lines[:8])


# -- each check fails on a page with its defect ----------------------------------------------------
def _png(path: Path, width: int, height: int, text_px: float | None) -> None:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if text_px is not None:
        info.add_text("MinTextPx", f"{text_px:.2f}")
    Image.new("RGB", (width, height), (200, 220, 240)).save(path, pnginfo=info)


def _page(body: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><style>body{margin:0;"
            "font:16px sans-serif} article{width:600px;margin:20px}</style></head><body><main>"
            f"<article>{body}</article></main></body></html>")


def _output(text: str) -> str:
    return f'<div class="output stream"><div class="highlight"><pre>{text}</pre></div></div>'


def _head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


NOTE = ('<div class="admonition note"><p>The outputs on this page come from an execution with '
        'profile <code>cpu</code> on 2026-01-01 (git commit <code>{commit}</code>), wall time '
        '1 s.</p></div>')
GOOD_OUTPUT = '<div class="cell_output">' + _output("row 1\nrow 2") + "</div>"
GOOD_CITATION = ('<p>as in <a class="reference internal" href="references.html#id1">Zhou <em>et '
                 'al.</em>, 2021</a></p>')
DEFECTS = {
    "raw_tex": "<p>the score is $\\mathrm{INP}(A) = \\tfrac25$ for A</p>",
    "bullet_in_formula": ("<p>so $r_1 = 2$: $\\mathrm{AP}(A) = \\tfrac12\\,(\\tfrac12</p>"
                          "<ul><li>\\tfrac25) = 0.45$ and more</li></ul>"),
    "split_output": f'<div class="cell_output">{_output("row 1")}{_output("row 2")}</div>',
    "injected_parameters": ('<div class="cell tag_injected-parameters"><div class="cell_input">'
                            '<pre># Parameters\nprofile = "quick"\n</pre></div></div>'),
    "provenance": NOTE.format(commit="{head}+dirty"),
    "provenance-foreign": NOTE.format(commit="0123456789ab"),
    "clipped": ('<div class="cell_output"><div class="output stream"><div class="highlight">'
                '<pre style="overflow: hidden">' + "wide " * 60 + "</pre></div></div></div>"),
    "clipped-scrolling": ('<div class="cell_output"><div class="output stream"><div '
                          'class="highlight"><pre style="overflow-x: auto">' + "wide " * 60
                          + "</pre></div></div></div>"),
    "clipped-equation": ('<div class="math" style="overflow: visible; width: 600px">'
                         '<span style="display: inline-block; width: 900px">\\(x\\)</span></div>'),
    "small_figure_text": ('<div class="cell_output"><figure><img src="small.png" '
                          'style="width: 300px"></figure></div>'),
    "missing_chapter": "<p>The comparison appears in the chapter on the Table 5 ablations.</p>",
    "missing_chapter-link": ('<p>See <a href="chapters/09_search.html">the search</a>, and '
                             'chapter 9.</p>'),
    "citation_label": GOOD_CITATION,
    "solution_toggle": ('<div class="cell tag_solution tag_hide-cell"><details class="hide">'
                        '<summary><p>Show code cell content</p></summary><div class="cell_input">'
                        '<pre>answer = 42</pre></div></details></div>'),
    "internal_label": ('<div class="cell_output">'
                       + _output("largest |counted - Eq. (sep-cost)|: 0") + "</div>"),
    "caption_contrast": ('<figure><img src="good.png"><figcaption><span class="caption-text" '
                         'style="color: #c8c8c8">Fig. 1 A pale caption</span></figcaption>'
                         '</figure>'),
    "caption_contrast-light": ('<figure><img src="good.png"><figcaption><span '
                               'class="caption-text" style="font-weight: 300">Fig. 1 A thin '
                               'caption</span></figcaption></figure>'),
}
CLEAN = (GOOD_OUTPUT + NOTE.format(commit="{head}")
         + GOOD_CITATION.replace("references.html", "good-references.html")
         + '<div class="cell"><div class="cell_input"><div class="highlight">'
         '<pre style="white-space: pre-wrap">' + "wrapped " * 60 + "</pre></div></div></div>"
         '<div class="cell tag_solution tag_hide-cell"><details class="hide"><summary><p>Show '
         'the code of Solution 1.1</p></summary><pre>answer = 42</pre></details></div>'
         '<figure><img src="good.png"><figcaption><span class="caption-text">Fig. 1 A caption'
         '</span></figcaption></figure><p>Chapter 2 and the next chapter follow.</p>')


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory):
    """Small pages, one per defect (and one without any), served like the book."""
    folder = tmp_path_factory.mktemp("fixture-site")
    head = _head_commit()
    _png(folder / "small.png", 600, 200, text_px=14.0)  # shown at half size: 7 px
    _png(folder / "good.png", 400, 200, text_px=14.0)
    pages = dict(DEFECTS, clean=CLEAN)
    for name, body in pages.items():
        (folder / f"{name}.html").write_text(_page(body.replace("{head}", head)))
    bad_labels = ('<div class="citation" id="id1"><span class="label"><span class="fn-bracket">'
                  '[</span>ZYCX21<span class="fn-bracket">]</span></span><p>Zhou...</p></div>')
    (folder / "references.html").write_text(_page(bad_labels))
    good_labels = bad_labels.replace("ZYCX21", "Zhou et al., 2021")
    (folder / "good-references.html").write_text(_page(good_labels))
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("fixture", list(DEFECTS))
def test_each_check_catches_its_defect(fixture_site, browser, fixture):
    kind = fixture.split("-")[0]
    _load(browser, fixture_site + f"{fixture}.html")
    found = page_defects(browser, fixture_site + f"{fixture}.html")
    found.pop("_counts")
    assert found[kind], f"the {kind} check missed the defect of {fixture}.html"
    browser.save_screenshot(str(ARTIFACTS / f"fixture-{fixture}.png"))


def test_the_checks_pass_a_page_without_defects(fixture_site, browser):
    for page in ("clean.html", "good-references.html"):
        _load(browser, fixture_site + page)
        found = page_defects(browser, fixture_site + page)
        found.pop("_counts")
        assert not {k: v for k, v in found.items() if v}, page
    # the labels page with alphabetic labels is caught
    _load(browser, fixture_site + "references.html")
    assert page_defects(browser, fixture_site + "references.html")["citation_label"]


def test_the_book_prints_to_one_pdf(browser, tmp_path):
    """``make pdf``: the single-page edition printed by headless Chromium."""
    import importlib.util

    if not MATHJAX.is_file():
        pytest.skip("MathJax is not in book/_assets: run `bash book/fetch_mathjax.sh`")
    spec = importlib.util.spec_from_file_location("print_pdf", BOOK / "print_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "book.pdf"
    assert module.main(["--output", str(out)]) == 0
    data = out.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert data.startswith(b"%PDF-") and pages >= 10 * _chapter_count(), pages


def _numbering_env(docnames_and_positions):
    """A build environment as Sphinx leaves it after numbering chapters by position."""
    from types import SimpleNamespace

    from docutils import nodes

    env = SimpleNamespace(toc_secnumbers={}, toc_fignumbers={}, titles={}, tocs={},
                          found_docs=set())
    for docname, position in docnames_and_positions:
        env.toc_secnumbers[docname] = {"": (position,), "#overview": (position, 1)}
        env.toc_fignumbers[docname] = {"figure": {"fig-a": (position, 1)},
                                       "displaymath": {"eq-a": (position, 2)}}
        env.titles[docname] = nodes.title(secnumber=[position])
        env.tocs[docname] = nodes.bullet_list("", nodes.reference(
            refuri=docname, anchorname="", secnumber=[position]))
        env.found_docs.add(docname)
    return env


def test_chapters_are_numbered_by_their_files():
    sys.path.insert(0, str(BOOK / "_ext"))
    try:
        from chapter_numbers import renumber_chapters
    finally:
        sys.path.remove(str(BOOK / "_ext"))
    from sphinx.errors import ExtensionError

    env = _numbering_env([("chapters/05_architecture", 5), ("chapters/09_gate_clusters", 6),
                          ("references", 7)])
    rewrite = renumber_chapters(None, env)
    assert "chapters/09_gate_clusters" in rewrite
    assert env.toc_secnumbers["chapters/09_gate_clusters"] == {"": (9,), "#overview": (9, 1)}
    assert env.toc_fignumbers["chapters/09_gate_clusters"] == {
        "figure": {"fig-a": (9, 1)}, "displaymath": {"eq-a": (9, 2)}}
    assert env.titles["chapters/09_gate_clusters"]["secnumber"] == [9]
    assert next(iter(env.tocs["chapters/09_gate_clusters"].findall(
        lambda n: "secnumber" in n.attributes)))["secnumber"] == [9]
    assert env.toc_secnumbers["chapters/05_architecture"][""] == (5,)
    assert env.toc_secnumbers["references"][""] == (7,)  # no number in its name: as Sphinx had it
    assert renumber_chapters(None, env) == []  # already numbered: nothing to rewrite

    twins = _numbering_env([("chapters/09_gate_clusters", 6), ("chapters/09_other", 7)])
    with pytest.raises(ExtensionError, match="chapter number 9 is carried by two files"):
        renumber_chapters(None, twins)
