"""`make system-deps` (scripts/system-deps.sh): what it installs, and when it only says how.

The script runs with a PATH of stand-ins: the tools it looks for exist or not as each test
says, `id` says root or not, and `apt-get` / `apt-cache` record their arguments instead of
touching the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests import harness

SCRIPT = harness.REPO / "scripts" / "system-deps.sh"
TOOLS = ("java", "redis-server", "chromium", "npm", "gcloud")
RECORDER = '#!/bin/bash\necho "$(basename "$0") $*" >> "$APT_LOG"\n'


def run(tmp_path: Path, present: tuple[str, ...], *, root: bool = True, emulator: bool = True,
        google_source: bool = True, demo: bool = False,
        ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "realpath", "basename"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    for tool in present:
        (bin_dir / tool).write_text("#!/bin/bash\n")
    (bin_dir / "id").write_text(f"#!/bin/bash\necho {0 if root else 1000}\n")
    (bin_dir / "apt-get").write_text(RECORDER)
    (bin_dir / "apt-cache").write_text(RECORDER + ("" if google_source else "exit 100\n"))
    for stand_in in bin_dir.iterdir():
        if not stand_in.is_symlink():
            stand_in.chmod(0o755)
    sdk = tmp_path / "sdk"
    if emulator:
        jar = sdk / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
        jar.parent.mkdir(parents=True)
        jar.write_bytes(b"")
    log = tmp_path / "apt.log"
    done = subprocess.run([str(bin_dir / "bash"), str(SCRIPT), *(["demo"] if demo else [])],
                          capture_output=True, text=True,
                          timeout=30, check=False, cwd=harness.REPO,
                          env={"PATH": str(bin_dir), "CLOUDSDK_ROOT": str(sdk),
                               "APT_LOG": str(log)})
    return done, log.read_text().splitlines() if log.exists() else []


def test_nothing_missing_is_quiet_and_calls_no_apt(tmp_path: Path) -> None:
    done, apt = run(tmp_path, TOOLS, root=False)
    assert (done.returncode, done.stdout, done.stderr, apt) == (0, "", "", [])


def test_as_root_on_debian_it_installs_exactly_what_is_missing(tmp_path: Path) -> None:
    done, apt = run(tmp_path, ("java", "chromium", "gcloud"))
    assert done.returncode == 0, done.stderr
    assert apt == ["apt-get update -qq", "apt-get install -y -qq redis-server nodejs npm"]
    assert done.stderr == "make system-deps: installing redis-server nodejs npm\n"


def test_without_root_it_names_the_command_in_one_line_and_fails(tmp_path: Path) -> None:
    done, apt = run(tmp_path, ("java", "chromium", "npm", "gcloud"), root=False)
    assert done.returncode == 1
    assert apt == []
    assert done.stderr == ("make system-deps: missing redis-server: run as root on Debian: "
                           "apt-get update && apt-get install -y redis-server\n")


def test_the_emulator_without_googles_apt_source_is_named_not_attempted(tmp_path: Path) -> None:
    done, apt = run(tmp_path, TOOLS, emulator=False, google_source=False)
    assert done.returncode == 1
    assert apt == ["apt-get update -qq",
                   "apt-cache show google-cloud-cli-firestore-emulator"]
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "add Google's apt repository" in done.stderr
    assert done.stderr.rstrip().endswith(
        "then run: apt-get update && apt-get install -y google-cloud-cli-firestore-emulator")


def test_the_demo_needs_no_browser_node_or_cli(tmp_path: Path) -> None:
    """make demo runs Java, the emulator's jar and Redis only."""
    done, apt = run(tmp_path, ("java", "redis-server"), root=False, demo=True)
    assert (done.returncode, done.stderr, apt) == (0, "", [])


def test_the_demo_names_what_it_misses_as_make_demo(tmp_path: Path) -> None:
    done, apt = run(tmp_path, ("java",), root=False, demo=True)
    assert (done.returncode, apt) == (1, [])
    assert done.stderr == ("make demo: missing redis-server: run as root on Debian: "
                           "apt-get update && apt-get install -y redis-server\n")


def test_make_test_and_ci_use_the_target() -> None:
    makefile = (harness.REPO / "Makefile").read_text()
    assert any(line.startswith("test:") and "system-deps" in line.split()
               for line in makefile.splitlines())
    demo = makefile[makefile.index("\ndemo:"):].split("\n\n")[0]
    assert "scripts/system-deps.sh demo" in demo
    ci = (harness.REPO / ".ci" / "run").read_text()
    assert "make system-deps" in ci and "apt-get" not in ci
    assert os.access(SCRIPT, os.R_OK)
