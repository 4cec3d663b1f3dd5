"""The scaling plot: routing validation time and Firestore RPCs vs scopes, log scales."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

MATPLOTLIB = "matplotlib>=3.8"


def ensure_matplotlib(install: bool) -> str | None:
    """matplotlib's version, installing it into this interpreter's venv if allowed and missing.

    A bench-time dependency only: preflight itself never imports it.
    """
    try:
        import matplotlib
    except ImportError:
        if not install:
            return None
        print(f"bench: installing {MATPLOTLIB} into {sys.prefix} (bench-time only)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", MATPLOTLIB], check=True)
        import matplotlib
    return str(matplotlib.__version__)


def scaling_plot(validation: list[dict[str, Any]], large_docs: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(who: str, collection: str, *, extrapolated: bool | None = None,
               key: str = "ms") -> tuple[list[int], list[float]]:
        rows = sorted((row for row in validation
                       if row["who"] == who and row["collection"] == collection
                       and row["kinds"] == 17
                       and (extrapolated is None or row["extrapolated"] is extrapolated)),
                      key=lambda row: row["scopes"])
        return [row["scopes"] for row in rows], [row[key] for row in rows]

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    colours = {"preflight": "#1f77b4", "engines": "#d62728"}

    x, y = series("preflight", "large")
    left.plot(x, y, "o-", color=colours["preflight"], label="preflight (measured)")
    x, y = series("engines", "large", extrapolated=False)
    left.plot(x, y, "s-", color=colours["engines"], label="engines' loop (measured)")
    all_x, all_y = series("engines", "large")
    if any(row["extrapolated"] for row in validation if row["who"] == "engines"):
        left.plot(all_x, all_y, "s--", color=colours["engines"], alpha=0.55,
                  markerfacecolor="none", label="engines' loop (extrapolated, linear)")
    for who, marker in (("preflight", "o"), ("engines", "s")):
        x, y = series(who, "small")
        if x:
            left.plot(x, y, marker, color=colours[who], markerfacecolor="none", markersize=10,
                      label=f"{'preflight' if who == 'preflight' else 'engines'}: 17-doc "
                      "collection")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("scopes validated (× 17 kinds)")
    left.set_ylabel("routing validation time, ms (median, cold client)")
    left.set_title(f"Validation time vs scopes — {large_docs:,}-document collection")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    x, y = series("preflight", "large", key="rpcs")
    right.plot(x, y, "o-", color=colours["preflight"], label="preflight (counted)")
    x, y = series("engines", "large", extrapolated=False, key="rpcs")
    right.plot(x, y, "s-", color=colours["engines"], label="engines' loop (counted)")
    if any(row["extrapolated"] for row in validation if row["who"] == "engines"):
        x, y = series("engines", "large", key="rpcs")
        right.plot(x, y, "s--", color=colours["engines"], alpha=0.55, markerfacecolor="none",
                   label="engines' loop (17 per scope, extrapolated)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("scopes validated (× 17 kinds)")
    right.set_ylabel("Firestore RPCs (counted by a gRPC interceptor)")
    right.set_title("Firestore RPCs vs scopes")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)

    from matplotlib.ticker import FuncFormatter

    for axis in (left, right):
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
