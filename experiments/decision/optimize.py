"""Best packages under a budget: a many-objective search over the levers (``python -m experiments optimize``).

The question is the paper's, turned round: not "what does package X do?" but "which lever values do
best on levels climbed and talent kept, for what spending, within a budget?". The search is
epsilon-dominance NSGA-II (``platypus.EpsNSGAII``, the algorithm EMA Workbench's ``optimize`` uses by
default); the model is ``sim.run_scenario``, run through the project's executors.

The optimisation lives in four modules, one job each:

    optimize_spec     the spec: read, validate, the cases (one per budget)
    optimize_scoring  candidates run and averaged, objectives and constraints, Pareto set, packages compared
    optimize          (this module) the platypus problem, the search loop of a case, the driver :func:`optimize`
    optimize_report   pareto.csv, the figures and report.md

and :mod:`experiments.decision.checkpoint` writes and checks a search's state.

**Checkpoints.** Every model run is committed to ``DIR/optimize/`` (a
:class:`experiments.running.store.Store`:
``runs/``, ``summary/``); after every generation the optimiser's state is written as plain data to
``DIR/optimize/<case>/state.json`` (:mod:`experiments.decision.checkpoint`: the population and the
ε-archive with their variables, objectives and constraints, the extensions' counters, Python's random
state, the generation and the spec's digest) next to ``evaluations.parquet`` (every evaluated
candidate). Re-running the same command after a kill builds a fresh optimiser, fills it from the last
checkpoint and repeats the interrupted generation with the same random numbers: its finished runs come
from the store (same run ids), so the search continues exactly as if it had not been interrupted.
Raising ``generations`` continues a finished search. Nothing in a checkpoint can run code: it is JSON,
checked (types, lengths, bounds) before use; a damaged checkpoint or evaluations file is refused in one
line naming it, and the ``state.pkl`` of older versions (a pickle) is refused unread.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platypus

import sim
from experiments.decision import checkpoint
from experiments.decision.optimize_report import write_outputs
from experiments.decision.optimize_scoring import (
    CaseResult, Evaluator, OptimizeResult, _check_objectives, evaluate_packages, nondominated,
    _objectives_and_constraints, _replicates)
from experiments.decision.optimize_spec import DERIVED, MAX_GENERATIONS, Case, OptimizeError, OptimizeSpec, check_names
from experiments.running import provenance, seeds
from experiments.running.runner import execute, probe_config
from experiments.running.spec import PROJECT_DIR, Factor
from experiments.running.store import OPTIMIZE_ENTRIES, FolderInUse, Store, why_not_movable, write_parquet, write_text

STATE, EVALUATIONS = "state.json", "evaluations.parquet"  # a case's checkpoint (JSON) and its evaluations
OWN_ENTRIES = OPTIMIZE_ENTRIES  # what an optimisation writes into its folder


# ============================================================================ the platypus problem
class _Problem(platypus.Problem):
    """The levers as platypus variables; objective and constraint values are filled in by
    :class:`_BatchEvaluator` for a whole generation, then read back per solution."""

    def __init__(self, levers: Sequence[Factor], directions: Sequence[int], n_constraints: int):
        super().__init__(len(levers), len(directions), n_constraints)
        self.levers = list(levers)
        for i, f in enumerate(levers):
            if f.values is not None:  # a list of values: the index into it
                self.types[i] = platypus.Integer(0, len(f.values) - 1)
            elif f.integer:
                self.types[i] = platypus.Integer(int(f.params["min"]), int(f.params["max"]))
            else:
                self.types[i] = platypus.Real(f.params["min"], f.params["max"])
        self.directions[:] = [platypus.Direction.MAXIMIZE if d > 0 else platypus.Direction.MINIMIZE
                              for d in directions]
        if n_constraints:
            self.constraints[:] = "<=0"
        self.results: dict[tuple, tuple[list[float], list[float]]] = {}

    def lever_values(self, decoded: Sequence[Any]) -> dict[str, Any]:
        out = {}
        for f, v in zip(self.levers, decoded, strict=True):
            out[f.name] = f.values[int(v)] if f.values is not None else (int(v) if f.integer else float(v))
        return out

    def encode_levers(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for f, t in zip(self.levers, self.types, strict=True):
            v = values[f.name]
            out.append(t.encode(f.values.index(v) if f.values is not None else (int(v) if f.integer else float(v))))
        return out

    def evaluate(self, solution: platypus.Solution) -> None:
        objectives, constraints = self.results[_key(solution.variables)]
        solution.objectives[:] = objectives
        if self.nconstrs:
            solution.constraints[:] = constraints


def _key(decoded: Sequence[Any]) -> tuple:
    return tuple(v.item() if isinstance(v, np.generic) else v for v in decoded)


class _BatchEvaluator(platypus.Evaluator):
    """platypus asks for a list of solutions: evaluate them as one batch of runs, then let platypus read
    the values (constraint violation, feasibility). The optimiser's random stream is left untouched."""

    def __init__(self, score: Callable[[list[dict[str, Any]]], list[tuple[list[float], list[float]]]]):
        super().__init__()
        self.score = score

    def evaluate_all(self, jobs: Sequence[Any]) -> Sequence[Any]:
        if not jobs:
            return jobs
        problem: _Problem = jobs[0].solution.problem
        decoded = [[t.decode(v) for t, v in zip(problem.types, j.solution.variables, strict=True)] for j in jobs]
        state = random.getstate()
        try:
            scored = self.score([problem.lever_values(d) for d in decoded])
        finally:
            random.setstate(state)
        results = {_key(d): s for d, s in zip(decoded, scored, strict=True)}
        problems = {id(j.solution.problem): j.solution.problem for j in jobs}.values()
        for p in problems:
            p.results = results
        try:
            for job in jobs:
                job.run()
        finally:
            for p in problems:
                p.results = {}
        return jobs


