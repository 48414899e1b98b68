"""Load HTML pages in headless Chromium (remote debugging protocol) and check
that they rendered: no console error, uncaught exception, error log entry or
failed load; every <img> decoded (naturalWidth > 0, no broken-image icon); and
every plot (<img>, top-level inline <svg>) has a box with non-blank pixels in a
full-page screenshot.

    python browser_check.py --chromium PATH [--shots DIR] PAGE.html...
    python browser_check.py --chromium PATH --self-test PAGE.html

--self-test derives broken copies of PAGE (a JS exception, a console.error, an
<img> of a missing file, a plot emptied to its white background) and checks
that each is caught for its reason, and that PAGE itself passes.

Exit status: 0 all pages pass, 1 a check failed, 3 Chromium did not start.
Used by scripts/test_report_browser.sh.
"""

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client
from PIL import Image

WIDTH = 1400
# A plot's box is blank when fewer than this fraction of its pixels differ
# from its most common colour (its background).
MIN_INK = 0.005


class ChromiumError(Exception):
    pass


class Browser:
    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="mmclust-chromium-")
        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                "--remote-debugging-port=0", "--remote-allow-origins=*",
                f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip()
                self.close()
                raise ChromiumError(f"exited {self.proc.returncode}: {err[-500:]}")
            if time.time() > deadline:
                self.close()
                raise ChromiumError("no DevToolsActivePort after 60 s")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []

    def close(self):
        if getattr(self, "ws", None):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise ChromiumError(f"{method}: {msg['error']}")
                return msg["result"]
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == name:
                    del self.events[i]
                    return e
            self.ws.settimeout(max(0.05, deadline - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self.ws.settimeout(60)
            if "method" in msg:
                self.events.append(msg)
        return None

    def drain(self, seconds):
        """Collects the events that arrive within `seconds`."""
        self.wait_event("__none__", seconds)

    def evaluate(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise ChromiumError(f"evaluate: {r['exceptionDetails']}")
        return r["result"].get("value")


# The plots: every <img>, every <svg> not inside another one; a name for each.
PLOTS_JS = r"""
(async () => {
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const els = [...document.querySelectorAll('img, svg')]
    .filter(e => !(e.parentElement && e.parentElement.closest('svg')));
  return els.map((e, i) => {
    const r = e.getBoundingClientRect();
    const tag = e.tagName.toLowerCase();
    let name;
    if (tag === 'img') name = e.getAttribute('alt') || e.getAttribute('src');
    else { const t = e.querySelector('text'); name = t ? t.textContent : ''; }
    const fig = e.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    if (!name && cap) name = cap.textContent;
    return {index: i, tag, name: (name || '').trim().slice(0, 70),
            src: tag === 'img' ? e.getAttribute('src') : null,
            x: r.left + window.scrollX, y: r.top + window.scrollY,
            w: r.width, h: r.height,
            complete: tag === 'img' ? e.complete : null,
            naturalWidth: tag === 'img' ? e.naturalWidth : null};
  });
})()
"""


def console_problems(events):
    out = []
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in events if e["method"] == "Network.requestWillBeSent"}
    for e in events:
        m, p = e["method"], e["params"]
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {text}")
        elif m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            out.append(f"uncaught exception (line {d.get('lineNumber', 0) + 1}): {desc.splitlines()[0] if desc else ''}")
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            en = p["entry"]
            out.append(f"log error ({en.get('source')}): {en.get('text')} {en.get('url', '')}".rstrip())
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"failed load: {p.get('errorText')} ({p.get('type')}: {urls.get(p['requestId'], '?')})")
        elif m == "Network.responseReceived":
            st = p["response"].get("status", 0)
            if st >= 400:
                out.append(f"HTTP {st}: {p['response'].get('url')}")
    return out


def check_page(b, page, shots=None):
    """Returns (problems, plots) for one page."""
    b.events.clear()
    url = Path(page).resolve().as_uri()
    b.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
           deviceScaleFactor=1, mobile=False)
    b.send("Page.navigate", url=url)
    if b.wait_event("Page.loadEventFired", 60) is None:
        return [f"no load event within 60 s ({url})"], []
    plots = b.evaluate(PLOTS_JS)
    b.drain(0.3)  # late errors
    problems = console_problems(b.events)
    # A viewport as tall as the page: every plot is in one screenshot.
    height = int(b.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
    b.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=max(height, 100),
           deviceScaleFactor=1, mobile=False)
    plots = b.evaluate(PLOTS_JS)
    shot = b.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    if shots:
        os.makedirs(shots, exist_ok=True)
        Path(shots, Path(page).parent.name + "-" + Path(page).stem + ".png").write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if not plots:
        problems.append("no plot (<img> or <svg>) on the page")
    for p in plots:
        what = f"plot {p['index'] + 1} <{p['tag']}> '{p['name']}'"
        if p["tag"] == "img" and not (p["complete"] and p["naturalWidth"] > 0):
            problems.append(f"{what}: broken image (src {p['src']}, naturalWidth {p['naturalWidth']})")
            continue
        x0, y0 = max(0, round(p["x"])), max(0, round(p["y"]))
        x1, y1 = min(img.width, round(p["x"] + p["w"])), min(img.height, round(p["y"] + p["h"]))
        if x1 - x0 < 10 or y1 - y0 < 10:
            problems.append(f"{what}: box {p['w']:.0f}x{p['h']:.0f} at ({p['x']:.0f},{p['y']:.0f}) is empty or off the page")
            continue
        box = img.crop((x0, y0, x1, y1))
        colours = box.getcolors(box.width * box.height)
        ink = 1 - max(c for c, _ in colours) / (box.width * box.height)
        if ink < MIN_INK:
            problems.append(f"{what}: blank ({ink:.2%} of the {x1 - x0}x{y1 - y0} box differs from its background)")
        p["ink"] = ink
    return problems, plots


