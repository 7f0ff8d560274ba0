#!/usr/bin/env python3
"""Open the report's HTML page in headless Chromium (Debian's `chromium` package): a screenshot, and
the page's DOM after its script ran (to check the claims filter). No network is used: the page is
self-contained and opened from a file:// address.

  python scripts/screenshot_html.py reports/quick/report.html --png /tmp/page.png --size 1280,1800
  python scripts/screenshot_html.py reports/quick/report.html --hash filter=verdict:reproduced \
      --png /tmp/filtered.png --dom /tmp/filtered.html

``--hash`` is added to the address after "#" (the page reads a filter from it:
``filter=verdict:reproduced,family:model``). ``--element ID`` shoots only that element (e.g. ``claims``,
the claims table, or ``contents``), through Chromium's DevTools protocol over a pipe (headless
``--screenshot`` paints nothing once a page scrolls).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
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


class _Pipe:
    """Chromium's DevTools protocol over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int):
        self.proc, self.w, self.r, self.n, self.buf = proc, write_fd, read_fd, 0, b""

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params} | ({"sessionId": session} if session else {})
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.n:
                if "error" in reply:
                    raise RuntimeError(f"chromium: {method}: {reply['error']}")
                return reply.get("result", {})

    def receive(self) -> dict:
        while b"\0" not in self.buf:
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)


def _into(fd: int, target: int) -> None:
    os.dup2(fcntl.fcntl(fd, fcntl.F_DUPFD, 10), target)  # via a high fd: fd may itself be 3 or 4


@contextlib.contextmanager
def devtools(html: str | Path, fragment: str = "", width: int = 1280):
    """(protocol, session) of a headless Chromium tab that has loaded the page (its script has run)."""
    browser = find_chromium()
    if browser is None:
        raise SystemExit("no chromium on PATH: apt-get install chromium (or set $CHROMIUM)")
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    with tempfile.TemporaryDirectory(prefix="resrepro-chromium-") as profile:
        proc = subprocess.Popen(
            [browser, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),  # the browser reads commands on fd 3 and writes replies on fd 4
            preexec_fn=lambda: (_into(to_r, 3), _into(from_w, 4)),
        )
        os.close(to_r), os.close(from_w)
        try:
            cdp = _Pipe(proc, to_w, from_r)
            target = cdp.send("Target.createTarget", url="about:blank")["targetId"]
            sid = cdp.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            metrics = {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
            cdp.send("Emulation.setDeviceMetricsOverride", sid, **metrics)
            cdp.send("Page.enable", sid)
            cdp.send("Page.navigate", sid, url=url(html, fragment))
            while cdp.receive().get("method") != "Page.loadEventFired":
                pass
            yield cdp, sid
        finally:
            proc.kill()
            proc.wait()
            os.close(to_w), os.close(from_r)


def evaluate(cdp: _Pipe, sid: str, js: str):
    """The value of the JavaScript expression ``js`` in the page."""
    reply = cdp.send("Runtime.evaluate", sid, expression=js, returnByValue=True)
    if "exceptionDetails" in reply:
        raise RuntimeError(f"the page's JavaScript failed: {reply['exceptionDetails']}")
    return reply["result"].get("value")


def screenshot_element(html: str | Path, png: str | Path, element: str, fragment: str = "", width=1280) -> Path:
    """A PNG of the element with id ``element`` after the page's script ran (opened at ``#fragment``)."""
    with devtools(html, fragment, width) as (cdp, sid):
        rect = evaluate(
            cdp,
            sid,
            f"(function(){{var e=document.getElementById({json.dumps(element)});if(!e)return null;"
            "var r=e.getBoundingClientRect();return [r.left+scrollX,r.top+scrollY,r.width,r.height];})()",
        )
        if not rect:
            raise RuntimeError(f"the page has no element with id {element!r}")
        x, y, w, h = rect
        clip = {"x": x - 8, "y": y - 8, "width": w + 16, "height": min(h + 16, 16000), "scale": 1}
        data = cdp.send("Page.captureScreenshot", sid, format="png", clip=clip, captureBeyondViewport=True)
    Path(png).write_bytes(base64.b64decode(data["data"]))
    return Path(png)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("html")
    p.add_argument("--png", help="write a screenshot here")
    p.add_argument("--dom", help="write the DOM after the script ran here")
    p.add_argument("--size", default="1280,1800", help="window size W,H (default 1280,1800)")
    p.add_argument("--hash", default="", help="address fragment, e.g. filter=verdict:reproduced")
    p.add_argument("--element", help="shoot only the element with this id (e.g. claims, contents)")
    a = p.parse_args(argv)
    if not (a.png or a.dom):
        p.error("give --png and/or --dom")
    if a.png and a.element:
        print(screenshot_element(a.html, a.png, a.element, a.hash, int(a.size.split(",")[0])))
    elif a.png:
        print(screenshot(a.html, a.png, a.size, a.hash))
    if a.dom:
        Path(a.dom).write_text(dump_dom(a.html, a.hash), encoding="utf-8")
        print(a.dom)
    return 0


if __name__ == "__main__":
    sys.exit(main())
