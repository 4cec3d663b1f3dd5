"""Which Python the command `preflight exec` starts will run: where the engines' client
libraries are checked (docs/ENGINES.md §5.9).

Found, never guessed: --engines-python / PREFLIGHT_ENGINES_PYTHON when given; else the
command itself when it is a Python interpreter (`python3 -m uvicorn …`); else the
interpreter its shebang names — a console script's `#!/opt/venv/bin/python3`,
`#!/usr/bin/env python3` resolved on the command's PATH, or pip's `/bin/sh` trampoline for
long paths. Anything else (a shell script, a binary) is None: then the check says it
cannot tell.
"""

from __future__ import annotations

import os
import re
import shutil

from preflight.core.errors import ConfigError

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
# pip's launcher for interpreter paths too long for a shebang: a shell line that execs it.
_TRAMPOLINE = re.compile(r"""^'''exec' "?([^" ]+)"? "\$0" "\$@"\s*$""")
FIRST_LINES = 512  # bytes: a shebang and pip's trampoline fit


def _is_python(path: str) -> bool:
    return bool(_PYTHON.fullmatch(os.path.basename(path)))


def _from_shebang(executable: str, path_env: str | None) -> str | None:
    try:
        with open(executable, "rb") as script:
            head = script.read(FIRST_LINES).decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    if not head or not head[0].startswith("#!"):
        return None
    words = head[0][2:].split()
    if not words:
        return None
    interpreter: str | None = words[0]
    if os.path.basename(words[0]) == "env":
        named = [word for word in words[1:] if not word.startswith("-")]
        interpreter = shutil.which(named[0], path=path_env) if named else None
    elif os.path.basename(words[0]) == "sh" and len(head) > 1:
        found = _TRAMPOLINE.match(head[1])
        interpreter = found.group(1) if found else None
    return interpreter if interpreter and _is_python(interpreter) else None


def find(executable: str, explicit: str | None, path_env: str | None,
         where: str = "--engines-python") -> str | None:
    """The engines' interpreter for `executable` (a resolved path), or None if unknown.
    `explicit` (named by `where`) must be an executable file."""
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise ConfigError(where, "the path of an executable Python", explicit)
        return explicit
    if _is_python(executable):
        return executable
    return _from_shebang(executable, path_env)
