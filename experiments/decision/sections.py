"""The sections that scenario discovery and robustness add to a sweep's ``report.md``.

Each analysis saves its section as ``DIR/<key>/section.md`` and puts it into ``report.md`` between
``<!-- <key> -->`` markers (replacing an older version, or appended; a report is started if there is
none yet). ``analyze`` rewrites ``report.md`` from scratch and adds the saved sections again
(:func:`with_saved`), so running ``analyze`` after ``discover`` keeps the discovery section.
"""

from __future__ import annotations

import re
from pathlib import Path

from experiments.running.store import write_text

KEYS = ("robustness", "discovery")  # order in report.md


def _markers(key: str) -> tuple[str, str]:
    return f"<!-- {key}: start -->", f"<!-- {key}: end -->"


def _wrapped(key: str, text: str) -> str:
    start, end = _markers(key)
    return f"{start}\n{text.strip()}\n{end}\n"


def put(root: str | Path, key: str, text: str) -> Path:
    """Save section ``key`` and put it into ``report.md`` (replace or append); returns report.md's path."""
    root = Path(root)
    (root / key).mkdir(parents=True, exist_ok=True)
    write_text(text.strip() + "\n", root / key / "section.md")
    report = root / "report.md"
    current = report.read_text(encoding="utf-8") if report.is_file() else \
        f"# {root.name}: decision support\n\nRun `python -m experiments analyze {root}` for the full report.\n"
    write_text(_replace(current, key, text), report)
    return report


def _replace(report: str, key: str, text: str) -> str:
    start, end = _markers(key)
    block = _wrapped(key, text)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(report):
        return pattern.sub(lambda _: block, report, count=1)
    return report.rstrip("\n") + "\n\n" + block


def with_saved(root: str | Path, report: str) -> str:
    """``report`` with the saved sections of ``root`` (discovery, robustness) put in."""
    for key in KEYS:
        saved = Path(root) / key / "section.md"
        if saved.is_file():
            report = _replace(report, key, saved.read_text(encoding="utf-8"))
    return report