# ============================================================================ one case: the search
def _variator(problem: _Problem) -> Any:
    """SBX + polynomial mutation for reals, half-uniform crossover + bit flip for integers (both: compound),
    as platypus and EMA Workbench do."""
    kinds = {type(t) for t in problem.types}
    if kinds == {platypus.Real}:
        return platypus.GAOperator(platypus.SBX(), platypus.PM())
    if kinds == {platypus.Integer}:
        return platypus.GAOperator(platypus.HUX(), platypus.BitFlip())
    return platypus.CompoundOperator(platypus.SBX(), platypus.HUX(), platypus.PM(), platypus.BitFlip())


def _start_points(spec: OptimizeSpec) -> list[dict[str, Any]]:
    """The compared packages projected on the decision levers (others at the base), if inside the ranges."""
    if not spec.start_from_packages:
        return []
    presets = sim.load_presets()
    base = spec.sweep.base
    out: list[dict[str, Any]] = []
    for key in spec.compare:
        values = {}
        for f in spec.levers:
            v = presets[key].levers.get(f.name, base[f.name])
            if f.values is not None:
                if v not in f.values:
                    break
            elif not f.params["min"] <= v <= f.params["max"]:
                break
            values[f.name] = int(v) if f.integer else v
        else:
            if values not in out:
                out.append(values)
    return out[: spec.population]


def _algorithm(spec: OptimizeSpec, problem: _Problem) -> platypus.EpsNSGAII:
    """A new EpsNSGAII for ``problem``, its extensions started: the first population is the compared
    packages (:func:`_start_points`), then random points. A resumed search is built the same way and
    filled from its checkpoint."""
    injected = []
    for values in _start_points(spec):
        s = platypus.Solution(problem)
        s.variables[:] = problem.encode_levers(values)
        injected.append(s)
    generator = platypus.InjectedPopulation(injected) if injected else platypus.RandomGenerator()
    alg = platypus.EpsNSGAII(problem, [spec.epsilons[o] for o in spec.objective_names],
                             population_size=spec.population, generator=generator, variator=_variator(problem),
                             log_frequency=10**9)
    for ext in alg._extensions:
        ext.start_run(alg)
    return alg


def _evaluation_columns(spec: OptimizeSpec) -> tuple[list[str], list[str]]:
    """(every column ``evaluations.parquet`` must have, the numeric ones among them)."""
    numeric = [*spec.objective_names, *[f"slack_{i + 1}" for i in range(len(spec.constraints))], "violation",
               "replicates_ok", "replicates_failed", "generation"]
    return [*spec.lever_names, *numeric, "feasible"], numeric


