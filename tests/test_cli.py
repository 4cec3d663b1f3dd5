"""The command line's front door, through the real CLI: help, typos, option help, limits."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests import harness


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return harness.run_command(harness.preflight_argv(*args), harness.minimal_env(tmp_path))


def flat(text: str) -> str:
    return " ".join(text.split())


def test_bare_preflight_prints_the_help_laid_out_not_an_error_line(tmp_path: Path) -> None:
    done = run_cli(tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "Usage: preflight [OPTIONS] COMMAND [ARGS]...", done.stderr
    assert "preflight: error:" not in done.stderr
    commands = [line.split()[0] for line in lines[lines.index("Commands:") + 1:] if line.strip()]
    assert commands == ["audit", "aws-credentials", "check", "exec", "explain", "probe", "profile",
                        "schema", "serve"], done.stderr
    assert len(lines) > 10


def test_a_mistyped_command_suggests_the_right_one_and_the_group_help(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "chek")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    line = done.stderr.strip()
    assert line.startswith("preflight: error: No such command 'chek'."), line
    assert "'check'" in line
    assert line.endswith("(see 'preflight --help')"), line
    assert "chek --help" not in line


def test_an_error_inside_a_command_points_at_that_commands_help(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check", "--no-such-option")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("(see 'preflight check --help')"), done.stderr


def option_help(help_text: str, flag: str) -> str:
    """The help paragraph of one option, whitespace flattened."""
    text = flat(help_text)
    start = text.index(f" {flag} ")
    following = re.search(r" --?[a-z][a-z-]* [A-Z]", text[start + len(flag) + 2:])
    end = start + len(flag) + 2 + following.start() if following else len(text)
    return text[start:end]


def test_format_help_lists_every_format(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check", "--help")
    assert done.returncode == 0, done.stderr
    described = option_help(done.stdout, "--format")
    for name in ("text", "json", "junit", "tap"):
        assert re.search(rf"\b{name}\b", described), described


def test_check_selection_help_lists_the_check_names(tmp_path: Path) -> None:
    from preflight.checks import NAMES

    done = run_cli(tmp_path, "check", "--help")
    assert done.returncode == 0, done.stderr
    for flag in ("--only", "--skip", "--ignore"):
        described = option_help(done.stdout, flag)
        for name in NAMES:
            assert name in described, (flag, described)
    assert tuple(harness.CHECK_NAMES) == NAMES


def test_attempt_timeout_longer_than_the_deadline_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check", "--timeout", "3", "--attempt-timeout", "5")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    line = done.stderr.strip()
    assert len(done.stderr.splitlines()) == 1
    assert line.startswith("preflight: error: --attempt-timeout:"), line
    assert "--timeout" in line.removeprefix("preflight: error: --attempt-timeout:"), line


def test_attempt_timeout_from_the_environment_is_named_too(tmp_path: Path) -> None:
    env = harness.minimal_env(tmp_path) | {"PREFLIGHT_ATTEMPT_TIMEOUT": "61"}
    done = harness.run_command(harness.preflight_argv("explain"), env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("preflight: error: PREFLIGHT_ATTEMPT_TIMEOUT:"), done.stderr
    assert "--timeout" in done.stderr


def test_attempt_timeout_equal_to_the_deadline_is_fine(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "explain", "--timeout", "5", "--attempt-timeout", "5")
    assert done.returncode == 0, done.stderr


def test_a_short_deadline_bounds_the_default_attempt_timeout(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "explain", "--format", "json", "--timeout", "2")
    assert done.returncode == 0, done.stderr
    assert '"attempt_timeout_s": 2.0' in done.stdout
