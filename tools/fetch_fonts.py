"""Put a font with Chinese glyphs into the venv so every figure renders its Chinese labels.

No root, no apt: the font comes from the npm registry like Solara's front-end files
(tools/fetch_solara_assets.py). ``@expo-google-fonts/noto-sans-sc`` ships Google's Noto Sans SC
(SIL Open Font License 1.1) in nine weights (tarball ~57 MB); only the regular TTF (~10 MB) and
the font's licence are kept, in ``<venv>/share/fonts/noto-sans-sc/``, where :mod:`sim.outputs.fonts`
looks first and registers the file with matplotlib.

Run with the venv's python (``make fonts``, a dependency of ``make run``/``test``/``app``).
Idempotent and offline-cheap: nothing is downloaded when the TTF is already there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fetch_solara_assets import npm_files_main  # same folder: tools/ is on sys.path when run as a script

PACKAGE = "@expo-google-fonts/noto-sans-sc@0.4.3"
# tarball member (under package/) -> file name in the target folder
KEEP = {"400Regular/NotoSansSC_400Regular.ttf": "NotoSansSC_400Regular.ttf",
        "LICENSE_FONT": "OFL.txt"}  # LICENSE_FONT is the SIL OFL 1.1 text (LICENSE is the JS code's MIT)
TARGET = Path(sys.prefix) / "share" / "fonts" / "noto-sans-sc"


def main() -> None:
    npm_files_main(PACKAGE, KEEP, TARGET, "fetch_fonts", __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
