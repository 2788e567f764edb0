"""Print the book to one PDF with headless Chromium, offline.

Usage::

    python book/print_pdf.py                       # -> book/_build/pdf/osnet-book.pdf
    python book/print_pdf.py --output book.pdf

Builds the single-page HTML edition of the book (``jupyter-book build --builder singlehtml``)
from the committed chapters, serves it on 127.0.0.1, waits for MathJax to typeset every formula,
opens every folded solution, and prints the page with WebDriver's print command (A4, with
backgrounds). Needs Debian's ``chromium`` and ``chromium-driver`` (``book/install_browser.sh``)
and the Python package ``selenium``.
"""

import argparse
import functools
import http.server
import subprocess
import sys
import tempfile
import threading
from base64 import b64decode
from pathlib import Path

BOOK = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync"]
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(() => done("typeset")).catch(e => done("error: " + e));
} else { done("no MathJax"); }
"""
UNFOLD = """
window.dispatchEvent(new Event('beforeprint'));
document.querySelectorAll('details').forEach(d => { d.open = true; });
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def build_single_page(book: Path, out: Path) -> Path:
    """Build the single-page HTML edition into ``out``; returns its folder."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.is_file() else "jupyter-book", "build", str(book), "--builder",
           "singlehtml", "--path-output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return out / "_build" / "singlehtml"


def print_pdf(html_dir: Path, output: Path) -> Path:
    """Print ``html_dir``'s ``intro.html`` (the whole book) to ``output`` as a PDF."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.print_page_options import PrintOptions

    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        raise FileNotFoundError("Chromium is not installed: run `bash book/install_browser.sh`")
    handler = functools.partial(_Quiet, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory() as profile:
        for flag in FLAGS + [f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            driver.set_page_load_timeout(120)
            driver.set_script_timeout(300)
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/intro.html")
            status = driver.execute_async_script(WAIT_FOR_MATHJAX)
            if status != "typeset":
                raise RuntimeError(f"MathJax did not typeset the book: {status}")
            driver.execute_script(UNFOLD)
            settings = PrintOptions()
            settings.background = True
            settings.page_width, settings.page_height = 21.0, 29.7  # A4, in cm
            settings.margin_top = settings.margin_bottom = 1.5
            settings.margin_left = settings.margin_right = 1.5
            pdf = b64decode(driver.print_page(settings))
        finally:
            driver.quit()
            server.shutdown()
            server.server_close()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(pdf)
    tmp.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=BOOK / "_build" / "pdf" / "osnet-book.pdf")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        path = print_pdf(build_single_page(BOOK, Path(out)), args.output.resolve())
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
