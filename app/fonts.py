"""Matplotlib set-up for the app: the Agg backend and a font that has Chinese glyphs.

The font FILE is found and registered by :func:`sim.outputs.fonts.use_cjk_font` (``font_manager.addfont``:
the Noto Sans SC that ``make fonts`` fetches into the venv, else a system CJK font file), never looked
up by family name in matplotlib's font cache, so a cache written before the font was installed
cannot turn Chinese text into boxes. If no file is found the charts still render, Chinese characters
show as empty boxes, and a warning says how to fix it.
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede any pyplot import elsewhere

from matplotlib import rcParams  # noqa: E402

from sim.outputs import fonts as sim_fonts  # noqa: E402

log = logging.getLogger(__name__)


def setup_fonts() -> str | None:
    """Put a CJK font first in matplotlib's sans-serif list (returns its family name); warn clearly
    (also in the log) if there is none and return None."""
    font = sim_fonts.use_cjk_font()  # registers the font file; warns (RuntimeWarning) if there is none
    if font is None:
        log.warning("app: no font with Chinese glyphs found: Chinese labels will render as boxes. "
                    "Run `make fonts` (fetches Noto Sans SC into the venv; the app registers the file itself)")
        rcParams["font.sans-serif"] = ["DejaVu Sans"]
        rcParams["font.family"] = "sans-serif"
    rcParams["axes.unicode_minus"] = False  # not every CJK font has U+2212
    return font.family if font else None


CJK_FONT = setup_fonts()
