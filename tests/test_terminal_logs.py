"""Logs on a terminal are for people; off one they are JSON for the log platform.

stdout and stderr are each a real pseudo-terminal (python's `pty`) or a pipe, as a person's
shell, `make demo` under a harness, or a pod would give them.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import threading

import pytest

from tests import harness
from tests.conftest import Stack

pytestmark = pytest.mark.integration

EVENT = re.compile(r"^\d\d:\d\d:\d\d \[(\w+)\s*\] (\w[\w ]*?)(?: \w+=|$)")


def run(stack: Stack, *args: str, stdout_tty: bool, stderr_tty: bool,
        no_color: bool = True) -> tuple[int, str, list[str]]:
    """`preflight check ARGS`: its exit code, stdout, and stderr's lines (NO_COLOR set
    unless `no_color` is false)."""
    ends = {}
    for name, tty in (("stdout", stdout_tty), ("stderr", stderr_tty)):
        ends[name] = pty.openpty() if tty else os.pipe()  # (read end, the child's end)
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}

    def drain(name: str) -> None:
        while True:
            try:
                chunk = os.read(ends[name][0], 65536)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not chunk:
                return
            chunks[name].append(chunk)

    env = stack.env(NO_COLOR="1" if no_color else None)
    process = subprocess.Popen(harness.preflight_argv("check", *args), env=env,
                               stdin=subprocess.DEVNULL, stdout=ends["stdout"][1],
                               stderr=ends["stderr"][1], start_new_session=True)
    readers = [threading.Thread(target=drain, args=(name,), daemon=True) for name in ends]
    for name, reader in zip(ends, readers, strict=True):
        os.close(ends[name][1])
        reader.start()
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    for reader in readers:
        reader.join(10)
    for read_end, _ in ends.values():
        os.close(read_end)
    text = {name: b"".join(parts).decode().replace("\r\n", "\n") for name, parts in
            chunks.items()}
    return code, text["stdout"], [line for line in text["stderr"].splitlines() if line]


def events(lines: list[str]) -> list[tuple[str, str]]:
    """(level, message) of every line rendered for reading; a line that is not fails."""
    found = []
    for line in lines:
        match = EVENT.match(line)
        assert match, f"not a line rendered for reading: {line!r}"
        found.append((match.group(1), match.group(2)))
    return found


def test_text_at_a_terminal_logs_only_warnings_and_errors_rendered_for_reading(
        stack: Stack) -> None:
    stack.seed()  # passes with the healthy stack's first-use warnings
    code, stdout, stderr = run(stack, "--format", "text", stdout_tty=False, stderr_tty=True)
    assert code == 0, stderr
    assert stdout.startswith("preflight PASS")
    assert events(stderr) == [("warning", "verdict")]


def test_the_live_view_at_a_terminal_leaves_the_log_to_errors(stack: Stack) -> None:
    stack.seed()
    stack.doc("kpi-t_system-dev").delete()
    code, stdout, stderr = run(stack, stdout_tty=True, stderr_tty=True)
    assert code == 1
    assert "preflight FAIL (exit 1)" in stdout
    assert events(stderr) == [("error", "verdict")]


def test_a_chosen_level_is_kept_at_a_terminal(stack: Stack) -> None:
    stack.seed()
    code, _, stderr = run(stack, "--format", "text", "--log-level", "info", stdout_tty=False,
                          stderr_tty=True)
    assert code == 0
    logged = events(stderr)
    assert ("info", "preflight started") in logged
    assert ("info", "check finished") in logged


def test_json_at_a_terminal_keeps_the_info_lines_rendered_for_reading(stack: Stack) -> None:
    stack.seed()
    code, stdout, stderr = run(stack, "--format", "json", stdout_tty=False, stderr_tty=True)
    assert code == 0
    assert json.loads(stdout)["status"] == "pass"
    assert ("info", "preflight started") in events(stderr)


def test_off_a_terminal_the_log_is_json_even_when_stdout_is_one(stack: Stack) -> None:
    """`make demo` under a harness that gives stdout a terminal and stderr a pipe: the log
    stays JSON with its severity (what pods and Cloud Run need); the live view keeps it to
    errors."""
    stack.seed()
    stack.doc("kpi-t_system-dev").delete()
    code, stdout, stderr = run(stack, stdout_tty=True, stderr_tty=False)
    assert code == 1
    assert "preflight FAIL (exit 1)" in stdout
    logged = [json.loads(line) for line in stderr]
    assert [(e["severity"], e["message"]) for e in logged] == [("ERROR", "verdict")]


@pytest.mark.parametrize(("flag", "coloured"), [((), True), (("--no-color",), False)])
def test_no_color_takes_the_colour_out_of_the_log_too(stack: Stack, flag: tuple[str, ...],
                                                      coloured: bool) -> None:
    stack.seed()
    code, _, stderr = run(stack, "--format", "text", *flag, stdout_tty=False,
                          stderr_tty=True, no_color=False)
    assert code == 0, stderr
    assert any("\x1b[" in line for line in stderr) is coloured, stderr
    if not coloured:
        assert events(stderr) == [("warning", "verdict")]
