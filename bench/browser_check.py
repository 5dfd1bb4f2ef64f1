"""Render a report.html in headless Chromium: screenshots, page size and load time.

    .venv/bin/python -m bench.browser_check REPORT.html [--out DIR] [--cell ID ...] [--rounds 3] [--size 1400,2400]

Writes into ``--out`` (default: a ``screenshots`` folder beside the report):
``top.png`` (the first window of the page as opened), ``<ID>.png`` (the window of the page opened at ``#ID``: the
drill-down section of each ``--cell ID``, else of the first and the last cell the grid links to) and ``full.png``
(the whole page scaled down to at most 8,000 pixels high, every lazy image loaded first). It prints the page size
(bytes, images, inline SVG charts, drill-down sections) and its load time, the median over ``--rounds`` rounds in
which the report and an empty page alternate (the order rotating, as in the other benchmarks, so slowly changing load
hits both alike):

- ``cold``: seconds of a whole ``chromium --headless --screenshot`` run of the report minus the same for the empty
  page: what opening the report adds to starting a browser (parse, layout, paint of the first window);
- in one running browser, each load in a new tab: ``load event`` (the browser's Navigation Timing, navigation start
  to the load event) and ``first window`` (from navigating until a screenshot of the first window returns, its images
  decoded; images marked ``loading="lazy"`` further down are not decoded before the load event), of the report and
  of the empty page (whose first window is mostly the screenshot's own cost).

The running browser is driven over Chrome's DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no
third-party package): ``--screenshot`` alone draws a blank window for a page opened at a ``#fragment`` (seen with
Chromium 156). Needs the Debian package ``chromium`` (``--chromium`` for another path); runs with ``--no-sandbox``
(as root) and a throwaway profile per browser.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars")
FULL_HEIGHT = 8000  # the full-page screenshot is scaled down to at most this many pixels high
VISIBLE_IMAGES = ("Promise.all([...document.images].filter(i => {const r = i.getBoundingClientRect(); "
                  "return r.bottom > 0 && r.top < innerHeight;}).map(i => i.decode().catch(() => null)))")
ALL_IMAGES = ("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager'); "
              "Promise.all([...document.images].map(i => i.decode().catch(() => null)))")


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe: the browser reads commands on its file
    descriptor 3 and writes replies and events on 4, each a JSON text ended by a NUL byte."""

    def __init__(self, binary: str, size: tuple[int, int]) -> None:
        self.size = size
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def on_fds_3_and_4() -> None:  # runs in the child before exec: fd 3 and 4 must be inheritable
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.process = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self.profile.name}", "about:blank"],
            preexec_fn=on_fds_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id = b"", 0
        self.session: str | None = None
        self.target: str | None = None

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close", session=False)
            self.process.wait(timeout=10)
        except (OSError, EOFError, subprocess.TimeoutExpired):
            self.process.kill()
        os.close(self._write)
        os.close(self._read)
        self.profile.cleanup()

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        """Send one command (to the open tab unless ``session`` is False) and return its result; events that
        arrive meanwhile are dropped."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the open tab (a promise is awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return result["result"].get("value")

    def open(self, url: str) -> dict[str, float]:
        """Open ``url`` in a new tab the size of the window and wait for its load event; returns milliseconds:
        ``load event`` (Navigation Timing) and ``wall`` (navigate command to the load event, measured here)."""
        if self.session:
            self.call("Target.closeTarget", {"targetId": self.target}, session=False)
        self.target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": self.target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        width, height = self.size
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        start = time.perf_counter()
        self.call("Page.navigate", {"url": url})
        while self._message().get("method") != "Page.loadEventFired":
            pass
        while not self._loaded():  # a late load event of the new tab's about:blank would have ended the wait
            time.sleep(0.005)
        wall = (time.perf_counter() - start) * 1000
        load = self.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart")
        return {"load event": float(load), "wall": wall}

    def _loaded(self) -> bool:
        """Whether the tab holds a page other than about:blank that has finished loading."""
        try:
            return bool(self.evaluate("document.URL !== 'about:blank' && document.readyState === 'complete'"))
        except RuntimeError:  # the page is being replaced: no context to evaluate in
            return False

    def screenshot(self, path: Path, full: bool = False) -> Path:
        """Save the tab's window (``full``: the whole page, scaled to at most FULL_HEIGHT pixels) as a PNG, once the
        images it shows are decoded."""
        self.evaluate(ALL_IMAGES if full else VISIBLE_IMAGES)
        params: dict[str, Any] = {"format": "png"}
        if full:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            scale = min(1.0, FULL_HEIGHT / size["height"])
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": scale}}
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", params)["data"]))
        return path


def cells(page: str) -> list[str]:
    """The ids of the drill-down cells the page's grid links to, in page order."""
    return list(dict.fromkeys(re.findall(r'href="#(cell-[\w-]+)"', page)))


