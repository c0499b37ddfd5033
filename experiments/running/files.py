"""Reading the files the tools did not just write: one line naming the file and what is wrong.

Results folders and fits travel between machines and people; a file in them may be cut short, overwritten
with something else, emptied, or be another kind of file under the expected name. Every reader here turns
such a file into :class:`DamagedFile` (a ``ValueError``): ``"<path>: <what is wrong>[; <what to do>]"`` in one
line, which the command line prints as it is (exit status 2). A file that is simply absent stays the
caller's business (often it is allowed).
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

MAX_DETAIL = 160  # characters of a reader's own message kept in the one line


class DamagedFile(ValueError):
    """A file the tools read is damaged or is not what its name says: one line naming it and the problem."""

    def __init__(self, path: str | Path, problem: str, hint: str = ""):
        self.path, self.problem, self.hint = Path(path), problem, hint
        super().__init__(f"{path}: {problem}" + (f"; {hint}" if hint else ""))


def detail(exc: BaseException | str) -> str:
    """A reader's exception as a short phrase on one line (multi-line library messages are joined)."""
    text = "; ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip()) or type(exc).__name__
    text = text.removeprefix("Could not open Parquet input source '<Buffer>': ")
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file; :class:`DamagedFile` if it is a folder or cannot be read."""
    path = Path(path)
    if path.is_dir():
        raise DamagedFile(path, "is a folder, not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DamagedFile(path, f"cannot be read ({exc.strerror or detail(exc)})") from None


def parquet_problem(path: str | Path, data: bytes) -> str | None:
    """Why ``data`` (the bytes of ``path``) is not a readable Parquet file, or None."""
    if not data:
        return "is empty (0 bytes)"
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # noqa: BLE001 - any reader error means a damaged file
        return f"is not a readable Parquet file ({detail(exc)})"
    return None


def read_parquet(path: str | Path, data: bytes | None = None, columns: list[str] | None = None,
                 required: tuple[str, ...] = (), hint: str = "") -> pd.DataFrame:
    """A Parquet table (from ``data`` if its bytes were read already), checked to hold ``required`` columns."""
    path = Path(path)
    data = read_bytes(path) if data is None else data
    if not data:
        raise DamagedFile(path, "is empty (0 bytes)", hint)
    try:
        df = pd.read_parquet(io.BytesIO(data), columns=columns)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DamagedFile(path, f"is not a readable Parquet file ({detail(exc)})", hint) from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DamagedFile(path, f"lacks the column(s) {', '.join(missing)} (it holds {_cols(df)})", hint)
    return df


def read_json_object(path: str | Path, hint: str = "") -> dict[str, Any]:
    """A JSON object (``{...}``) from a UTF-8 file."""
    path = Path(path)
    data = read_bytes(path)
    if not data.strip():
        raise DamagedFile(path, "is empty" if not data else "holds only white space", hint)
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DamagedFile(path, f"is not UTF-8 text (at byte offset {exc.start})", hint) from None
    except ValueError as exc:
        raise DamagedFile(path, f"is not valid JSON ({detail(exc)})", hint) from None
    if not isinstance(obj, dict):
        raise DamagedFile(path, f"holds a JSON {type(obj).__name__}, not an object ({{...}})", hint)
    return obj


def read_toml(path: str | Path, hint: str = "") -> dict[str, Any]:
    """A TOML document from a UTF-8 file (at most 10 MB)."""
    from sim.inputs.base import ConfigError
    from sim.inputs.config import read_config_text

    path = Path(path)
    if not path.exists():
        raise DamagedFile(path, "is missing", hint)
    try:
        text = read_config_text(path, "file")
    except ConfigError as exc:
        msg = str(exc).removeprefix("file ").replace(f"{str(path)!r} ", "").replace(f"{path}: ", "")
        raise DamagedFile(path, msg, hint) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DamagedFile(path, f"is not valid TOML ({detail(exc)})", hint) from None


def _cols(df: pd.DataFrame) -> str:
    names = [str(c) for c in df.columns]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "") if names else "no columns"
