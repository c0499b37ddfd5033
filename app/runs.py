"""Replicated runs for the A/B comparison, in a warm process pool kept by the app.

**Replicates.** A comparison runs each setting M times. Replicate ``r`` is a :class:`Replicate`, a
``(seed, overrides)`` pair: the seed of the run's random streams and values for uncertain
parameters (empty = the config's values). Replicate ``r`` of setting A and replicate ``r`` of
setting B use the *same* pair (common random numbers), so each difference B − A is paired: the same
graduates, the same demand shocks, the same draws of the uncertain parameters, different policy.
:func:`seed_replicates` makes M replicates from consecutive seeds; :func:`draw_replicates` takes
parameter draws (e.g. rows of a calibration posterior) and pairs each with a seed — the page can
switch to posterior draws without changing anything else.

**Posterior replicates.** The calibration fitted the behavioural coefficients (``configs/posterior.parquet``,
:mod:`sim.outputs.posterior`). :func:`posterior_status` reads it once per process (again when the file changes)
and says whether it can be used: present, valid and *current* (fitted to this model and these targets;
``sim.outputs.posterior.stale_reasons``, two short model runs, about 1 s). That check starts in a background
thread when the page warms the pool (:func:`warm_up` → :func:`check_posterior_soon`), so no page
render waits for it: :func:`posterior_status_if_known` gives the status, or None while it is unknown. :func:`posterior_replicates` pairs
draw ``r`` of ``draws(M, seed=first_seed)`` with seed ``first_seed + r``, so a given seed and M give
the same replicates every time. :func:`ab_replicates` gives the replicates of either kind
(:data:`VARY_KINDS`): ``"seeds"`` (chance only) or ``"posterior"`` (chance and the posterior's
uncertainty about behaviour).

**Pool.** The runs go to a :class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` start method,
``APP_WORKERS`` workers, default ``min(2, cpu count)``), created lazily by :func:`pool` (the server
calls :func:`warm_up` as it starts, ``app.page.warm_server``, and a page again when it first renders,
so workers have imported the model before anyone presses "Run"), shared by every session of the
server, and shut down when the server process
exits (``atexit``). Workers exit by themselves if the server dies; ``APP_WORKER_NICE=5`` runs them at
a lower CPU priority than the server (the live model then steps smoothly during a comparison, but on a
machine shared with other busy programs the comparison slows down a lot), default 0.
``APP_WORKERS=0`` runs everything in the calling process (tests, machines without ``spawn``).

**Cache.** Finished runs are kept per (levers, replicate, quarters, channels switched off) in a small LRU cache in the
server process: the status-quo side of a comparison, usually the same every time, is run once. The
page prefetches it (:func:`prefetch`) in the background for its seed when it opens (and when the seed changes),
so the usual comparison, status quo vs a policy, only waits for the policy's runs; a run already in
flight is never started twice.

This module imports no UI code and imports the model only inside functions, so a worker starts
quickly and sets its thread limits before numpy loads.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

WORKERS_ENV = "APP_WORKERS"
CACHE_MAX = 256
WORKER_NICE = int(os.environ.get("APP_WORKER_NICE", "0"))  # > 0: workers yield the CPU to the server


# ----------------------------------------------------------------------------------- replicates
@dataclass(frozen=True)
class Replicate:
    """One replicate: the run's seed and its uncertain-parameter values (``((name, value), ...)``);
    for a posterior draw also its index ``draw`` (0-based, the index of ``Posterior.draws``) and the
    ``particle`` (row of configs/posterior.parquet) it came from."""

    seed: int
    overrides: tuple = field(default=())
    draw: int | None = None
    particle: int | None = None

    @property
    def label(self) -> str:
        if self.draw is not None:
            return f"{self.seed}/d{self.draw}"
        return str(self.seed) if not self.overrides else f"{self.seed}*"


def seed_replicates(first_seed: int, m: int) -> list[Replicate]:
    """``m`` replicates with seeds ``first_seed, first_seed + 1, ...`` and the config's parameters."""
    return [Replicate(int(first_seed) + r) for r in range(int(m))]


def draw_replicates(draws: Iterable[Mapping[str, float]], first_seed: int = 1) -> list[Replicate]:
    """One replicate per parameter draw (e.g. posterior rows ``{name: value}``), seeds from ``first_seed``."""
    return [Replicate(int(first_seed) + r, tuple(sorted((str(k), float(v)) for k, v in d.items())))
            for r, d in enumerate(draws)]


VARY_KINDS = ("posterior", "seeds")  # what replicates vary: seeds + posterior draws / seeds only
POSTERIOR_PATH = None  # None: sim.outputs.posterior.POSTERIOR_FILE (configs/posterior.parquet); tests point it elsewhere


