"""Serve the workshop page: ``python -m app [--host 127.0.0.1] [--port 8765]``.

Runs ``solara run app.page --production`` with the settings an offline workshop needs: loopback by
default (``--host 0.0.0.0`` exposes the page on the room's network, only when asked), no version
check against PyPI, no telemetry, and a warning if Solara's front-end cache (filled by
``make assets``) is missing, in which case the browser would show a blank page without internet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no calls home
    "SOLARA_CHECK_VERSION": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",  # no "This website runs on Solara" badge over the charts
}
WEB_FONT_URL = "/static/assets/"  # + the CJK font file's name (see font_env)


def font_env() -> dict[str, str]:
    """Serve the CJK font file the charts use to the browser too (``/static/assets/<file>``), so
    Chinese page text renders on machines without a system CJK font; {} if there is no font file."""
    from sim.outputs import fonts

    font = fonts.find_cjk_font()
    if font is None or font.path.suffix.lower() not in (".ttf", ".otf"):
        return {}
    return {"SOLARA_ASSETS_EXTRA_LOCATIONS": str(font.path.parent), "APP_WEB_FONT": font.path.name}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m app", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("APP_HOST", DEFAULT_HOST),
                    help=f"address to listen on (default {DEFAULT_HOST}: this computer only; "
                         "0.0.0.0 = every network interface)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", DEFAULT_PORT)),
                    help=f"TCP port (default {DEFAULT_PORT})")
    ap.add_argument("--dev", action="store_true", help="development mode (auto-reload, tracebacks in page)")
    return ap.parse_args(argv)


def asset_cache_problem() -> str | None:
    """A message if Solara's offline front-end cache looks empty, else None."""
    from solara.server import settings

    cache = Path(settings.assets.proxy_cache_dir)
    if not any((cache / "@widgetti").glob("solara-vuetify*")):
        return (f"Solara's front-end cache {cache} is empty: without internet the page stays blank. "
                "Run `make assets` (tools/fetch_solara_assets.py) once while online.")
    return None


def command(args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "solara", "run", "app.page", "--host", args.host, "--port", str(args.port),
           "--no-open", "--no-check-version"]
    if not args.dev:
        cmd.append("--production")
    else:
        cmd += ["--auto-restart", "--restart-dir", str(REPO / "app")]
    return cmd


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    problem = asset_cache_problem()
    if problem:
        print(f"app: WARNING: {problem}", file=sys.stderr)
    where = "this computer only" if args.host in ("127.0.0.1", "localhost", "::1") else "the network"
    print(f"app: serving the workshop page on http://{args.host}:{args.port}/ ({where}); Ctrl-C stops it",
          flush=True)
    env = {**os.environ, **OFFLINE_ENV, **font_env()}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    os.chdir(REPO)
    os.execve(sys.executable, command(args), env)  # replace this process: signals reach the server


if __name__ == "__main__":
    main()