class _Search:
    """The EpsNSGAII search of one case, with its checkpoint in ``folder``."""

    def __init__(self, spec: OptimizeSpec, case: Case, folder: Path, evaluator: Evaluator, digest: str,
                 log: Callable[[str], None]):
        self.spec, self.case, self.folder, self.ev, self.digest, self.log = spec, case, folder, evaluator, digest, log
        self.rows: list[pd.DataFrame] = []  # evaluations of this session's generations
        self.generation = 0
        self.improvements: list[int] = []
        self.evaluations = pd.DataFrame()
        self.alg: platypus.EpsNSGAII | None = None
        self.rng_state: Any = None

    # --------------------------------------------------------------- scoring one batch
    def score(self, candidates: list[dict[str, Any]]) -> list[tuple[list[float], list[float]]]:
        frame = self.ev.evaluate([(c, c) for c in candidates])
        if self.generation == 0:
            _check_objectives(self.spec, frame, "the first generation")
        values, scored = _objectives_and_constraints(self.spec, self.case, frame)
        table = pd.concat([frame[self.spec.lever_names], values,
                           frame[["replicates_ok", "replicates_failed"]]], axis=1)
        extra = [d for d in DERIVED if d in frame and d not in table]
        table = pd.concat([table, frame[extra]], axis=1).assign(generation=self.generation + 1)
        self.rows.append(table)
        return scored

    # --------------------------------------------------------------- checkpoints
    def load(self) -> bool:
        """Resume from the checkpoint in ``folder`` (False: there is none). A checkpoint of another spec or
        model version, a damaged one, or an older version's pickle raises :class:`OptimizeError`."""
        try:
            return self.read()
        except checkpoint.CheckpointError as exc:
            raise OptimizeError(_refusal(exc)) from None

    def read(self) -> bool:
        """:meth:`load`, raising :class:`checkpoint.CheckpointError` (:class:`checkpoint.StaleCheckpoint`
        for another search's checkpoint). Nothing is read with pickle."""
        checkpoint.refuse_pickle(self.folder)
        path = self.folder / STATE
        if not path.exists() and not path.is_symlink():
            return False
        spec = self.spec
        alg = _algorithm(spec, _Problem(spec.levers, [d for _, d in spec.objectives], len(spec.constraints) + 1))
        generation, improvements, rng_state = checkpoint.load(path, alg, self.digest, MAX_GENERATIONS)
        columns, numeric = _evaluation_columns(spec)
        evaluations = checkpoint.read_parquet(self.folder / EVALUATIONS, columns, generation)
        for c in numeric:
            if not pd.api.types.is_numeric_dtype(evaluations[c]) or pd.api.types.is_bool_dtype(evaluations[c]):
                raise checkpoint.CheckpointError(self.folder / EVALUATIONS, f"column {c!r} holds "
                                                 f"{evaluations[c].dtype} values, not numbers")
        if not pd.api.types.is_bool_dtype(evaluations["feasible"]):
            raise checkpoint.CheckpointError(self.folder / EVALUATIONS, "column 'feasible' holds "
                                             f"{evaluations['feasible'].dtype} values, not true/false")
        self.alg, self.rng_state, self.generation, self.improvements = alg, rng_state, generation, improvements
        self.evaluations = evaluations
        return True

    def save(self) -> None:
        """The evaluations, then the state that says which generation they reach (a kill in between leaves
        evaluations of the next generation, which :meth:`read` drops: they are evaluated again)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.rows:
            self.evaluations = pd.concat([self.evaluations, *self.rows], ignore_index=True)
            self.rows = []
        write_parquet(self.evaluations, self.folder / EVALUATIONS)
        checkpoint.save(self.folder / STATE, self.alg, self.rng_state, digest=self.digest,
                        generation=self.generation, improvements=self.improvements, case=self.case.name,
                        budget=self.case.budget, saved=provenance.now())

    # --------------------------------------------------------------- the loop
    def run(self, seed: int, stop_after: int | None = None) -> bool:
        """Run generations up to the spec's; True when finished. ``stop_after``: at most this many in this call."""
        spec = self.spec
        resumed = self.load()
        if not resumed:
            random.seed(seed)  # every case starts from the same population (its runs are shared)
            self.alg = _algorithm(spec, _Problem(spec.levers, [d for _, d in spec.objectives],
                                                 len(spec.constraints) + 1))
            self.rng_state = random.getstate()
        elif self.generation >= spec.generations:
            self.log(f"{spec.name} {self.case.name}: finished earlier ({self.generation} generations)")
        self.alg.evaluator = _BatchEvaluator(self.score)
        done_now = 0
        while self.generation < spec.generations and (stop_after is None or done_now < stop_after):
            t0, ran0, reused0 = time.monotonic(), self.ev.ran, self.ev.reused
            random.setstate(self.rng_state)
            for ext in self.alg._extensions:
                ext.pre_step(self.alg)
            self.alg.step()
            for ext in self.alg._extensions:
                ext.post_step(self.alg)
            self.rng_state = random.getstate()
            self.generation += 1
            done_now += 1
            self.improvements.append(int(self.alg.archive.improvements))
            evaluated = sum(len(r) for r in self.rows)
            self.save()
            feasible = sum(1 for s in self.alg.archive if s.feasible)
            self.log(f"{spec.name} {self.case.name}: generation {self.generation}/{spec.generations}: "
                     f"{evaluated} candidates ({self.ev.ran - ran0} runs, {self.ev.reused - reused0} reused), "
                     f"archive {len(self.alg.archive)} ({feasible} feasible), "
                     f"{self.improvements[-1]} epsilon improvements so far, {time.monotonic() - t0:.0f} s")
        return self.generation >= spec.generations

    def pareto(self) -> pd.DataFrame:
        """The non-dominated set of every feasible candidate evaluated (each lever combination once, where it
        was first found), sorted by the first objective; ``in_archive``: also in the optimiser's ε-archive."""
        spec = self.spec
        ev = self.evaluations
        if ev.empty:
            return pd.DataFrame(columns=[*spec.lever_names, *spec.objective_names, "in_archive"])
        ev = ev[ev["feasible"].astype(bool)].drop_duplicates(spec.lever_names, keep="first")
        mask = nondominated(ev[spec.objective_names].to_numpy(dtype=float), [d for _, d in spec.objectives])
        out = ev[mask].copy()
        problem = self.alg.problem
        kept = {_key(problem.lever_values([t.decode(v) for t, v in zip(problem.types, s.variables, strict=True)])
                     .values()) for s in self.alg.archive}
        out["in_archive"] = [_key(r) in kept for r in out[spec.lever_names].itertuples(index=False)]
        first, d = spec.objectives[0]
        return out.sort_values(first, ascending=d < 0, kind="stable").reset_index(drop=True)