def page_facts(report: Path) -> str:
    """Size on disk, inline images (sample montages among them), SVG charts and drill-down sections of a report."""
    page = report.read_text()
    images, montages, charts = page.count("<img "), page.count('class="tiles"'), page.count("<svg")
    sections = len(set(re.findall(r'<section class="drill" id="(cell-[\w-]+)"', page)))
    return (f"page: {report.stat().st_size / 1e6:.2f} MB, {images} images ({montages} sample montages), {charts} "
            f"inline SVG charts, {sections} drill-down sections")


def screenshots(browser: Browser, report: Path, out: Path, targets: list[str]) -> list[Path]:
    """top.png, one ``<id>.png`` per fragment in ``targets`` and full.png of ``report`` into ``out``."""
    url = report.resolve().as_uri()
    paths = []
    for name, target in [("top", url), *((t, f"{url}#{t}") for t in targets)]:
        browser.open(target)
        paths.append(browser.screenshot(out / f"{name}.png"))
    browser.open(url)
    return [*paths, browser.screenshot(out / "full.png", full=True)]


def cold_run(binary: str, page: Path, size: tuple[int, int], png: Path) -> float:
    """Seconds of one whole ``chromium --headless --screenshot`` run on ``page`` (its own fresh profile)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        start = time.perf_counter()
        subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={png}", page.resolve().as_uri()], capture_output=True, timeout=300, check=True)
        return time.perf_counter() - start


def load_times(binary: str, browser: Browser, report: Path, rounds: int) -> dict[str, list[float]]:
    """Per round: ``cold``, the seconds a screenshot run of the report takes more than one of an empty page; and in
    the running browser ``load event`` and ``first window`` in milliseconds, of the report and of the empty page
    (``empty: ...``; its first window is mostly the cost of the screenshot itself)."""
    times: dict[str, list[float]] = {"cold": []}
    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        empty, png = Path(tmp) / "empty.html", Path(tmp) / "x.png"
        empty.write_text("<!doctype html><html><body></body></html>\n")
        for r in range(rounds):
            order = [report, empty][r % 2:] + [report, empty][:r % 2]
            cold = {page: cold_run(binary, page, browser.size, png) for page in order}
            times["cold"].append(cold[report] - cold[empty])
            for page in order:
                opened = browser.open(page.resolve().as_uri())
                start = time.perf_counter()
                browser.screenshot(png)
                prefix = "empty: " if page == empty else ""
                times.setdefault(f"{prefix}load event", []).append(opened["load event"])
                times.setdefault(f"{prefix}first window", []).append(opened["wall"]
                                                                     + (time.perf_counter() - start) * 1000)
    return dict(sorted(times.items(), key=lambda item: item[0].startswith("empty")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a report.html")
    parser.add_argument("--out", type=Path, help="folder for the screenshots (default: REPORT_DIR/screenshots)")
    parser.add_argument("--cell", action="append", default=[], metavar="ID",
                        help="drill-down section to open, e.g. cell-0-3-2 (default: the first and the last cell)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (default 3)")
    parser.add_argument("--size", default="1400,2400", help="window size WIDTH,HEIGHT (default 1400,2400)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser (default {CHROMIUM})")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"{args.report}: no such file", file=sys.stderr)
        return 2
    if shutil.which(args.chromium) is None:
        print(f"{args.chromium}: not found; install the Debian package chromium or pass --chromium", file=sys.stderr)
        return 2
    size = tuple(int(v) for v in args.size.split(","))
    out = args.out or args.report.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    ids = cells(args.report.read_text())
    targets = args.cell or list(dict.fromkeys(ids[:1] + ids[-1:]))
    print(page_facts(args.report))
    with Browser(args.chromium, size) as browser:
        for path in screenshots(browser, args.report, out, targets):
            print(f"screenshot: {path}")
        width, height = browser.evaluate("[document.body.scrollWidth, document.body.scrollHeight]")
        print(f"laid out: {width} x {height} px")
        times = load_times(args.chromium, browser, args.report, args.rounds)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load time, median (min–max) over {args.rounds} rounds, window {args.size}, load average {load}:")
    for key, values in times.items():
        unit = "s " if key == "cold" else "ms"
        print(f"  {key:18s} {statistics.median(values):9.2f} {unit} ({min(values):.2f}–{max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
