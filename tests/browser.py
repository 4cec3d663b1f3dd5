"""A real headless Chromium, driven through the DevTools protocol over a pipe.

`--remote-debugging-pipe` gives the protocol on file descriptors 3 (commands in) and 4
(events and answers out), NUL-separated JSON: no port, no WebSocket library, nothing that
could reach past this process. Chromium runs in its own process group with a fresh profile
folder, started with the flags a closed network needs, and is stopped as a group.

A missing Chromium fails loudly with the command that installs it; it is never a skip.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

INSTALL = "apt-get install -y chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio")


# Set before the page's own scripts run: the time from the navigation's start to the frame
# after the one that first showed the page ready (`body[data-ready]`), so that frame's style,
# layout and paint are done. requestAnimationFrame alone would stop before them.
DRAWN = """(() => {
  const tick = () => {
    if (document.body && document.body.dataset.ready) {
      requestAnimationFrame(() => { window.__drawnMs = performance.now(); });
    } else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()"""


class MissingBrowser(RuntimeError):
    pass


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise MissingBrowser(f"Chromium is not installed: the HTML report is tested in a real "
                         f"headless browser ({INSTALL})")


class Browser:
    """One Chromium; `page()` opens a tab attached through a flat session."""

    def __init__(self, width: int = 1360, height: int = 900) -> None:
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="preflight-chromium-"))
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # The protocol wants fds 3 and 4: bash moves the pipes there, then execs (not sh:
        # dash cannot name a file descriptor above 9, and under pytest the pipes are above).
        wiring = f'exec "$0" "$@" 3<&{commands_read} 4>&{answers_write}'
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", wiring, chromium_path(), *FLAGS,
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(commands_read, answers_write), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(commands_read)
        os.close(answers_write)
        self._next = 0
        self._buffer = b""
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._stderr: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def _tail(self) -> str:
        lines = [line for line in self._stderr if b"dbus" not in line]
        return b"".join(lines[-20:]).decode(errors="replace")

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            ident = self._next
            message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            try:
                os.write(self._commands, json.dumps(message).encode() + b"\0")
            except BrokenPipeError:
                raise RuntimeError(f"Chromium is gone (exit {self.process.poll()}) before "
                                   f"{method}:\n{self._tail()}") from None
            deadline = time.monotonic() + timeout
            while True:
                while b"\0" in self._buffer:
                    raw, self._buffer = self._buffer.split(b"\0", 1)
                    answer = json.loads(raw)
                    if answer.get("id") == ident:
                        if "error" in answer:
                            raise RuntimeError(f"{method}: {answer['error']}")
                        result: dict[str, Any] = answer.get("result", {})
                        return result
                    if "method" in answer:
                        self.events.append(answer)
                remaining = deadline - time.monotonic()
                readable, _, _ = select.select([self._answers], [], [], max(remaining, 0))
                if not readable:
                    raise TimeoutError(f"{method}: no answer within {timeout}s")
                chunk = os.read(self._answers, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe during {method}:\n"
                                       f"{self._tail()}")
                self._buffer += chunk

    def page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        page = Page(self, session, target)
        page.call("Page.enable")
        page.call("Network.enable")
        page.call("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height, "deviceScaleFactor": 1,
            "mobile": False})
        return page

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target

    def call(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        return self.browser.send(method, params, self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True},
                           timeout)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, what: str = "") -> Any:
        """Polls until the expression is truthy (bounded), then returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            # A page busy drawing answers only when done: the wait is bounded, not each call.
            value = self.evaluate(expression, max(deadline - time.monotonic(), 1.0))
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what or expression}: not within {timeout}s")
            time.sleep(0.05)

    def open(self, url: str, ready: str = "document.body && document.body.dataset.ready",
             timeout: float = 60.0) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for(ready, timeout, f"{url} ready")

    def to_front(self) -> None:
        """Makes this the tab in front: a tab behind others is drawn no frame (and its
        requestAnimationFrame callbacks never run)."""
        self.call("Page.bringToFront")

    def before_scripts(self, source: str) -> None:
        """Runs `source` in every document this page opens, before the document's scripts."""
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def open_drawn(self, url: str, timeout: float = 120.0) -> float:
        """Opens the URL; the milliseconds until the page is ready and drawn (see DRAWN)."""
        self.before_scripts(DRAWN)
        self.to_front()
        self.call("Page.navigate", {"url": url})
        drawn: float = self.wait_for("window.__drawnMs", timeout, f"{url} drawn")
        return drawn

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requests(self) -> list[str]:
        """Every URL this page asked the network for."""
        return [event["params"]["request"]["url"] for event in self.browser.events
                if event.get("method") == "Network.requestWillBeSent"
                and event.get("sessionId") == self.session]


@contextlib.contextmanager
def running(width: int = 1360, height: int = 900) -> Iterator[Browser]:
    browser = Browser(width, height)
    try:
        yield browser
    finally:
        browser.close()