@dataclass(frozen=True, eq=False)  # compared by identity: one per file version
class PosteriorStatus:
    """Whether the fitted posterior can drive the A/B replicates: ``problem`` is None (usable),
    ``"missing"``, ``"invalid"`` or ``"stale"``; ``detail`` says why (one line, English, from sim)."""

    posterior: object | None  # sim.outputs.posterior.Posterior
    problem: str | None = None
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.posterior is not None and self.problem is None

    @property
    def default_vary(self) -> str:
        """The page's default: posterior draws when the posterior is usable, seeds only otherwise."""
        return "posterior" if self.usable else "seeds"


_STATUS: dict = {}  # (path, mtime_ns, size) -> PosteriorStatus
_STATUS_LOCK = threading.Lock()  # guards _STATUS (held for a dictionary look-up only)
_CHECK_LOCK = threading.Lock()  # one check at a time (held while checking, about 1 s)


def _posterior_path():
    from pathlib import Path

    from sim.outputs.posterior import POSTERIOR_FILE

    return Path(POSTERIOR_PATH) if POSTERIOR_PATH is not None else POSTERIOR_FILE


def _status_key(path) -> tuple:
    try:
        st = path.stat()
        return str(path), st.st_mtime_ns, st.st_size
    except OSError:
        return str(path), None, None


def _check_posterior(path) -> PosteriorStatus:
    from sim.inputs.base import ConfigError
    from sim.outputs.posterior import load_posterior, stale_reasons

    if not path.is_file():
        return PosteriorStatus(None, "missing", f"{path}: no posterior file")
    try:
        post = load_posterior(path)
    except ConfigError as exc:
        return PosteriorStatus(None, "invalid", str(exc))
    try:
        reasons = stale_reasons(post)
    except Exception as exc:  # noqa: BLE001 - an unreadable provenance is not a usable posterior
        return PosteriorStatus(post, "invalid", f"{path}: cannot check it ({type(exc).__name__}: {exc})")
    if reasons:
        return PosteriorStatus(post, "stale", f"{path}: " + "; ".join(reasons))
    return PosteriorStatus(post)


def posterior_status_if_known() -> PosteriorStatus | None:
    """The status of the current file version if it has been checked already, else None; never
    checks and never waits for a check under way (a page's first render calls it)."""
    key = _status_key(_posterior_path())
    with _STATUS_LOCK:
        return _STATUS.get(key)


def posterior_status() -> PosteriorStatus:
    """The committed posterior (or :data:`POSTERIOR_PATH`) and whether it is usable; checked once per
    process and file version (path, modification time, size), in whichever thread asks first (the
    others wait for that check). Takes about 1 s the first time: call it from a background thread
    (:func:`check_posterior_soon`), not while a page renders."""
    path = _posterior_path()
    key = _status_key(path)
    with _STATUS_LOCK:
        hit = _STATUS.get(key)
    if hit is not None:
        return hit
    with _CHECK_LOCK:
        with _STATUS_LOCK:
            hit = _STATUS.get(key)
        if hit is None:
            hit = _check_posterior(path)
            with _STATUS_LOCK:
                _STATUS[key] = hit
    return hit


def check_posterior_soon() -> threading.Thread | None:
    """Start checking the posterior in a background thread, unless its status is known or a check is
    under way; returns the thread (None if none was started). :func:`warm_up` calls it first."""
    if posterior_status_if_known() is not None or _CHECK_LOCK.locked():
        return None
    th = threading.Thread(target=posterior_status, daemon=True, name="posterior-check")
    th.start()
    return th


def posterior_replicates(post, first_seed: int, m: int) -> list[Replicate]:
    """``m`` replicates from ``post.draws(m, seed=first_seed)``: replicate ``r`` has seed ``first_seed + r``,
    the parameter values of draw ``r`` and its draw / particle index (same seed and m, same replicates)."""
    draws = post.draws(int(m), seed=int(first_seed))
    rows = draws[post.parameters].to_dict("records")
    return [Replicate(rep.seed, rep.overrides, draw=r, particle=int(p))
            for r, (rep, p) in enumerate(zip(draw_replicates(rows, first_seed), draws["particle"]))]


def ab_replicates(vary: str, first_seed: int, m: int) -> list[Replicate]:
    """The A/B replicates of kind ``vary`` (:data:`VARY_KINDS`); ValueError if the posterior is asked
    for but not usable (the page never offers it then)."""
    if vary == "seeds":
        return seed_replicates(first_seed, m)
    if vary != "posterior":
        raise ValueError(f"replicates vary: {vary!r} is not one of {VARY_KINDS}")
    status = posterior_status()
    if not status.usable:
        raise ValueError(f"posterior draws are not available: {status.detail}")
    return posterior_replicates(status.posterior, first_seed, m)


