#!/usr/bin/env python3
"""Take a headless-Chromium screenshot of the real system's pages after *real* seconds, standard
library only.

`chromium --screenshot --virtual-time-budget=...` never finishes on these pages,
because virtual time is paused while a network fetch is pending and the SSE
stream (/api/v1/stream) never ends. This helper drives Chromium over the
DevTools protocol on a pipe (--remote-debugging-pipe: fds 3/4, NUL-delimited
JSON), signs in through the sign-in page if asked (--login), waits wall-clock
time, optionally runs JS steps, and captures a PNG. It also prints console
messages and uncaught exceptions from the page.

Examples (a system started with `make up` on port 8000):
  python tests/console_ui/screenshot.py http://127.0.0.1:8000/ /tmp/console.png --login demo-operator --wait 5
  python tests/console_ui/screenshot.py 'http://127.0.0.1:8000/#case=<id>' /tmp/panel.png --login demo-operator --wait 4
  python tests/console_ui/screenshot.py http://127.0.0.1:8000/workbench /tmp/workbench.png --login demo-department
  python tests/console_ui/screenshot.py http://127.0.0.1:8000/check /tmp/check.png --login demo-gridworker \\
      --size 375x812 --mobile
  python tests/console_ui/screenshot.py http://127.0.0.1:8000/ /tmp/search.png --login demo-operator --wait 3 \\
      --eval "document.getElementById('search').value='路灯';document.getElementById('search').dispatchEvent(new Event('input'))" \\
      --step-wait 1
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import queue
import urllib.parse


class Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int) -> None:
        self.proc = proc
        self.wf = os.fdopen(write_fd, "wb", buffering=0)
        self.rf = os.fdopen(read_fd, "rb", buffering=0)
        self.next_id = 0
        self.lock = threading.Lock()
        self.waiters: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buf = b""
        while True:
            chunk = self.rf.read(65536)
            if not chunk:
                self.events.put({"method": "__closed__"})
                for q in list(self.waiters.values()):
                    q.put({"error": {"message": "pipe closed"}})
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self.waiters:
                    self.waiters.pop(msg["id"]).put(msg)
                else:
                    self.events.put(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        with self.lock:
            self.next_id += 1
            mid = self.next_id
            q: queue.Queue = queue.Queue()
            self.waiters[mid] = q
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.wf.write(json.dumps(msg).encode() + b"\0")
        try:
            res = q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(method) from None
        if "error" in res:
            raise RuntimeError(f"{method}: {res['error']}")
        return res.get("result", {})


def drain(pipe: Pipe, seconds: float, log: list[str], until: str | None = None) -> bool:
    """Consume events for `seconds` (or until method `until` arrives); collect console output."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ev = pipe.events.get(timeout=left)
        except queue.Empty:
            return False
        method = ev.get("method")
        p = ev.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            log.append(f"console.{p.get('type')}: {args}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            log.append(f"EXCEPTION: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            log.append(f"log.{e.get('level')}: {e.get('text')} {e.get('url', '')}".rstrip())
        if until and method == until:
            return True
        if method == "__closed__":
            return False


def sign_in(pipe: Pipe, sid: str, url: str, username: str, password: str, log: list[str]) -> None:
    """Sign in through the real sign-in page (the session cookie stays in this browser)."""
    parts = urllib.parse.urlsplit(url)
    login = f"{parts.scheme}://{parts.netloc}/login"
    pipe.call("Page.navigate", {"url": login}, sid)
    if not drain(pipe, 20, log, until="Page.loadEventFired"):
        log.append("warning: sign-in page not loaded within 20 s")
    fill = (
        "(() => { const u = document.getElementById('username'), p = document.getElementById('password');"
        f" u.value = {json.dumps(username)}; p.value = {json.dumps(password)};"
        " document.getElementById('login-submit').disabled = false;"
        " document.getElementById('login-submit').click(); return true; })()"
    )
    pipe.call("Runtime.evaluate", {"expression": fill, "returnByValue": True}, sid)
    # The page goes to "/" once the server has set the cookie; a refusal stays on /login.
    if not drain(pipe, 15, log, until="Page.loadEventFired"):
        res = pipe.call(
            "Runtime.evaluate",
            {"expression": "(document.getElementById('login-error') || {}).textContent || ''", "returnByValue": True},
            sid,
        )
        raise SystemExit(f"sign-in as {username} failed: {res.get('result', {}).get('value') or 'no answer'}")
    # Leave the page the sign-in went to (it may redirect by role): the next navigation then loads a
    # fresh document, even when the URL only differs from it by its #fragment.
    drain(pipe, 1.5, log)
    pipe.call("Page.navigate", {"url": "about:blank"}, sid)
    drain(pipe, 5, log, until="Page.loadEventFired")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--size", default="1600x1000", help="viewport WxH")
    ap.add_argument("--wait", type=float, default=4.0, help="seconds to wait after the load event")
    ap.add_argument("--eval", action="append", default=[], help="JS to run after --wait (repeatable)")
    ap.add_argument("--step-wait", type=float, default=1.0, help="seconds to wait after each --eval")
    ap.add_argument("--full-page", action="store_true", help="capture beyond the viewport")
    ap.add_argument("--mobile", action="store_true", help="emulate a phone (touch, viewport meta tag)")
    ap.add_argument("--login", metavar="USERNAME", help="sign in as USERNAME through /login first")
    ap.add_argument(
        "--password",
        default=os.environ.get("GRIDCASE_SHOT_PASSWORD", "Demo@2026"),
        help="password for --login (default: $GRIDCASE_SHOT_PASSWORD, else the demo accounts' Demo@2026)",
    )
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    profile = tempfile.mkdtemp(prefix="gridcase-shot-")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # Chromium expects to read commands on fd 3 and write replies on fd 4.
    def setup_fds() -> None:
        r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)  # move out of the way of 3/4 first
        w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.dup2(r, 3, inheritable=True)
        os.dup2(w, 4, inheritable=True)

    cmd = [
        args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
        "--remote-debugging-pipe", "about:blank",
    ]
    proc = subprocess.Popen(cmd, preexec_fn=setup_fds, pass_fds=(3, 4),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = Pipe(proc, to_chrome_w, from_chrome_r)
    log: list[str] = []
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": args.mobile}, sid)
        for domain in ("Page", "Runtime", "Log"):
            pipe.call(f"{domain}.enable", {}, sid)
        if args.login:
            sign_in(pipe, sid, args.url, args.login, args.password, log)
        pipe.call("Page.navigate", {"url": args.url}, sid)
        if not drain(pipe, 20, log, until="Page.loadEventFired"):
            log.append("warning: load event not seen within 20 s")
        drain(pipe, args.wait, log)
        for js in args.eval:
            res = pipe.call("Runtime.evaluate", {"expression": js, "awaitPromise": True, "returnByValue": True}, sid)
            if res.get("exceptionDetails"):
                log.append(f"eval error: {res['exceptionDetails'].get('exception', {}).get('description')}")
            elif "value" in res.get("result", {}):
                log.append(f"eval -> {res['result']['value']}")
            drain(pipe, args.step_wait, log)
        params = {"format": "png"}
        if args.full_page:
            params["captureBeyondViewport"] = True
        data = pipe.call("Page.captureScreenshot", params, sid)["data"]
        with open(args.out, "wb") as fh:
            fh.write(base64.b64decode(data))
        print(f"wrote {args.out}")
        try:
            pipe.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - browser may already be gone
            pass
    finally:
        for line in log:
            print(line)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