def self_test(b, page):
    """Broken copies of `page`, each of which must fail for its reason."""
    html = Path(page).read_text()
    assert "</body>" in html and "<svg" in html, f"{page}: no </body> or <svg>"
    start = html.index("<svg")
    end = html.index("</svg>", start) + len("</svg>")
    head = html[start:html.index(">", start) + 1]
    blank_svg = head + '<rect x="0" y="0" width="100%" height="100%" fill="white"/></svg>'
    cases = {
        "js-exception": (html.replace("</body>", "<script>window.noSuchFunction();</script></body>"),
                         "uncaught exception"),
        "console-error": (html.replace("</body>", "<script>console.error('deliberate');</script></body>"),
                          "console.error"),
        "missing-image": (html.replace("</body>", '<figure><img alt="missing plot" src="no-such-plot.png"></figure></body>'),
                          "broken image"),
        "blank-plot": (html[:start] + blank_svg + html[end:], "blank"),
    }
    ok = True
    problems, plots = check_page(b, page)
    if problems:
        print(f"FAIL self-test: the unmodified page {page} fails: {problems}")
        ok = False
    else:
        print(f"ok   self-test: the unmodified page passes ({len(plots)} plots)")
    with tempfile.TemporaryDirectory(dir=Path(page).parent) as d:
        for name, (text, want) in cases.items():
            p = Path(d, f"{name}.html")
            p.write_text(text)
            problems, _ = check_page(b, p)
            hit = [m for m in problems if want in m]
            if hit:
                print(f"ok   self-test {name}: caught: {hit[0]}")
            else:
                print(f"FAIL self-test {name}: expected a '{want}' problem, got {problems}")
                ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--shots", help="folder for the full-page screenshots")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("pages", nargs="+")
    a = ap.parse_args()
    try:
        b = Browser(a.chromium)
    except ChromiumError as e:
        print(f"chromium did not start: {e}")
        return 3
    try:
        version = b.send("Browser.getVersion")["product"]
        print(f"browser: {version}")
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable")
        if a.self_test:
            return 0 if all(self_test(b, p) for p in a.pages) else 1
        fail = False
        for page in a.pages:
            problems, plots = check_page(b, page, a.shots)
            if problems:
                fail = True
                for m in problems:
                    print(f"FAIL {page}: {m}")
            else:
                imgs = sum(p["tag"] == "img" for p in plots)
                low = min(p["ink"] for p in plots)
                print(f"ok   {page}: {len(plots)} plots ({imgs} <img>, {len(plots) - imgs} <svg>) "
                      f"rendered (least ink {low:.1%}), no console error or failed load")
        return 1 if fail else 0
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
