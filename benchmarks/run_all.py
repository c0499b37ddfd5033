"""Run every benchmark script in this folder (model, experiments, calibration, app) and print their reports."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    for name in ("bench_model.py", "bench_experiments.py", "bench_calibration.py", "bench_app.py"):
        path = HERE / name
        if path.exists():
            print(f"\n=== {name}")
            runpy.run_path(str(path), run_name="__main__")
