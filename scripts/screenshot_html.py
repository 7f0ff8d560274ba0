#!/usr/bin/env python3
"""Open the report's HTML page in headless Chromium (Debian's `chromium` package): a screenshot, and
the page's DOM after its script ran (to check the claims filter). No network is used: the page is
self-contained and opened from a file:// address.

  python scripts/screenshot_html.py reports/quick/report.html --png /tmp/page.png --size 1280,1800
  python scripts/screenshot_html.py reports/quick/report.html --hash filter=verdict:reproduced \
      --png /tmp/filtered.png --dom /tmp/filtered.html

``--hash`` is added to the address after "#" (the page reads a filter from it:
``filter=verdict:reproduced,family:model``); ``--at`` scrolls the screenshot to an anchor instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium binary on PATH (or $CHROMIUM), None when there is none."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    return next((shutil.which(n) for n in NAMES if shutil.which(n)), None)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    browser = find_chromium()
    if browser is None:
        raise SystemExit("no chromium on PATH: apt-get install chromium (or set $CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="resrepro-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",  # run as root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--virtual-time-budget=3000",  # let the page's script run before the capture
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def url(html: str | Path, fragment: str = "") -> str:
    u = Path(html).resolve().as_uri()
    return f"{u}#{fragment}" if fragment else u


def screenshot(html: str | Path, png: str | Path, size: str = "1280,1800", fragment: str = "", timeout=120) -> Path:
    """A PNG of the page (window ``size`` "W,H"), opened at ``#fragment``."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    r = _run([f"--screenshot={png}", f"--window-size={size}", url(html, fragment)], timeout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {r.returncode}): {r.stderr[-2000:]}")
    return png


def dump_dom(html: str | Path, fragment: str = "", timeout=120) -> str:
    """The page's DOM, serialised after its script ran, opened at ``#fragment``."""
    r = _run(["--dump-dom", url(html, fragment)], timeout)
    if r.returncode != 0 or "<html" not in r.stdout:
        raise RuntimeError(f"chromium could not dump the DOM (exit {r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("html")
    p.add_argument("--png", help="write a screenshot here")
    p.add_argument("--dom", help="write the DOM after the script ran here")
    p.add_argument("--size", default="1280,1800", help="window size W,H (default 1280,1800)")
    p.add_argument("--hash", default="", help="address fragment, e.g. filter=verdict:reproduced or sec-results")
    a = p.parse_args(argv)
    if not (a.png or a.dom):
        p.error("give --png and/or --dom")
    if a.png:
        print(screenshot(a.html, a.png, a.size, a.hash))
    if a.dom:
        Path(a.dom).write_text(dump_dom(a.html, a.hash), encoding="utf-8")
        print(a.dom)
    return 0


if __name__ == "__main__":
    sys.exit(main())