@dataclass(frozen=True)
class RunTables:
    """What a comparison needs of one run: the city and cluster tables and the model's summary
    (``ScenarioResult.summary()``: the outcomes ``python -m experiments explain`` reads; picklable, small)."""

    city: object  # pandas.DataFrame
    clusters: object  # pandas.DataFrame
    levers: tuple
    replicate: Replicate
    quarters: int
    off: tuple = ()  # channels switched off (sorted names; app.explain)
    summary: Mapping = field(default_factory=dict)


def _key(levers: Mapping[str, float], rep: Replicate, quarters: int, off: Iterable[str] = ()) -> tuple:
    return tuple(sorted((k, float(v)) for k, v in levers.items())), rep, int(quarters), tuple(sorted(off))


def run_one(levers: Mapping[str, float], rep: Replicate, quarters: int, off: Iterable[str] = ()) -> RunTables:
    """Run one replicate of one setting, with the channels ``off`` switched off (in whichever process
    calls it)."""
    import sim

    off = tuple(sorted(off))
    values = {**dict(rep.overrides), **dict(levers)}
    if off:
        values["channels_off"] = list(off)
    cfg = sim.load_config().with_overrides(values, quarters=int(quarters))
    res = sim.run_scenario(cfg, seed=rep.seed, record="city+clusters")  # all a comparison reads
    return RunTables(res.city, res.clusters, _key(levers, rep, quarters)[0], rep, int(quarters), off, res.summary())


# ----------------------------------------------------------------------------------------- pool
_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
_INFLIGHT: dict = {}  # key -> Future of a run submitted but not finished (prefetch or another session)


def n_workers() -> int:
    raw = os.environ.get(WORKERS_ENV)
    if raw is not None and raw.strip() != "":
        return max(0, int(raw))
    return max(1, min(2, os.cpu_count() or 1))


def _init_worker(parent: int) -> None:
    """Worker start-up: one thread per numeric library, lower priority, exit with the parent."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        pass

    def watch() -> None:
        import time

        while True:
            time.sleep(2.0)
            if os.getppid() != parent:  # the server died without shutting us down
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    import gc

    import sim  # noqa: F401  (import the model once, before the first task)
    import sim.model  # noqa: F401

    gc.collect()
    gc.freeze()  # imported modules out of the collector's way (see experiments.running.runner.settle_process)


def _warm_task() -> int:
    """Loads the model's caches (config, layout) and compiled kernels in the worker (``sim.warm_up``)
    and makes one two-quarter run the app's way."""
    import sim

    sim.warm_up()
    run_one({}, Replicate(0), 2)
    return os.getpid()


def pool() -> ProcessPoolExecutor | None:
    """The app's process pool (created on first use); None when ``APP_WORKERS=0``."""
    global _POOL
    if n_workers() == 0:
        return None
    with _POOL_LOCK:
        if _POOL is None:
            import multiprocessing as mp

            _POOL = ProcessPoolExecutor(max_workers=n_workers(), mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker, initargs=(os.getpid(),))
        return _POOL


_WARM: list[Future] = []


def warm_up() -> list[Future]:
    """Start checking the posterior (:func:`check_posterior_soon`) and the workers (one warm-up task
    each, once per pool), without waiting for either."""
    check_posterior_soon()
    ex = pool()
    if ex is None:
        return []
    with _POOL_LOCK:
        if not _WARM or getattr(_WARM[0], "_app_pool", None) is not ex:
            _WARM[:] = [ex.submit(_warm_task) for _ in range(n_workers())]
            for f in _WARM:
                f._app_pool = ex
        return list(_WARM)


def shutdown() -> None:
    """Stop the workers (also called at interpreter exit)."""
    global _POOL
    with _POOL_LOCK:
        ex, _POOL = _POOL, None
    if ex is not None:
        ex.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
        _INFLIGHT.clear()


def _cached(key) -> RunTables | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        return hit


def _store(key, value: RunTables) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = value
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_MAX:
            _CACHE.popitem(last=False)


def _submit(ex: ProcessPoolExecutor, key, levers, rep: Replicate, quarters: int, off: tuple = ()) -> Future:
    """The future of this run: one already in flight, or a new one (stored in the cache when done)."""
    with _CACHE_LOCK:
        fut = _INFLIGHT.get(key)
        if fut is not None:
            return fut
        fut = ex.submit(run_one, dict(levers), rep, quarters, tuple(off))
        _INFLIGHT[key] = fut

    def done(f: Future) -> None:
        with _CACHE_LOCK:
            _INFLIGHT.pop(key, None)
        if not f.cancelled() and f.exception() is None:
            _store(key, f.result())

    fut.add_done_callback(done)
    return fut