# ============================================================================ the driver
def default_out_dir(spec: OptimizeSpec, results_root: str | Path = "results") -> Path:
    return Path(results_root) / (spec.path.stem if spec.path is not None else spec.name)


def _check_folder(root: Path, force: bool) -> None:
    """The folder may be new, empty, or an optimisation's; anything else is refused, or with ``force``
    moved aside if it is a results folder of this project holding nothing else (never a user's folder)."""
    if not root.is_dir():
        return
    foreign = sorted(e.name for e in root.iterdir() if e.name not in OWN_ENTRIES and not e.name.endswith(".tmp"))
    if not foreign:
        return
    shown = ", ".join(foreign[:6]) + (" ..." if len(foreign) > 6 else "")
    if force:
        problem = why_not_movable(root)
        if problem:
            raise OptimizeError(f"{root} holds files that are not an optimisation ({shown}); it {problem}. "
                                "Nothing was written; give another --out")
        moved = Store(root).move_aside()
        print(f"moved the old results aside: {moved}", file=sys.stderr)
        return
    raise OptimizeError(f"{root} holds files that are not an optimisation ({shown}: a sweep or a fit?). Nothing "
                        "was written. Give another --out, or add --force to move the old folder aside first")


def _summary_names(spec: OptimizeSpec, model: Callable | None) -> list[str]:
    run = model or sim.run_scenario
    return list(run(probe_config(spec.sweep.base), 0).summary())


