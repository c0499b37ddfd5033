"""This checkout's model against an earlier commit's, in one run: the time of a default run, as a ratio.

A model change may promise "the default run stays within 10 % of today's time" (issue 21: levers as
instruments, channels and schedules). Timings on this shared machine swing 2-3x between days, so the
reference is measured here, alternately with the current code: ``git archive REF sim configs`` is
unpacked into a temporary folder and each repeat runs one 40-quarter status-quo run and one run of the
all-five package, each in a fresh interpreter, once with that folder and once with this checkout first
on ``sys.path``. Reports the median time of each and their ratio (current / reference), and writes
``benchmarks/out/reference.json``.

    python benchmarks/bench_reference.py [--ref COMMIT] [--repeats N]

The default reference is ``cd1c24b`` (the last commit before the policy-instruments change).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
DEFAULT_REF = "cd1c24b"
TARGET = 1.10  # current / reference

CODE = """
import time
t0 = time.perf_counter()
import sim
t1 = time.perf_counter()
levers = sim.load_presets()["all_five"].levers
for overrides in ({}, levers):
    sim.run_scenario(sim.load_config().with_overrides(overrides), seed=1)
print(time.perf_counter() - t1)
"""


def unpack(ref: str, into: Path) -> Path:
    """``sim/`` and ``configs/`` of commit ``ref`` under ``into`` (via ``git archive``)."""
    archive = into / "ref.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sim", "configs"], check=True, stdout=fh)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def one(tree: Path) -> float:
    """Seconds of two default runs (status quo, all five) in a fresh interpreter with ``tree`` first."""
    out = subprocess.run([sys.executable, "-c", CODE], cwd=tree, check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=DEFAULT_REF, help=f"the reference commit (default {DEFAULT_REF})")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = unpack(args.ref, Path(tmp))
        current, reference = [], []
        for _ in range(args.repeats):  # alternate, so a slow minute hits both
            reference.append(one(ref_tree))
            current.append(one(ROOT))
    cur, ref = statistics.median(current), statistics.median(reference)
    ratio = cur / ref
    report = {"reference": args.ref, "repeats": args.repeats, "current_s": current, "reference_s": reference,
              "median_current_s": cur, "median_reference_s": ref, "ratio": ratio, "target": TARGET}
    OUT.mkdir(exist_ok=True)
    (OUT / "reference.json").write_text(json.dumps(report, indent=2) + "\n")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"two default runs (status quo + all five, 40 quarters): current {cur:.2f} s, {args.ref} {ref:.2f} s "
          f"(medians of {args.repeats}); ratio {ratio:.3f} (target <= {TARGET:.2f}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