def prefetch(levers: Mapping[str, float], replicates: Sequence[Replicate], quarters: int) -> int:
    """Start runs in the background (pool only) so a later comparison finds them cached, e.g. the
    status quo for the seeds a page will compare; returns how many were submitted."""
    ex = pool()
    if ex is None:
        return 0
    n = 0
    for rep in replicates:
        key = _key(levers, rep, quarters)
        if _cached(key) is None:
            _submit(ex, key, levers, rep, quarters)
            n += 1
    return n


def cached_count(jobs: Sequence[tuple], quarters: int) -> int:
    """How many of ``jobs`` (as for :func:`run_many`) are cached already (for a time estimate)."""
    return sum(_cached(_key(job[0], job[1], quarters, job[2] if len(job) > 2 else ())) is not None for job in jobs)


class Superseded(Exception):
    """A :func:`run_many` call given up because its caller no longer wants the result (``stale``)."""


STALE_POLL_S = 0.05  # s: how often run_many asks ``stale()`` while it waits for the pool


def run_many(jobs: Sequence[tuple], quarters: int,
             on_done: Callable[[int, int], None] | None = None,
             stale: Callable[[], bool] | None = None) -> list[RunTables]:
    """Run every ``(levers, replicate)`` or ``(levers, replicate, channels off)`` job for ``quarters``
    quarters; results in job order.

    Cached runs are reused; the rest go to the pool (or run here with ``APP_WORKERS=0``). A pool
    that broke (a worker killed) is replaced once and the missing runs are retried, as are runs
    another caller cancelled. ``on_done(done, total)`` is called as runs finish (from this thread).
    ``stale()`` (optional, e.g. the instant answer of a setting the page has left): when it turns
    true, the runs not yet started are cancelled (so newer work is not queued behind them), those
    under way finish into the cache, and :class:`Superseded` is raised.
    """
    jobs = [(job[0], job[1], tuple(sorted(job[2])) if len(job) > 2 else ()) for job in jobs]
    keys = [_key(lv, rep, quarters, off) for lv, rep, off in jobs]
    out: list[RunTables | None] = [_cached(k) for k in keys]
    total = len(jobs)
    done = sum(r is not None for r in out)
    if on_done:
        on_done(done, total)
    todo: dict[tuple, list[int]] = {}  # identical jobs (e.g. A == B) run once
    for i, r in enumerate(out):
        if r is None:
            todo.setdefault(keys[i], []).append(i)

    def finish(key, result: RunTables) -> None:
        nonlocal done
        _store(key, result)
        for i in todo[key]:
            out[i] = result
        done += len(todo[key])
        if on_done:
            on_done(done, total)

    for attempt in range(2):
        missing = [k for k in todo if out[todo[k][0]] is None]
        if not missing:
            break
        ex = pool()
        if ex is None:
            for k in missing:
                if stale is not None and stale():
                    raise Superseded()
                i = todo[k][0]
                finish(k, run_one(jobs[i][0], jobs[i][1], quarters, jobs[i][2]))
            break
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        futures = {_submit(ex, k, jobs[todo[k][0]][0], jobs[todo[k][0]][1], quarters, jobs[todo[k][0]][2]): k
                   for k in missing}
        try:
            pending = set(futures)
            while pending:
                done_now, pending = wait(pending, timeout=STALE_POLL_S if stale is not None else None,
                                         return_when=FIRST_COMPLETED)
                for fut in done_now:
                    if not fut.cancelled():  # cancelled by another caller: run again on the next attempt
                        finish(futures[fut], fut.result())
                if stale is not None and stale():
                    for fut in pending:
                        fut.cancel()  # only runs not yet started are cancelled
                    raise Superseded()
        except BrokenProcessPool:
            shutdown()  # a new pool on the next attempt
            if attempt:
                raise
    return [r for r in out if r is not None] if all(r is not None for r in out) else out  # type: ignore[return-value]


def run_pairs(levers_a: Mapping[str, float], levers_b: Mapping[str, float], replicates: Sequence[Replicate],
              quarters: int, on_done: Callable[[int, int], None] | None = None,
              stale: Callable[[], bool] | None = None):
    """Paired runs: replicate r of A and of B share the replicate's seed and parameter draws.
    Returns (list of A RunTables, list of B RunTables), in replicate order (``stale``: :func:`run_many`)."""
    jobs = [(levers_a, rep) for rep in replicates] + [(levers_b, rep) for rep in replicates]
    res = run_many(jobs, quarters, on_done, stale)
    m = len(replicates)
    return res[:m], res[m:]
