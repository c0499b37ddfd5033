"""Put axe-core (Deque's accessibility checker, MPL-2.0) into the venv for the browser tests.

The accessibility test (``tests/test_app_a11y.py``) injects ``axe.min.js`` into the workshop page with
Playwright and runs ``axe.run()`` on every tab in both languages. The file comes from the npm
registry like Solara's front-end files and the Chinese font (tools/fetch_solara_assets.py,
tools/fetch_fonts.py), once, at set-up (``make assets``); the tests then run offline. Only
``axe.min.js`` (~0.5 MB) and the package's licence are kept, in ``<venv>/share/axe-core/``
(:data:`TARGET`, where the test looks).

Run with the venv's python. Idempotent: nothing is downloaded when the file is already there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fetch_solara_assets import npm_files_main  # same folder: tools/ is on sys.path when run as a script

PACKAGE = "axe-core@4.10.3"  # pinned: the rule set (and so the test's verdict) changes between versions
# tarball member (under package/) -> file name in the target folder
KEEP = {"axe.min.js": "axe.min.js", "LICENSE": "LICENSE"}  # LICENSE: Mozilla Public License 2.0
TARGET = Path(sys.prefix) / "share" / "axe-core"


def main() -> None:
    npm_files_main(PACKAGE, KEEP, TARGET, "fetch_axe", __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
