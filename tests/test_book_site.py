"""The rendered book in a real browser.

Builds the site from the committed chapters (``jupyter-book build``, strict: warnings are errors)
into tmp_path, serves it on 127.0.0.1 from a stdlib HTTP server, opens every page of the table of
contents in headless Chromium and checks: no console errors, every image loaded, all math typeset
by MathJax (served by the site itself, no internet), figures and equations numbered, and every
same-site link answering HTTP 200 with its #fragment present. Screenshots go to
``test-artifacts/book-site/``.

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
    browser.save_screenshot(str(ARTIFACTS / (page.replace("/", "__").replace(".html", ".png"))))

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
