"""Run every benchmark script in this folder (model, speed, resolution, experiments, calibration, app, app in the browser)
and print their reports."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    failed = []
    for name in ("bench_model.py", "bench_speed.py", "bench_resolution.py", "bench_reference.py",
                 "bench_experiments.py",
                 "bench_calibration.py", "bench_app.py", "bench_app_browser.py"):
        path = HERE / name
        if path.exists():
            print(f"\n=== {name}")
            try:
                runpy.run_path(str(path), run_name="__main__")
            except SystemExit as exc:  # a script's sys.exit() must not end the whole run
                if exc.code not in (None, 0):
                    failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)
