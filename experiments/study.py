"""The whole study in one command: ``python -m experiments study`` (``make study``).

Fit (``--refit``) or re-check the posterior, then run every spec of ``configs/experiments/`` at its own
size with the commands the docs give for it, and write one index page linking every report::

    python -m experiments study [--out DIR] [--refit] [--only NAME ...] [--plan] [--workers N | --serial]
                                [--specs DIR] [--config FILE]

Each *step* is one documented command (``run``, ``analyze``, ``explain``, ``validate``, ``robustness``,
``discover``, ``optimize``, ``calibrate``, or ``python -m sim calibrate --posterior``), started as its own
process with this Python, so a step that fails cannot take the others with it and the command in the
index is exactly what ran. Which steps a spec gets: its kind (a sweep: run + analyze; ``[optimize]``:
optimize; ``[fit]``: calibrate; ``[explain]``: explain), or its ``[specs.NAME]`` table in
``configs/study.toml`` (:data:`STUDY_CONFIG`). Nothing in the study changes a spec's size.

Resuming: a ``run`` step whose results folder already records every run of the spec's current plan
(run ids hash the model version, the resolved config and the seed, so a changed model, config or
posterior is *not* complete) is skipped; any other step is skipped when the ledger
(``DIR/_study/ledger.json``) says it finished with the same inputs (command, spec file, configs, model and
``experiments`` code, and what the steps before it in the same folder produced) and its outputs are there.
A failed step is recorded with its one-line error and the study goes on with every step that does not
need it; the exit status is then 1. Outputs: ``DIR/index.md`` and ``DIR/index.html`` (every step, its
command, status, wall time and links to its reports), ``DIR/_study/logs/<step>.log`` (each command's
output) and the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.running.files import DamagedFile, read_json_object, read_toml
from experiments.running.spec import PROJECT_DIR, SpecError

STUDY_CONFIG = PROJECT_DIR / "configs" / "study.toml"
SPECS_DIR = PROJECT_DIR / "configs" / "experiments"
WORK = "_study"  # DIR/_study/: the ledger and the logs (a spec may not have this name)
LEDGER_FORMAT = "qhd-study-ledger"
LEDGER_VERSION = 1
POSTERIOR = "posterior"  # the name of the posterior's steps (the re-check, and with --refit the fit)
ERROR_CHARS = 300  # a failed step's one-line error in the index is cut to this many characters
TAIL_BYTES = 16_384  # the end of a command's output kept in memory to find its error line

# What each step kind writes (relative to its results folder): the files that show it finished and that
# the index links. `run` has none: its store knows its runs.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "run": (),
    "explain": ("explain/report.md", "explain/channels.csv"),
    "validate": ("validation.md",),
    "analyze": ("report.md",),
    "robustness": ("robustness/regret.csv", "robustness/satisficing.csv"),
    "discover": ("discovery/boxes.csv",),
    "optimize": ("report.md", "pareto.csv"),
    "calibrate": ("calibration_report.md", "posterior.parquet"),
    "recheck": (),
}
# Steps per kind of spec: allowed in [specs.NAME] steps, and the default (the first entry's list).
STEPS_OF_KIND: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sweep": (("run", "analyze"), ("run", "explain", "validate", "analyze", "robustness", "discover")),
    "optimize": (("optimize",), ("optimize",)),
    "calibration": (("calibrate",), ("calibrate",)),
    "explain": (("explain",), ("explain",)),
}
# Order within one results folder: a step needs every step of an earlier phase writing the same folder
# (analyze reads what run, explain and validate wrote; robustness and discover add to analyze's report).
PHASE = {"calibrate": 0, "optimize": 0, "run": 0, "explain": 0, "validate": 0, "recheck": 0,
         "analyze": 1, "robustness": 2, "discover": 2}
# Exit statuses that mean "done, and its report says some check fails" rather than "the step failed":
# `python -m sim validate` and `python -m sim calibrate --posterior` exit 1 for a failing check or a stale
# posterior (sim/outputs/cli.py), 2 for bad input.
FINDING_EXIT = {"validate": 1, "recheck": 1}
INTERRUPTED = 130
_SPEC_KEYS = ("steps", "into", "validate", "robustness", "discover")
_OPTION_KEYS = {"validate": {"draws": int, "seeds": int},
                "robustness": {"goals": list, "outcomes": list},
                "discover": {"where": str, "among": str, "box": int}}
_ESTIMATE_KEYS = ("parallel_efficiency", "fit_simulations_per_particle", "fit_overhead", "analyze_seconds",
                  "decision_seconds", "start_seconds")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class StudyError(SpecError):
    """Bad study input (config, --only, a folder): one line naming the key, the value and what is allowed."""


# ============================================================================ the configuration
@dataclass(frozen=True)
class StudyConfig:
    """``configs/study.toml``: per-spec steps and options, the posterior's fit spec, the estimate's assumptions."""

    specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fit: str | None = None
    draws: int = 40
    estimate: Mapping[str, float] = field(default_factory=dict)
    path: Path | None = None


def load_config(path: str | Path | None) -> StudyConfig:
    """Read and check a study config (None: no per-spec tables, kind defaults only, no estimate factors)."""
    if path is None:
        return StudyConfig()
    path = Path(path)
    raw = read_toml(path)
    where = _show_path(path)

    def err(msg: str) -> StudyError:
        return StudyError(f"{where}: {msg}")

    unknown = set(raw) - {"posterior", "specs", "estimate"}
    if unknown:
        raise err(f"unknown section [{sorted(unknown)[0]}]; allowed: posterior, specs, estimate")
    post = raw.get("posterior", {})
    if not isinstance(post, dict) or set(post) - {"fit", "draws"}:
        raise err(f"[posterior] holds {sorted(set(post) - {'fit', 'draws'}) if isinstance(post, dict) else post!r}; "
                  "allowed keys: fit (a spec name), draws (a whole number 1-10000)")
    fit = post.get("fit")
    if fit is not None and not (isinstance(fit, str) and _NAME.fullmatch(fit)):
        raise err(f"[posterior] fit: {fit!r} is not a spec name (a file name in the specs folder without .toml)")
    draws = post.get("draws", 40)
    if not (type(draws) is int and 1 <= draws <= 10_000):
        raise err(f"[posterior] draws: {draws!r} is not allowed; give a whole number from 1 to 10000")
    est = raw.get("estimate", {})
    if not isinstance(est, dict):
        raise err(f"[estimate] must be a table, not {est!r}")
    for k, v in est.items():
        if k not in _ESTIMATE_KEYS:
            raise err(f"[estimate] unknown key {k!r}; allowed: {', '.join(_ESTIMATE_KEYS)}")
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            raise err(f"[estimate] {k}: {v!r} is not allowed; give a number > 0")
    specs = raw.get("specs", {})
    if not isinstance(specs, dict) or not all(isinstance(t, dict) for t in specs.values()):
        raise err("[specs] must hold one table per spec, [specs.NAME]")
    for name, table in specs.items():
        _check_spec_table(name, table, err)
    return StudyConfig(specs=specs, fit=fit, draws=draws, estimate={k: float(v) for k, v in est.items()}, path=path)


def _check_spec_table(name: str, t: Mapping[str, Any], err: Callable[[str], StudyError]) -> None:
    for k in t:
        if k not in _SPEC_KEYS:
            raise err(f"[specs.{name}] unknown key {k!r}; allowed: {', '.join(_SPEC_KEYS)}")
    steps = t.get("steps")
    if steps is not None and not (isinstance(steps, list) and steps and all(isinstance(s, str) for s in steps)
                                  and len(set(steps)) == len(steps)):
        raise err(f"[specs.{name}] steps: {steps!r} is not allowed; give a list of distinct step names")
    into = t.get("into")
    if into is not None and not (isinstance(into, str) and _NAME.fullmatch(into) and into != WORK):
        raise err(f"[specs.{name}] into: {into!r} is not allowed; give a folder name (letters, digits, _ . -)")
    for opt, types in _OPTION_KEYS.items():
        if opt not in t:
            continue
        table = t[opt]
        if not isinstance(table, dict):
            raise err(f"[specs.{name}] {opt}: {table!r} is not allowed; give a table of {', '.join(types)}")
        for k, v in table.items():
            want = types.get(k)
            if want is None:
                raise err(f"[specs.{name}] {opt}.{k}: unknown key; allowed: {', '.join(types)}")
            ok = (isinstance(v, want) and not isinstance(v, bool)
                  and (want is not list or (v and all(isinstance(x, str) and x.strip() for x in v)))
                  and (want is not int or 1 <= v <= 10_000) and (want is not str or v.strip()))
            if not ok:
                shape = {int: "a whole number 1-10000", str: "a non-empty string",
                         list: "a non-empty list of strings"}[want]
                raise err(f"[specs.{name}] {opt}.{k}: {v!r} is not allowed; give {shape}")


# ============================================================================ the steps
@dataclass
class Step:
    """One command of the study. ``argv`` follows the Python executable; ``folder`` is the results folder
    it writes (relative to the study's --out); ``after`` the ids of the steps it needs."""

    spec: str
    kind: str
    argv: tuple[str, ...]
    folder: str
    spec_path: Path | None = None
    after: list[str] = field(default_factory=list)
    off: str = ""  # why the step does not run this time (e.g. the posterior's fit without --refit)
    uses_posterior: bool = False

    @property
    def id(self) -> str:
        return f"{self.spec}:{self.kind}"

    @property
    def outputs(self) -> tuple[str, ...]:
        return OUTPUTS[self.kind]

    def command(self, out: Path | None = None) -> str:
        """The command as one would type it (``{out}`` filled in when ``out`` is given)."""
        return shell_line(["python", *(bind(self.argv, out) if out is not None else self.argv)])


_PLAIN = re.compile(r"[\w@%+=:,./-]+")
_DOUBLE_SAFE = re.compile(r'[^"$`\\!]*')


def shell_line(argv: Sequence[str]) -> str:
    """``argv`` as a shell line: plain words bare, others in "double quotes" when that needs no escapes
    (``--where "package == 'all_five'"``, as the docs write them), else as :func:`shlex.quote` does."""
    return " ".join(a if _PLAIN.fullmatch(a) else f'"{a}"' if _DOUBLE_SAFE.fullmatch(a) else shlex.quote(a)
                    for a in argv)


def spec_files(specs_dir: str | Path) -> list[Path]:
    """The spec files of a folder (every ``*.toml``, sorted by name); a missing folder is one line."""
    d = Path(specs_dir)
    if not d.is_dir():
        raise StudyError(f"--specs {_show_path(d)}: is not a folder of spec files")
    files = sorted(p for p in d.glob("*.toml") if p.is_file())
    if not files:
        raise StudyError(f"--specs {_show_path(d)}: holds no *.toml spec")
    bad = [p.stem for p in files if not _NAME.fullmatch(p.stem) or p.stem in (WORK, POSTERIOR)]
    if bad:
        raise StudyError(f"--specs {_show_path(d)}: {bad[0]}.toml: a spec of the study must be named with letters, "
                         f"digits, _ . - and not {WORK!r} or {POSTERIOR!r}")
    return files


def spec_kind(raw: Mapping[str, Any]) -> str:
    """What a spec is, from its sections: "calibration" ([fit]), "optimize", "explain" or "sweep"."""
    if "fit" in raw:
        return "calibration"
    if "optimize" in raw:
        return "optimize"
    if "explain" in raw:
        return "explain"
    return "sweep"


def _raw(path: Path) -> dict[str, Any]:
    """The spec's TOML as data ({} when it cannot be read: its command then fails with the reason)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def build_steps(specs_dir: str | Path, config: StudyConfig, *, refit: bool = False,
                executor_args: Sequence[str] = ()) -> list[Step]:
    """Every step of the study, in the order they run (each after the steps it needs).

    ``executor_args`` (``--workers N`` or ``--serial``) go to the commands that run a sweep, explain or an
    optimisation (``calibrate`` takes ``--workers`` only)."""
    files = spec_files(specs_dir)
    names = [p.stem for p in files]
    where = _show_path(config.path) if config.path else "study config"
    for name in config.specs:
        if name not in names:
            raise StudyError(f"{where}: [specs.{name}] names no spec of {_show_path(Path(specs_dir))} "
                             f"(specs: {', '.join(names)})")
    if config.fit is not None and config.fit not in names:
        raise StudyError(f"{where}: [posterior] fit: {config.fit!r} names no spec of {_show_path(Path(specs_dir))} "
                         f"(specs: {', '.join(names)})")
    steps: list[Step] = []
    fit_step: Step | None = None
    if config.fit is not None:  # the posterior first: every posterior sweep needs it
        path = files[names.index(config.fit)]
        fit_step = Step(config.fit, "calibrate", _argv("calibrate", path, config.fit, executor_args, publish=True),
                        config.fit, path, off="" if refit else "not re-fitted (add --refit); the published "
                        "posterior is re-checked instead")
        steps.append(fit_step)
        steps.append(Step(POSTERIOR, "recheck", ("-m", "sim", "calibrate", "--posterior", "--draws",
                                                  str(config.draws)), WORK, uses_posterior=True))
    for path in files:
        name = path.stem
        if name == config.fit:
            continue
        raw = _raw(path)
        kind = spec_kind(raw)
        default, allowed = STEPS_OF_KIND[kind]
        table = config.specs.get(name, {})
        kinds = tuple(table.get("steps", default))
        for k in kinds:
            if k not in allowed:
                raise StudyError(f"{where}: [specs.{name}] steps: {k!r} is not a step of a{'n' * (kind[0] in 'aeio')} "
                                 f"{kind} spec; allowed: {', '.join(allowed)}")
        for opt in _OPTION_KEYS:
            if opt in table and opt not in kinds:
                raise StudyError(f"{where}: [specs.{name}] {opt}: options of a step that is not in its steps "
                                 f"({', '.join(kinds)})")
        if "discover" in kinds and "where" not in table.get("discover", {}):
            raise StudyError(f"{where}: [specs.{name}] discover: needs where = \"<condition>\" (the command's --where)")
        if "robustness" in kinds and "goals" not in table.get("robustness", {}) and "robustness" not in raw:
            raise StudyError(f"{where}: [specs.{name}] robustness: needs goals = [...]: {path.name} has no "
                             "[robustness] goals")
        folder = table.get("into", name)
        base = raw.get("base", {}) if isinstance(raw.get("base"), dict) else {}
        posterior = base.get("uncertainties") == "posterior"
        for k in kinds:
            argv = _argv(k, path, folder, executor_args, options=table.get(k, {}))
            steps.append(Step(name, k, argv, folder, path,
                              uses_posterior=posterior or (k == "validate")))
    _link(steps, fit_step if fit_step is not None and not fit_step.off else None)
    return _ordered(steps)


def _argv(kind: str, spec: Path, folder: str, executor_args: Sequence[str], *, publish: bool = False,
          options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The command of a step after the Python executable; ``{out}`` stands for the results folder of the
    study (:func:`bind` fills it in), so a command is the same whatever --out is."""
    o = options or {}
    out = f"{{out}}/{folder}"
    sp = _show_path(spec)
    workers = [a for a in executor_args if a != "--serial"]
    match kind:
        case "run" | "explain" | "optimize":
            return ("-m", "experiments", kind, sp, "--out", out, *executor_args)
        case "calibrate":
            return ("-m", "experiments", "calibrate", sp, "--out", out, *workers, *(("--publish",) if publish else ()))
        case "analyze":
            return ("-m", "experiments", "analyze", out)
        case "validate":
            return ("-m", "sim", "validate", "--posterior", "--draws", str(o.get("draws", 8)),
                    "--seeds", str(o.get("seeds", 2)), "--report", f"{out}/validation.md")
        case "robustness":
            return ("-m", "experiments", "robustness", out, *_repeat("--goal", o.get("goals", ())),
                    *_repeat("--outcome", o.get("outcomes", ())))
        case "discover":
            return ("-m", "experiments", "discover", out, "--where", o["where"],
                    *(("--among", o["among"]) if "among" in o else ()), *(("--box", str(o["box"])) if "box" in o else ()))
    raise AssertionError(kind)  # pragma: no cover - kinds are checked with the config


def _repeat(flag: str, values: Iterable[str]) -> list[str]:
    return [x for v in values for x in (flag, v)]


def _link(steps: list[Step], fit: Step | None) -> None:
    """Fill ``after``: within a folder, every step of an earlier phase; with --refit, the fit for every
    step that draws from the posterior."""
    for s in steps:
        s.after = [t.id for t in steps if t is not s and t.folder == s.folder and PHASE[t.kind] < PHASE[s.kind]]
        if fit is not None and s is not fit and s.uses_posterior and PHASE[s.kind] == 0:
            s.after.append(fit.id)


def _ordered(steps: list[Step]) -> list[Step]:
    """Each step after the steps it needs, otherwise in the given order (a stable topological sort)."""
    done: list[Step] = []
    ids = {s.id for s in steps}
    left = list(steps)
    while left:
        placed = {s.id for s in done}
        nxt = next(s for s in left if all(a in placed or a not in ids for a in s.after))
        done.append(nxt)
        left.remove(nxt)
    return done


def select(steps: Sequence[Step], only: Sequence[str] | None) -> list[Step]:
    """The steps of the specs named in ``only`` (``posterior``: the re-check, and the fit with --refit)."""
    if not only:
        return list(steps)
    names = list(dict.fromkeys(s.spec for s in steps))
    for n in only:
        if n not in names:
            raise StudyError(f"--only: {n!r} is not a spec of the study; allowed: {', '.join(names)}")
    return [s for s in steps if s.spec in only]


def bind(argv: Sequence[str], out: Path) -> list[str]:
    """``argv`` with ``{out}`` replaced by the study's results folder."""
    root = _show_path(out)
    return [a.replace("{out}", root) if a.startswith("{out}") else a for a in argv]


# ============================================================================ what is done
def digest_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        if p.is_file():
            h.update(str(p.relative_to(PROJECT_DIR) if p.is_relative_to(PROJECT_DIR) else p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def inputs_digest() -> str:
    """What every step's results hang on beyond its own spec: the model version (sim/ and the map), the
    configs (parameters, presets, scenarios, the posterior; not the specs or the study config) and the
    ``experiments`` code (which writes the reports; not this module)."""
    from experiments.running.provenance import model_version

    configs = [p for p in (PROJECT_DIR / "configs").rglob("*")
               if "experiments" not in p.relative_to(PROJECT_DIR / "configs").parts[:1] and p != STUDY_CONFIG]
    code = [p for p in (PROJECT_DIR / "experiments").rglob("*.py") if p.name != "study.py"]
    return hashlib.sha256(f"{model_version()}|{digest_files(configs)}|{digest_files(code)}".encode()).hexdigest()[:16]


def run_state(step: Step, out: Path) -> tuple[int, int, bool]:
    """(runs in the spec's current plan, how many of them the results folder records, ok or failed; whether
    the folder's design is that plan). Raises what loading the spec raises (a bad spec: the step then runs
    and its command says why)."""
    from experiments.running import design
    from experiments.running.provenance import model_version
    from experiments.running.spec import load_spec
    from experiments.running.store import Store

    planned = set(design.build_plan(load_spec(step.spec_path), model_version())["run_id"])
    store = Store(out / step.folder)
    try:
        recorded = store.status_of_runs() if store.exists() else {}
        current = store.exists() and set(store.design()["run_id"]) == planned
    except DamagedFile:  # a damaged part: `run` quarantines it and recomputes its runs
        recorded, current = {}, False
    return len(planned), len(planned & set(recorded)), current


def _store_stamp(folder: Path) -> str:
    """What a results folder holds now (its committed batches and its design), for the steps that read it."""
    from experiments.running.store import Store

    with contextlib.suppress(Exception):
        batches = "|".join(sorted(Store(folder).batches()))
        return hashlib.sha256(f"{batches}|{digest_files([folder / 'design.parquet'])}".encode()).hexdigest()[:16]
    return ""


class Ledger:
    """``DIR/_study/ledger.json``: per step id its last status, key, stamp, wall time, finish time, error."""

    def __init__(self, path: Path):
        self.path = path
        self.steps: dict[str, dict[str, Any]] = {}
        self.sessions: list[dict[str, Any]] = []
        if path.exists() or path.is_symlink():
            hint = "delete it to start the ledger again (finished sweeps are still skipped: their folders know their runs)"
            data = read_json_object(path, hint)
            steps, sessions = data.get("steps"), data.get("sessions", [])
            if data.get("format") != LEDGER_FORMAT or not isinstance(steps, dict) or not isinstance(sessions, list):
                raise DamagedFile(path, f"is not a study ledger (format {LEDGER_FORMAT!r} with steps)", hint)
            for sid, e in steps.items():
                if not (isinstance(e, dict) and isinstance(e.get("status"), str) and isinstance(e.get("key", ""), str)
                        and isinstance(e.get("seconds", 0), int | float)):
                    raise DamagedFile(path, f"step {sid!r}: not a record with status, key and seconds", hint)
            self.steps, self.sessions = steps, sessions

    def save(self) -> None:
        from experiments.running.store import write_text

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(json.dumps({"format": LEDGER_FORMAT, "version": LEDGER_VERSION, "steps": self.steps,
                               "sessions": self.sessions}, indent=2, ensure_ascii=False) + "\n", self.path)


# ============================================================================ sizes and the estimate
@dataclass(frozen=True)
class Size:
    """A step's work: ``runs`` model runs of ``quarters`` quarters (an upper bound where ``words`` says "at
    most"), on the workers (``parallel``) or one core; ``seconds``: fixed work besides (reading results)."""

    words: str
    runs: int = 0
    quarters: int = 0
    parallel: bool = True
    seconds: float = 0.0
    factor: float = 1.0  # wall time per run relative to a plain run (a fit's overhead)
    cap_seconds: float | None = None  # a wall-time guard of the command itself


def size_of(step: Step, out: Path, config: StudyConfig) -> Size:
    """What ``step`` will do, read from its spec (never changed by the study)."""
    est = config.estimate
    match step.kind:
        case "run":
            from experiments.running.spec import load_spec

            spec = load_spec(step.spec_path)
            total, recorded, _ = run_state(step, out)
            left = f"; {total - recorded:,} not yet run" if recorded else ""
            return Size(f"{total:,} runs x {spec.horizon} quarters ({spec.design.kind}, "
                        f"{_n(spec.replicates, 'replicate')}){left}", total - recorded, spec.horizon)
        case "explain":
            from experiments.attribution import load_explain_spec, variants

            es = load_explain_spec(step.spec_path)
            n = len(variants(es))
            return Size(f"at most {n * es.replicates:,} runs x {es.horizon} quarters ({n} configurations x "
                        f"{es.replicates} worlds)", n * es.replicates, es.horizon)
        case "optimize":
            from experiments.decision.optimize_spec import load_optimize_spec

            o = load_optimize_spec(step.spec_path)
            r, cases = o.sweep.replicates, len(o.cases())
            n = r * (len(o.compare) + o.population * o.generations * cases)
            return Size(f"at most {n:,} runs x {o.sweep.horizon} quarters ({_n(cases, 'budget')} x population "
                        f"{o.population} x {o.generations} generations x {r} replicates, + {len(o.compare)} "
                        f"packages x {r})", n, o.sweep.horizon)
        case "calibrate":
            from experiments.calibration import load_calibration_spec

            c = load_calibration_spec(step.spec_path)
            per = est.get("fit_simulations_per_particle", 1.0)
            n = round(c.population * c.generations * per) * c.seeds_per_particle + c.posterior_predictive
            guard = f"; pyabc stops after {c.max_minutes:g} min" if c.max_minutes else ""  # 0: no guard
            return Size(f"about {n:,} runs x {c.horizon} quarters (population {c.population} x {c.generations} "
                        f"generations x ~{per:g} simulations per accepted particle x {_n(c.seeds_per_particle, 'seed')}"
                        f", + {c.posterior_predictive} predictive{guard})", n, c.horizon,
                        factor=est.get("fit_overhead", 1.0), cap_seconds=60.0 * c.max_minutes or None)
        case "recheck" | "validate":
            import sim

            q = sim.load_config().quarters
            draws = int(step.argv[step.argv.index("--draws") + 1])
            seeds = int(step.argv[step.argv.index("--seeds") + 1]) if "--seeds" in step.argv else 1
            return Size(f"{draws * seeds} status-quo runs x {q} quarters ({draws} posterior draws"
                        + (f" x {seeds} seeds" if seeds > 1 else "") + ", one core)", draws * seeds, q, parallel=False)
        case "analyze":
            return Size("reads the results", seconds=est.get("analyze_seconds", 0.0))
    return Size("reads the results", seconds=est.get("decision_seconds", 0.0))


def _n(k: int, word: str) -> str:
    return f"{k:,} {word}{'s' * (k != 1)}"


@dataclass(frozen=True)
class Probe:
    """The cost of one run on one core, measured now: ``setup`` seconds + ``per_quarter`` seconds a quarter."""

    setup: float
    per_quarter: float

    def run_seconds(self, quarters: int) -> float:
        return self.setup + self.per_quarter * quarters


PROBE_QUARTERS = (4, 20)  # two horizons give the setup and the per-quarter cost (a line through two points)


def probe() -> Probe:
    """Time status-quo runs of two horizons, best of two each, in a warmed-up process (as the sweeps'
    workers are: :func:`sim.warm_up` loads every compiled kernel): about a second."""
    import sim

    sim.warm_up()
    cfg = sim.load_config()
    best = []
    for q in PROBE_QUARTERS:
        c = cfg.with_overrides({}, quarters=q)
        t = []
        for seed in (1, 2):
            t0 = time.perf_counter()
            sim.run_scenario(c, seed=seed)
            t.append(time.perf_counter() - t0)
        best.append(min(t))
    (q0, q1), (t0, t1) = PROBE_QUARTERS, best
    per = max(t1 - t0, 0.0) / (q1 - q0)
    return Probe(max(t0 - per * q0, 0.0), per)


def estimate_seconds(size: Size, pr: Probe, workers: int, config: StudyConfig) -> float:
    """Wall time of a step: its runs on ``workers`` processes at the configured parallel efficiency, plus
    fixed work and the command's start; capped by the command's own wall-time guard."""
    est = config.estimate
    slots = workers * est.get("parallel_efficiency", 1.0) if size.parallel and workers > 1 else 1.0
    t = size.runs * pr.run_seconds(size.quarters) * size.factor / slots + size.seconds
    if size.cap_seconds is not None:
        t = min(t, size.cap_seconds)
    return t + est.get("start_seconds", 0.0)


# ============================================================================ running
@dataclass
class Outcome:
    """What became of a step in this session."""

    step: Step
    status: str  # ok | finding | skipped | failed | blocked | off | interrupted | not selected
    seconds: float = 0.0
    error: str = ""
    detail: str = ""


Launcher = Callable[[list[str], Path], tuple[int, str]]


def launch(argv: list[str], log: Path) -> tuple[int, str]:
    """Run ``python argv`` (this interpreter) as its own process; its output goes to stderr as it comes
    (progress bars included) and to ``log``. Returns (exit status, its one-line error or last line)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    tail = b""
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        assert proc.stdout is not None
        try:
            while chunk := os.read(proc.stdout.fileno(), 65536):
                fh.write(chunk)
                _echo(chunk)
                tail = (tail + chunk)[-TAIL_BYTES:]
            rc = proc.wait()
        except KeyboardInterrupt:  # the command got the same Ctrl-C: let it save what it finished
            with contextlib.suppress(KeyboardInterrupt):
                rc = proc.wait()
            raise
    return rc, error_line(tail.decode("utf-8", "replace"))


def _echo(chunk: bytes) -> None:
    """A command's output to our stderr as it comes (bytes where stderr has a buffer, else text)."""
    buffer = getattr(sys.stderr, "buffer", None)
    if buffer is not None:
        buffer.write(chunk)
    else:
        sys.stderr.write(chunk.decode("utf-8", "replace"))
    sys.stderr.flush()


def error_line(text: str) -> str:
    """The line that says what went wrong: the last ``error: ...`` line, else the last line (a traceback's
    exception), cut to :data:`ERROR_CHARS` characters."""
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    line = (errors or lines or [""])[-1]
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."


def hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _key(step: Step, argv: Sequence[str], inputs: str, stamps: Mapping[str, str]) -> str:
    """What a finished step's outputs hang on: its command (without the executor's options), its spec
    file, :func:`inputs_digest` and the stamps of the steps it needs."""
    plain = [a for i, a in enumerate(argv) if a != "--serial" and a != "--workers"
             and not (i and argv[i - 1] == "--workers")]
    spec = digest_files([step.spec_path]) if step.spec_path else ""
    blob = json.dumps({"argv": plain, "spec": spec, "inputs": inputs, "after": [stamps[a] for a in step.after]})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_study(steps: Sequence[Step], out: str | Path, *, selected: Sequence[Step] | None = None,
              launcher: Launcher = launch, log: Callable[[str], None] | None = None,
              argv: Sequence[str] = ()) -> list[Outcome]:
    """Run ``selected`` (default: every step) of ``steps`` into ``out``, skipping what is complete; write the
    ledger after each step and the index at the end (also after Ctrl-C, which is re-raised)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(out)
    work = out / WORK
    ledger = Ledger(work / "ledger.json")
    chosen = {s.id for s in (selected if selected is not None else steps)}
    todo = [s for s in steps if s.id in chosen and not s.off]
    outcomes: dict[str, Outcome] = {s.id: Outcome(s, "off", detail=s.off) for s in steps if s.off}
    stamps = _Stamps(out, steps, ledger)
    inputs = inputs_digest()
    started, t0 = _now(), time.monotonic()
    session = {"started": started, "argv": list(argv), "steps": [s.id for s in todo]}
    ledger.sessions.append(session)
    log(f"study: {len(todo)} of {len(steps)} steps into {_show_path(out)} (ledger {_show_path(ledger.path)})")
    try:
        for i, step in enumerate(todo, 1):
            head = f"[{i}/{len(todo)}] {step.id}"
            o = _one(step, out, ledger, outcomes, stamps, inputs, launcher, log, head, t0)
            outcomes[step.id] = o
            ledger.save()
    except KeyboardInterrupt:
        session["interrupted"] = True
        raise
    finally:
        session.update(finished=_now(), seconds=round(time.monotonic() - t0, 1))
        ledger.save()
        for s in steps:
            outcomes.setdefault(s.id, Outcome(s, "not selected"))
        write_index(out, steps, outcomes, ledger, seconds=time.monotonic() - t0, started=started)
    return [outcomes[s.id] for s in steps]


class _Stamps(dict):
    """What each step produced, for the keys of the steps that need it: set when a step runs or is skipped
    in this session; for a step not selected this time, its folder's batches (a run) or its ledger stamp."""

    def __init__(self, out: Path, steps: Sequence[Step], ledger: Ledger):
        super().__init__()
        self.out, self.by_id, self.ledger = out, {s.id: s for s in steps}, ledger

    def __missing__(self, sid: str) -> str:
        s = self.by_id.get(sid)
        if s is None:
            return ""
        if s.kind == "run":
            return _store_stamp(self.out / s.folder)
        return str(self.ledger.steps.get(sid, {}).get("stamp", ""))


def _one(step: Step, out: Path, ledger: Ledger, outcomes: Mapping[str, Outcome], stamps: dict[str, str],
         inputs: str, launcher: Launcher, log: Callable[[str], None], head: str, t0: float) -> Outcome:
    """Skip, block or run one step; record it in the ledger."""
    missing = [a for a in step.after if a in outcomes and outcomes[a].status not in ("ok", "finding", "skipped")]
    if missing:
        why = f"needs {missing[0]} ({outcomes[missing[0]].status})"
        log(f"{head}: not run: {why}")
        return Outcome(step, "blocked", detail=why)
    argv = bind(step.argv, out)
    key = _key(step, argv, inputs, stamps)
    entry = ledger.steps.get(step.id, {})
    done, detail = _complete(step, out, entry, key)
    if done:
        stamps[step.id] = _store_stamp(out / step.folder) if step.kind == "run" else entry.get("stamp", key)
        log(f"{head}: complete, skipped ({detail}) [elapsed {hms(time.monotonic() - t0)}]")
        return Outcome(step, "skipped", float(entry.get("seconds", 0.0)), detail=detail)
    log(f"{head}: {shell_line(['python', *argv])} [elapsed {hms(time.monotonic() - t0)}]")
    s0 = time.monotonic()
    try:
        rc, line = launcher(argv, out / WORK / "logs" / f"{step.id.replace(':', '.')}.log")
    except KeyboardInterrupt:
        ledger.steps[step.id] = {"status": "interrupted", "key": "", "seconds": round(time.monotonic() - s0, 1),
                                 "finished": _now(), "error": "interrupted (Ctrl-C)"}
        raise
    seconds = time.monotonic() - s0
    if rc == 0:
        status, error = "ok", ""
    elif rc == FINDING_EXIT.get(step.kind):
        status, error = "finding", line
    else:
        status, error = ("interrupted" if rc == INTERRUPTED else "failed"), f"exit {rc}: {line}"
    # a step that ran made new outputs: a fresh stamp makes the steps that read them run again
    stamp = _store_stamp(out / step.folder) if step.kind == "run" else uuid.uuid4().hex[:16]
    ledger.steps[step.id] = {"status": status, "key": key if status in ("ok", "finding") else "", "stamp": stamp,
                             "seconds": round(seconds, 1), "finished": _now(), "command": shell_line(["python", *argv]),
                             "error": error or None}
    stamps[step.id] = stamp
    word = {"ok": "done", "finding": "done, a check fails", "failed": "FAILED", "interrupted": "interrupted"}[status]
    log(f"{head}: {word} in {hms(seconds)}{': ' + error if error else ''} [elapsed {hms(time.monotonic() - t0)}]")
    if status == "interrupted":
        raise KeyboardInterrupt
    return Outcome(step, status, seconds, error)


def _complete(step: Step, out: Path, entry: Mapping[str, Any], key: str) -> tuple[bool, str]:
    """Is the step done with today's inputs? A run: every run of the spec's plan is recorded in its folder.
    Other steps: the ledger has it finished with the same key, and its outputs are there."""
    if step.kind == "run":
        try:
            total, recorded, current = run_state(step, out)
        except Exception:  # noqa: BLE001 - a spec that cannot be planned: the command says why
            return False, ""
        # a folder whose design.parquet is another version of the spec is not complete even when it holds
        # every run: `run` writes the current design (and runs nothing), which analyze then reads
        return total > 0 and recorded == total and current, f"all {total:,} runs recorded"
    if entry.get("status") not in ("ok", "finding") or entry.get("key") != key:
        return False, ""
    if not all((out / step.folder / f).exists() for f in step.outputs):
        return False, ""
    return True, f"finished {entry.get('finished', '?')} with the same inputs"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _show_path(p: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    p = Path(p)
    with contextlib.suppress(ValueError):
        return str(p.resolve().relative_to(Path.cwd().resolve())) or "."
    return str(p)


# ============================================================================ the index
STATUS_WORDS = {
    "ok": "done", "finding": "done; a check fails (see its report)", "skipped": "complete (skipped)",
    "failed": "**failed**", "blocked": "not run", "off": "not run", "interrupted": "**interrupted**",
    "not selected": "not run this time",
}


def _rows(out: Path, steps: Sequence[Step], outcomes: Mapping[str, Outcome],
          ledger: Ledger) -> list[dict[str, Any]]:
    rows = []
    for s in steps:
        o = outcomes[s.id]
        entry = ledger.steps.get(s.id, {})
        status = STATUS_WORDS[o.status]
        if o.status == "not selected" and entry.get("status"):
            status = f"{STATUS_WORDS.get(entry['status'], entry['status'])}, {entry.get('finished', '')}"
        note = o.error or o.detail or (entry.get("error") or "" if o.status == "not selected" else "")
        seconds = o.seconds if o.status not in ("not selected", "off", "blocked") else entry.get("seconds")
        links = [f"{s.folder}/{f}" for f in s.outputs if f.endswith(".md") and (out / s.folder / f).exists()]
        logfile = f"{WORK}/logs/{s.id.replace(':', '.')}.log"
        if (out / logfile).exists():
            links.append(logfile)
        rows.append({"step": s.id, "command": s.command(out),
                     "status": status, "note": note, "seconds": seconds, "links": links,
                     "failed": o.status in ("failed", "interrupted")})
    return rows


def write_index(out: Path, steps: Sequence[Step], outcomes: Mapping[str, Outcome], ledger: Ledger, *,
                seconds: float, started: str) -> Path:
    """``out/index.md`` and ``out/index.html``: every step with its command, status, wall time and reports."""
    rows = _rows(out, steps, outcomes, ledger)
    counts: dict[str, int] = {}
    for o in outcomes.values():
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {STATUS_WORDS[k].replace('**', '')}" for k, n in counts.items())
    latest = sum(float(r["seconds"] or 0) for r in rows)
    head = [f"This session: started {started}, {hms(seconds)} of wall time. Steps: {summary}.",
            f"Wall time of every step's latest session, added up: {hms(latest)} (skipped steps count the session "
            "that made their results)."]
    md = ["# The whole study", "", "Written by `python -m experiments study` (`make study`); see docs/experiments.md, "
          "\"The whole study\".", "", *head, "",
          "| step | command | status | wall time | reports |", "|---|---|---|---|---|"]
    for r in rows:
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        links = ", ".join(f"[{link}]({link})" for link in r["links"]) or "–"
        md.append(f"| {r['step']} | `{_cell(r['command'])}` | {_cell(status)} | "
                  f"{hms(r['seconds']) if r['seconds'] is not None else '–'} | {links} |")
    out.mkdir(parents=True, exist_ok=True)
    from experiments.running.store import write_text

    write_text("\n".join(md) + "\n", out / "index.md")
    cells = "".join(_html_row(r) for r in rows)
    page = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>The whole study</title>\n"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
            "table{border-collapse:collapse}.failed{background:#fee}</style></head><body>\n<h1>The whole study</h1>\n"
            + "".join(f"<p>{html.escape(h)}</p>\n" for h in head)
            + "<table><tr><th>step</th><th>command</th><th>status</th><th>wall time</th><th>reports</th></tr>\n"
            + cells + "</table></body></html>\n")
    write_text(page, out / "index.html")
    return out / "index.md"


def _html_row(r: Mapping[str, Any]) -> str:
    status = r["status"].replace("**", "") + (f": {r['note']}" if r["note"] else "")
    links = ", ".join(f'<a href="{html.escape(link)}">{html.escape(link)}</a>' for link in r["links"])
    seconds = hms(r["seconds"]) if r["seconds"] is not None else "–"
    tr = '<tr class="failed">' if r["failed"] else "<tr>"
    return (f'{tr}<td>{html.escape(r["step"])}</td>'
            f"<td><code>{html.escape(r['command'])}</code></td><td>{html.escape(status)}</td>"
            f"<td>{seconds}</td><td>{links}</td></tr>\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ============================================================================ the plan
def plan_lines(steps: Sequence[Step], out: Path, config: StudyConfig, workers: int,
               pr: Probe | None) -> tuple[list[str], bool]:
    """The dry run: per step its command, size and estimated wall time; (lines, every step planned)."""
    import warnings

    import pandas as pd

    lines, total, ok = [], 0.0, True
    for i, s in enumerate(steps, 1):
        cmd = s.command(out)
        if s.off:
            lines.append(f"[{i}/{len(steps)}] {s.id}: not run: {s.off}\n      {cmd}")
            continue
        try:
            with warnings.catch_warnings():  # pandas' PerformanceWarning of a wide Morris design is no news here
                warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
                size = size_of(s, out, config)
        except (SpecError, DamagedFile, OSError, ValueError) as exc:
            lines.append(f"[{i}/{len(steps)}] {s.id}: cannot be planned: {error_line(str(exc))}\n      {cmd}")
            ok = False
            continue
        t = estimate_seconds(size, pr, workers, config) if pr else 0.0
        total += t
        when = f", ~{hms(t)}" if pr else ""
        lines.append(f"[{i}/{len(steps)}] {s.id}: {size.words}{when}\n      {cmd}")
    if pr:
        lines.append(f"estimated wall time: ~{hms(total)} on {workers} worker(s)")
        load = os.getloadavg()[0]
        lines.append(f"(basis: a status-quo run measured just now takes {pr.setup:.3f} s + {pr.per_quarter * 1000:.1f} ms "
                     f"a quarter on one core; {config.estimate.get('parallel_efficiency', 1.0):g} parallel efficiency "
                     "and the other factors of [estimate] in the study config. Other work on the machine slows every "
                     f"step: load average now {load:.1f} on {os.cpu_count()} cores. This VM's speed has also swung 2-3x "
                     "between days (docs/experiments.md, Calibration): read the total as within a factor of 2-3. "
                     "Steps marked 'at most' are upper bounds.)")
    return lines, ok
