"""Fill Solara's CDN cache from the npm registry so pages work with no CDN (offline workshops, CI).

The Solara server serves the browser's front-end files under ``/_solara/cdn/<pkg>@<ver>/<file>``.
It looks for ``<proxy_cache_dir>/<pkg>@<ver>/<file>`` first (default ``<venv>/share/solara/cdn``,
see ``solara.server.settings.assets.proxy_cache_dir`` and ``solara/server/cdn_helper.py``) and only
then asks the public CDN; without one the page stays blank. That cache has the layout of the npm
tarball's ``package/`` folder, so ``npm pack <pkg>@<ver>`` + unpack fills it.

Which packages and versions: read from the INSTALLED Solara, not written here.
  * The versions live in Solara's own front-end source, not in Python constants: the page template
    (``server/templates/solara.html.j2``: solara-vuetify-app, requirejs) and the Vue/JS of single
    components (``widgets/vue/gridlayout.vue``: vue-grid-layout; ``components/markdown.py``:
    katex, mermaid; ``widgets/vue/vegalite.vue``: vega, vega-lite, vega-embed as ranges @5/@6).
    This script scans those files for ``{{cdn}}/...`` and ``${this.getCdn()}/...`` urls.
  * Python constants are imported where they exist: ``settings.assets.fontawesome_path``
    (font-awesome@4.5.0), ``settings.assets.proxy_cache_dir`` (target) and ``server.vue3`` /
    ``server.ipywidgets_major`` (which app shell and which ``main<N>.css`` the template picks).
  * Hard-coded here is only the choice of which Solara source files matter for this project
    (GROUPS below); components we do not use (echarts, SQL editor, markdown editor) are skipped
    unless ``--all``.

Run with the venv's python (``make assets``). Idempotent: a package folder carrying the marker
file is skipped. Fails loudly, naming the package, if npm fails or a referenced file is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MARKER = ".npm-pack-complete"
NPM_TIMEOUT_S = 300

# Solara source files (relative to the solara package) whose cdn urls this project needs.
GROUPS = {
    "page": ["server/templates/solara.html.j2"],  # app shell, requirejs (+ font-awesome setting)
    "grid": ["widgets/vue/gridlayout.vue", "widgets/vue/gridlayout_v3.vue"],  # GridDraggable (SolaraViz)
    "markdown": ["components/markdown.py"],  # solara.Markdown: katex, mermaid
    "altair": ["widgets/vue/vegalite.vue"],  # solara.FigureAltair (SolaraViz plots): vega*
}
EXTRA = ["components/echarts.vue", "components/sql_code.vue", "components/sql_code_v3.vue",
         "components/markdown_editor.vue"]

URL_RE = re.compile(r"""(?:\{\{\s*cdn\s*\}\}|\$\{this\.getCdn\(\)\})/([^"'`\s)]+)""")
CONST_RE = re.compile(r"""\bconst\s+(\w+)\s*=\s*["']([^"']+)["']""")
# "<@scope/>name@spec/sub/path": spec is an exact version or a range such as "5"
SPEC_RE = re.compile(r"^((?:@[\w.-]+/)?[\w.-]+)@([^/]+)(?:/(.*))?$")


def die(msg: str) -> None:
    print(f"fetch_solara_assets: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def required_assets(include_extra: bool = False) -> dict[str, set[str]]:
    """Return {"<pkg>@<spec>": {sub-paths the installed Solara requests}} (sub-path may be "")."""
    import solara
    import solara.server.server as sserver
    from solara.server import settings

    root = Path(solara.__file__).parent
    files = [f for fs in GROUPS.values() for f in fs] + (EXTRA if include_extra else [])
    # the template contains both app shells; keep the one this install renders
    skip_shell = "@widgetti/solara-vuetify-app@" if sserver.vue3 else "@widgetti/solara-vuetify3-app@"
    subst = {"{{ipywidget_major_version}}": str(sserver.ipywidgets_major)}

    urls = [settings.assets.fontawesome_path.lstrip("/")]
    for rel in files:
        path = root / rel
        if not path.exists():
            die(f"solara {solara.__version__} has no {rel}; update GROUPS in {__file__}")
        text = path.read_text(encoding="utf-8")
        consts = dict(CONST_RE.findall(text))
        found = URL_RE.findall(text)
        if not found:
            die(f"no cdn urls found in solara/{rel}; Solara changed, update {__file__}")
        for url in found:
            for k, v in subst.items():
                url = url.replace(k, v)
            url = re.sub(r"\$\{(\w+)\}", lambda m: consts.get(m.group(1), m.group(0)), url)
            if url.startswith(skip_shell):
                continue
            urls.append(url)

    assets: dict[str, set[str]] = {}
    for url in urls:
        m = SPEC_RE.match(url)
        if not m or "$" in url or "{" in url:
            die(f"cannot parse cdn url {url!r} from the installed solara")
        name, spec, sub = m.groups()
        assets.setdefault(f"{name}@{spec}", set()).add(sub or "")
    return assets


def npm_pack(pkg: str, dest: Path) -> Path:
    """Download the npm tarball of ``pkg`` (``name@spec``) into ``dest``; return its path."""
    npm = shutil.which("npm")
    if not npm:
        die(f"npm not found on PATH (needed to download {pkg}); install nodejs/npm")
    try:
        out = subprocess.run([npm, "pack", pkg, "--json", "--pack-destination", str(dest)],
                             capture_output=True, text=True, timeout=NPM_TIMEOUT_S, cwd=dest)
    except subprocess.TimeoutExpired:
        die(f"`npm pack {pkg}` timed out after {NPM_TIMEOUT_S}s")
    if out.returncode != 0:
        die(f"`npm pack {pkg}` failed (exit {out.returncode}):\n{out.stderr.strip()}")
    info = json.loads(out.stdout)[0]
    print(f"  {pkg} -> {info['name']}@{info['version']} ({info['size'] / 1e6:.1f} MB)")
    return dest / info["filename"]


def npm_files(pkg: str, keep: dict[str, str], target: Path, prog: str) -> None:
    """Download ``pkg`` (``name@version``) and keep only ``keep`` (tarball member under ``package/``
    -> file name) in ``target``, replacing it atomically; ``prog`` names the caller in error lines.
    Used for single files the project needs from npm (the CJK font, axe-core)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = npm_pack(pkg, Path(tmp))  # one clear line and exit 1 if npm is missing or fails
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        staging.chmod(0o755)  # mkdtemp makes it 0700
        try:
            with tarfile.open(tgz) as tar:
                for member, name in keep.items():
                    try:
                        src = tar.extractfile(f"package/{member}")
                    except KeyError:
                        src = None
                    if src is None:
                        print(f"{prog}: ERROR: {pkg}: the npm package has no {member}", file=sys.stderr)
                        sys.exit(1)
                    with src, open(staging / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def npm_files_main(pkg: str, keep: dict[str, str], default_target: Path, prog: str, description: str) -> None:
    """Command line of a single-file fetcher (tools/fetch_fonts.py, tools/fetch_axe.py): ``--target``
    (default ``default_target``); nothing is downloaded when every kept file is already there."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--target", type=Path, default=default_target, help=f"default: {default_target}")
    target: Path = ap.parse_args().target.resolve()
    if all((target / name).is_file() for name in keep.values()):
        print(f"{prog}: {pkg} already in {target}")
        return
    npm_files(pkg, keep, target, prog)
    first = target / next(iter(keep.values()))
    print(f"{prog}: {pkg} -> {first} ({first.stat().st_size / 1e6:.1f} MB)")


def unpack(tgz: Path, target: Path) -> None:
    """Unpack the tarball's top folder (``package/``) into ``target`` atomically."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with tarfile.open(tgz) as tar:
            tar.extractall(staging, filter="data")
        tops = list(staging.iterdir())  # ["package"] in every npm tarball
        if len(tops) != 1:
            die(f"{tgz.name}: expected one top folder in the tarball, found {tops}")
        top = tops[0]
        if target.exists():  # e.g. files the server cached from a CDN earlier: merge
            shutil.copytree(top, target, dirs_exist_ok=True)
        else:
            top.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fill_min_js(folder: Path, sub: str) -> None:
    """The CDN (jsDelivr) minifies ``x.min.js`` on the fly when a package ships only ``x.js``
    (e.g. requirejs@2.3.6/require.min.js); serve the unminified file under that name."""
    want = folder / sub
    plain = want.with_name(want.name.replace(".min.js", ".js"))
    if not want.exists() and want.name.endswith(".min.js") and plain.exists():
        shutil.copyfile(plain, want)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="also components this project does not use")
    ap.add_argument("--list", action="store_true", help="only print the package@version list")
    ap.add_argument("--cache-dir", type=Path, help="default: solara's settings.assets.proxy_cache_dir")
    args = ap.parse_args()

    import solara
    from solara.server import settings

    cache = (args.cache_dir or Path(settings.assets.proxy_cache_dir)).resolve()
    assets = required_assets(args.all)
    if args.list:
        for pkg in sorted(assets):
            print(pkg)
        return
    print(f"solara {solara.__version__}: {len(assets)} front-end packages -> {cache}")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, subs in sorted(assets.items()):
            folder = cache / pkg
            if not (folder / MARKER).exists():
                folder.parent.mkdir(parents=True, exist_ok=True)  # "@scope/" folder
                unpack(npm_pack(pkg, Path(tmp)), folder)
            for sub in sorted(s for s in subs if s):
                fill_min_js(folder, sub)
            # a sub-path without an extension is a require.js path prefix (a folder)
            missing = [s for s in subs if s and not (folder / s).exists()]
            if missing:
                die(f"{pkg}: the npm package lacks {missing}, which solara requests")
            (folder / MARKER).touch()
    print("solara front-end assets complete: " + ", ".join(sorted(assets)))


if __name__ == "__main__":
    main()
