"""Matplotlib set-up for the app: the Agg backend and a font that has Chinese glyphs.

Debian's ``fonts-noto-cjk`` provides "Noto Sans CJK SC" (``make app`` / ``.ci/run`` install it). If no
CJK font is found the charts still render, Chinese characters show as empty boxes, and a warning
says how to fix it.
"""

from __future__ import annotations

import logging
import warnings

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede any pyplot import elsewhere

from matplotlib import font_manager, rcParams  # noqa: E402

log = logging.getLogger(__name__)

CJK_CANDIDATES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                  "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


def find_cjk_font() -> str | None:
    """The first installed font family from :data:`CJK_CANDIDATES`, or None."""
    for family in CJK_CANDIDATES:
        try:
            font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        return family
    return None


def setup_fonts() -> str | None:
    """Put a CJK font first in matplotlib's sans-serif list; warn clearly if there is none."""
    family = find_cjk_font()
    if family is None:
        msg = ("app: no Chinese font found for the charts (looked for "
               f"{', '.join(CJK_CANDIDATES[:3])}, ...): Chinese labels will render as boxes. "
               "Install one: apt-get install fonts-noto-cjk")
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log.warning(msg)
        rcParams["font.sans-serif"] = ["DejaVu Sans"]
    else:
        rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    rcParams["font.family"] = "sans-serif"
    rcParams["axes.unicode_minus"] = False  # CJK fonts lack U+2212
    return family


CJK_FONT = setup_fonts()
