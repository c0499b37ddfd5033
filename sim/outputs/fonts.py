"""A font with Chinese glyphs for every matplotlib figure (model plots, sweep report, app charts).

Fonts are registered BY FILE (``fontManager.addfont``), never looked up by family name in
matplotlib's font cache: a stale ``~/.cache/matplotlib/fontlist-*.json`` (a font installed or
removed after the cache was written) otherwise yields a family that "exists" but renders boxes.

Where the file comes from, first match wins; a file counts only if it has a glyph for every
character of :data:`PROBE`:
  1. the font ``make`` fetches into the venv (``tools/fetch_fonts.py``, npm package
     ``@expo-google-fonts/noto-sans-sc``): ``<sys.prefix>/share/fonts/**``;
  2. system CJK fonts, e.g. Debian's ``fonts-noto-cjk``
     (``/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc``), WenQuanYi, macOS/Windows fonts.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

from matplotlib import font_manager, ft2font, rcParams

PROBE = "能级亿元秦皇岛北京天津"  # characters the figures use
SHIPPED_DIRS = (Path(sys.prefix) / "share" / "fonts",)
SYSTEM_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Alpine
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
FONT_SUFFIXES = {".ttf", ".otf", ".ttc"}


class CJKFont(NamedTuple):
    family: str  # the name matplotlib knows the registered file by
    path: Path


def candidate_files() -> list[Path]:
    """Font files to try, in order: the venv's shipped fonts, then known system CJK fonts."""
    shipped = [p for d in SHIPPED_DIRS if d.is_dir() for p in sorted(d.rglob("*"))
               if p.suffix.lower() in FONT_SUFFIXES and p.is_file()]
    return shipped + [p for p in map(Path, SYSTEM_FILES) if p.is_file()]


def covering_face(path: str | Path, text: str = PROBE) -> str | None:
    """Family name of the face in ``path`` with a glyph for every character of ``text``
    (in a collection the Simplified Chinese face is preferred), or None."""
    try:
        first = ft2font.FT2Font(str(path))
        faces = [first] + [ft2font.FT2Font(str(path), face_index=i) for i in range(1, first.num_faces)]
    except (OSError, RuntimeError, ValueError):
        return None
    good = [f for f in faces if all(f.get_char_index(ord(ch)) for ch in text if not ch.isspace())]
    good.sort(key=lambda f: not f.family_name.endswith(" SC"))
    return good[0].family_name if good else None


@functools.cache
def find_cjk_font() -> CJKFont | None:
    """Register the first candidate file that covers :data:`PROBE` with matplotlib; None if none does."""
    for path in candidate_files():
        family = covering_face(path)
        if family is None:
            continue
        if not any(Path(f.fname) == path for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(path)
        return CJKFont(family, path)
    return None


def use_cjk_font(latin_first: str | None = None) -> CJKFont | None:
    """Set rcParams so Chinese text renders: the CJK family first in ``font.sans-serif`` and
    ``font.family = [sans-serif, CJK]`` -- the CJK family again as matplotlib's per-glyph fallback,
    for text in a style the CJK font lacks (italic text otherwise resolves to DejaVu Sans Oblique
    alone and its Chinese glyphs go missing). With ``latin_first="DejaVu Sans"``: ``font.family =
    [that, CJK]`` (Latin glyphs from the first, Chinese from the fallback).
    Warns once, naming the fix, when no CJK font file is found (Chinese then shows as boxes)."""
    font = find_cjk_font()
    if font is None:
        _warn_missing()
        if latin_first:
            rcParams["font.family"] = [latin_first]
        return None
    rcParams["font.sans-serif"] = [font.family, *(f for f in rcParams["font.sans-serif"] if f != font.family)]
    rcParams["font.family"] = [latin_first or "sans-serif", font.family]
    return font


@functools.cache
def _warn_missing() -> None:
    warnings.warn("no font with Chinese glyphs found (Chinese labels will show as boxes): run `make fonts` "
                  f"(fetches Noto Sans SC into {SHIPPED_DIRS[0]}) or apt-get install fonts-noto-cjk",
                  RuntimeWarning, stacklevel=3)