def optimize(spec: OptimizeSpec, out: str | Path | None = None, executor: Any = None, *,
             model: Callable | None = None, force: bool = False, stop_after: int | None = None,
             log: Callable[[str], None] | None = None, command: str | None = None) -> OptimizeResult:
    """Run (or resume) every case of ``spec`` into ``out`` (default ``results/<spec file name>``), then
    evaluate the compared packages and write ``pareto.csv``, the figures and ``report.md``.

    ``executor``: a :mod:`experiments.running.executors` executor (default serial). ``model`` replaces
    ``sim.run_scenario`` (a picklable top-level callable; for tests). ``stop_after``: at most this many
    generations per case in this call (the next call continues). ``force``: a folder holding something
    else, a checkpoint of another spec or model version, a damaged checkpoint or an older version's
    pickled one, is moved aside first.
    """
    from experiments.running.executors import SerialExecutor

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    root = Path(out) if out is not None else default_out_dir(spec)
    check_names(spec, _summary_names(spec, model))
    mv = provenance.model_version()
    _check_folder(root, force)
    stale, damaged = [], []
    for c in spec.cases():  # every checkpoint is read and checked before anything is written
        try:
            _Search(spec, c, root / "optimize" / c.name, None, spec.digest(mv, c), log).read()
        except checkpoint.StaleCheckpoint:
            stale.append(c.name)
        except checkpoint.CheckpointError as exc:
            damaged.append(exc)
    if damaged and not force:
        raise OptimizeError(_refusal(damaged[0]))
    if stale and not force:
        raise OptimizeError(f"{root}: the checkpoint of {', '.join(stale)} was made by another spec or model version; "
                            "nothing was written. Give another --out, or add --force to move the old results aside "
                            "and start again")
    if stale or damaged:
        try:
            moved = Store(root).move_aside()
        except FolderInUse as exc:
            raise OptimizeError(str(exc)) from None
        log(f"moved the old results aside: {moved}")
    executor = executor or SerialExecutor()
    fn = execute if model is None else functools.partial(execute, model=model)
    started = time.time()
    store = Store(root / "optimize")
    outer_random = random.getstate()
    results: list[CaseResult] = []
    finished = True
    with contextlib.ExitStack() as stack:
        ex = stack.enter_context(executor)
        stack.enter_context(store.lock())
        write_text(spec.text, root / "spec.toml")
        prov_file = root / "optimize" / "provenance.json"
        prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {
            "created": provenance.now(), "sessions": []}
        prov.update(experiment=spec.name, spec_file=str(spec.path) if spec.path else None, model_version=mv,
                    git=provenance.git_state(PROJECT_DIR), packages=provenance.package_versions(),
                    host=provenance.host_info())
        session = {"started": provenance.now(), "command": command or " ".join(sys.argv),
                   "executor": ex.describe()}
        prov["sessions"].append(session)
        write_text(json.dumps(prov, indent=2, default=str) + "\n", prov_file)
        ev = Evaluator(spec, store, ex, fn, mv)
        try:
            packages = evaluate_packages(spec, ev)  # first: their runs are the injected start points' too
            seed = seeds.design_seed(spec.sweep.seed)
            for case in spec.cases():
                search = _Search(spec, case, root / "optimize" / case.name, ev, spec.digest(mv, case), log)
                done = search.run(seed, stop_after)
                finished &= done
                pareto = search.pareto()
                reps = _replicates(ev, spec, pareto[spec.lever_names].to_dict("records"))
                results.append(CaseResult(case=case, generation=search.generation, evaluations=search.evaluations,
                                          pareto=pareto, improvements=search.improvements, replicates=reps))
            presets = sim.load_presets()
            package_reps = _replicates(ev, spec, [presets[k].levers for k in spec.compare])
        finally:
            random.setstate(outer_random)
            session.update(finished=provenance.now(), runs=ev.ran, reused=ev.reused)
            write_text(json.dumps(prov, indent=2, default=str) + "\n", prov_file)
    res = OptimizeResult(root=root, spec=spec, cases=results, packages=packages, finished=finished, runs=ev.ran,
                         reused=ev.reused, seconds=time.time() - started, package_replicates=package_reps)
    res.files = write_outputs(res)
    return res


def _refusal(exc: checkpoint.CheckpointError) -> str:
    """A checkpoint that is not resumed: the file, what is wrong, and what to do (one line)."""
    return f"{exc} — give another --out, or --force to move the old results aside and start again"


__all__ = ["default_out_dir", "optimize"]
