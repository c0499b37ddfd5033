"""Executors: run ``fn(task)`` for many tasks and yield records as they finish.

All three take a picklable top-level callable (normally :func:`experiments.running.runner.execute`) and an
iterable of tasks, keep a bounded number of tasks in flight (the driver's memory stays flat), and
never hold a result after yielding it. Results depend only on the task, so every executor gives the
same records for the same tasks.

* :class:`SerialExecutor` — in this process, one after another (debuggable).
* :class:`ProcessExecutor` — ``concurrent.futures.ProcessPoolExecutor`` with a ``spawn`` context. If a
  worker process dies the pool is rebuilt and the lost tasks are rerun one at a time (a run that kills
  its worker alone is recorded as failed; the others complete).
* :class:`DaskExecutor` — a ``distributed.Client`` on an existing scheduler (``tcp://host:port``) or on
  a ``LocalCluster`` (``"local"``). Several runs go in one Dask task (about ``chunk_seconds`` of work)
  to amortise Dask's per-task cost.

Infrastructure faults are not model failures. Only an exception inside a run (``execute`` turns it
into a failed record) or a run that keeps killing the worker it runs on *alone* is recorded as
failed. Runs lost with a worker are rerun. Runs lost with the Dask scheduler or the connection to it
are not recorded at all (they stay pending, so the same command resumes them):
:class:`ExecutorLost` ends the sweep after the finished runs were yielded.

Worker processes this module starts die with their driver, even when it is SIGKILLed: local pool
workers get a parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``) and a watchdog thread that
exits when their parent changes; ``LocalCluster`` workers exit when the pipe to their nanny (which
lives in the driver) closes.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from experiments.running.runner import RunRecord, RunTask, failure

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers() -> int:
    """All cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _one_thread_per_worker() -> None:
    # Workers inherit the environment at spawn: keep BLAS from oversubscribing the cores.
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")


class ExecutorError(RuntimeError):
    """The executor cannot run tasks at all (no scheduler at the address, workers die at start-up)."""


class ExecutorLost(ExecutorError):
    """The executor went away mid-sweep (the Dask scheduler, or the connection to it).

    Runs that had finished were yielded before this is raised; runs in flight were *not* (they are no
    model failures and stay pending, so running the same sweep again resumes them). ``str(exc)`` is
    one line naming what was lost, e.g. ``lost the Dask scheduler at tcp://10.0.0.5:8786``.
    """


# ---------------------------------------------------------------------------- workers die with the driver
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when the thread that started it exits (best effort)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc/prctl
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(1)  # the driver is gone (reparented to init or a subreaper): nobody wants our results


def die_with_parent(parent_pid: int, pdeathsig: bool = True, interval: float = 0.5) -> None:
    """Worker initializer: end this process as soon as its parent ``parent_pid`` dies, even by SIGKILL.

    Two mechanisms: the Linux parent-death signal (immediate, works while the run holds the GIL; only
    safe when the parent thread that starts workers lives as long as the parent process, hence
    ``pdeathsig``) and a daemon thread that exits when the parent pid changes (every ``interval`` s).
    """
    if pdeathsig:
        _set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, interval), name="watch-driver", daemon=True).start()


def start_worker(parent_pid: int, pdeathsig: bool = True) -> None:
    """Worker initializer: die with the driver (:func:`die_with_parent`) and get warm (``sim.warm_up``:
    the model imported and its compiled kernels loaded), so no run pays for the start-up. A warm-up
    that fails leaves the worker as it is: the first run then reports the problem itself."""
    die_with_parent(parent_pid, pdeathsig)
    try:
        import sim

        sim.warm_up()
    except Exception:  # noqa: BLE001 - the runs will raise it with their own context
        pass


def _warm_worker_plugin():
    """A Dask worker plugin that gets each worker warm when it starts (``sim.warm_up``, like
    :func:`start_worker` for local processes)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmUp(WorkerPlugin):
        name = "qhd-cluster-sim-warm-up"

        def setup(self, worker) -> None:
            try:
                import sim

                sim.warm_up()
            except Exception:  # noqa: BLE001 - the runs will raise it with their own context
                pass

    return WarmUp()


def _pool_works(pool: cf.ProcessPoolExecutor, timeout: float = 120.0) -> bool:
    """Can this pool run a trivial task?"""
    try:
        pool.submit(os.getpid).result(timeout=timeout)
        return True
    except (cf.process.BrokenProcessPool, cf.TimeoutError):
        return False


class SerialExecutor:
    """Run tasks one by one in this process."""

    name = "serial"
    workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def imap_unordered(self, fn: Callable[[RunTask], RunRecord], tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
        for task in tasks:
            yield fn(task)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": 1}


class ProcessExecutor:
    """Local worker processes (``spawn``: a fresh interpreter per worker, nothing inherited by fork).

    A worker that dies (segfault, out of memory, ``os._exit``, killed from outside) breaks the whole
    pool and loses every task in flight: an infrastructure fault, not yet a failure of any run. The
    pool is rebuilt and the lost tasks are rerun *one at a time*: a task that kills its worker
    ``culprit_deaths`` times (default 2) while running alone is the culprit and is recorded as failed;
    the others complete. If no run has finished yet, the new pool must first run a trivial task: if
    even that fails the pool cannot work here at all and :class:`ExecutorError` is raised instead of
    failing every run.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, context: str = "spawn", culprit_deaths: int = 2):
        self.workers = workers or default_workers()
        self.context = multiprocessing.get_context(context)
        self.max_inflight = 2 * self.workers
        self.culprit_deaths = max(1, culprit_deaths)
        self._pool: cf.ProcessPoolExecutor | None = None

    def _start(self) -> cf.ProcessPoolExecutor:
        _one_thread_per_worker()
        # Workers die with the driver. The pool starts workers from the thread that submits (this one);
        # the parent-death signal fires when *that thread* ends, so arm it only from the main thread.
        main = threading.current_thread() is threading.main_thread()
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context,
                                            initializer=start_worker, initargs=(os.getpid(), main))
        return self._pool

    def __enter__(self) -> ProcessExecutor:
        self._start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def imap_unordered(self, fn: Callable[[RunTask], RunRecord], tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
        pool = self._pool or self._start()
        source = iter(tasks)
        inflight: dict[cf.Future, tuple[RunTask, bool]] = {}  # future -> (task, running alone?)
        suspects: deque[RunTask] = deque()  # tasks lost with a dead worker, rerun one at a time
        died_alone: dict[Any, int] = {}  # task -> deaths of the pool while it ran alone

        def submit(task: RunTask, alone: bool) -> bool:
            try:
                inflight[pool.submit(fn, task)] = (task, alone)
                return True
            except cf.process.BrokenProcessPool:  # broke before we noticed: the task never ran
                suspects.appendleft(task)
                return False

        def refill() -> bool:
            """Submit work; False if the pool turned out to be broken."""
            if suspects:
                return bool(inflight) or submit(suspects.popleft(), True)
            while len(inflight) < self.max_inflight:
                task = next(source, None)
                if task is None:
                    return True
                if not submit(task, False):
                    return False
            return True

        pool_ok = False  # a task has finished in this pool family: deaths are the tasks' fault
        try:
            while True:
                broken = not refill()
                if not broken:
                    if not inflight:
                        break  # source exhausted, nothing in flight, no suspects
                    done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        task, alone = inflight.pop(fut)
                        try:
                            record = fut.result()
                        except cf.process.BrokenProcessPool:
                            broken = True
                            if alone:
                                key = getattr(task, "run_id", id(task))
                                died_alone[key] = died_alone.get(key, 0) + 1
                                if died_alone[key] >= self.culprit_deaths:
                                    times = "" if self.culprit_deaths == 1 else f" {died_alone[key]} times"
                                    yield failure(task, f"worker process died{times} while running this run alone "
                                                        "(crash, out of memory or exit inside the model)")
                                    continue
                                suspects.appendleft(task)  # alone again: a worker killed from outside is no proof
                            else:
                                suspects.append(task)
                            continue
                        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                            record = failure(task, f"executor error: {exc!r}")
                        pool_ok = True
                        yield record
                if broken:
                    suspects.extend(t for t, _ in inflight.values())  # lost with the pool
                    inflight.clear()
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._start()
                    if not pool_ok:
                        pool_ok = _pool_works(pool)
                        if not pool_ok:
                            raise ExecutorError("worker processes die before running anything (cannot start here?)")
        finally:
            for fut in inflight:
                fut.cancel()

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers, "start_method": self.context.get_start_method()}


# ---------------------------------------------------------------------------- Dask
def run_chunk(fn: Callable[[RunTask], RunRecord], tasks: list[RunTask]) -> list[RunRecord]:
    """One Dask task: several runs one after another on a worker, each exactly as ``fn(task)`` alone."""
    return [fn(task) for task in tasks]


def chunk_size(seconds_per_run: float | None, target_seconds: float, workers: int, left: int | None = None,
               cap: int = 256) -> int:
    """Runs per Dask task: about ``target_seconds`` of work (1 while the time of a run is unknown), but
    no more than an even share of the last ``left`` runs (None: not near the end yet), so that every
    worker keeps busy until the end (guided self-scheduling)."""
    if seconds_per_run is None:
        return 1
    size = max(1, min(cap, math.ceil(target_seconds / max(seconds_per_run, 1e-6))))
    if left is not None:
        size = min(size, max(1, math.ceil(left / (2 * max(1, workers)))))
    return size


class _Unit:
    """Runs submitted together as one Dask task, and what happened to them so far."""

    __slots__ = ("tasks", "killed", "lost")

    def __init__(self, tasks: list[RunTask]):
        self.tasks = tasks
        self.killed = 0  # KilledWorker results while running alone
        self.lost = 0  # cancelled (connection lost, scheduler restarted) and resubmitted


# Dask's diagnostics for a LocalCluster this executor starts. Their cost is per second, not per task,
# and on a small machine it comes out of the runs' CPU: the workers' statistical profiler samples the
# running thread every 10 ms, the nannies (in the driver) poll each worker's memory every 100 ms, the
# scheduler tries to steal work every second, the event loops tick every 20 ms. Measured on 2 cores
# (busy machine, 16 runs of 40 quarters): CPU per run in the workers 1.84 s -> 1.26 s (processes:
# 1.16 s), the driver's CPU per run 0.53 s -> 0.11 s.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing": False,  # at most 2 tasks per worker in flight: nothing to steal
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
}


class _DropDistributedLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("distributed", "tornado", "asyncio"))


class DaskExecutor:
    """Dask distributed: ``address="tcp://host:port"`` for a running scheduler, ``"local"`` for a LocalCluster.

    ``timeout``: seconds to connect, and how long a lost connection may take to come back (default:
    Dask's ``distributed.comm.timeouts.connect``, 30 s). Runs are batched, ``chunk_seconds`` of work
    per Dask task (estimated from the runs so far; shrinking near the end), or exactly ``chunk`` runs.
    ``local_config``: Dask settings while a LocalCluster runs (default :data:`LOCAL_CLUSTER_CONFIG`;
    ``{}``: Dask's own defaults, e.g. to see the workers' profiles on the dashboard).

    Faults: a worker that dies is the scheduler's business (it reruns the task elsewhere). A task
    whose workers died repeatedly (``KilledWorker``) is split and its runs are rerun one per task; a
    run that gets ``KilledWorker`` twice while running alone is recorded as failed (it crashes its
    worker: segfault, out of memory). Runs cancelled because the connection to the scheduler dropped
    are resubmitted once the client reconnects; if it does not, :class:`ExecutorLost` is raised and
    those runs are not recorded. So it is when the scheduler has had no worker for
    ``no_workers_timeout`` seconds (None: wait for workers forever, Dask's own behaviour).
    """

    name = "dask"
    max_lost = 3  # resubmissions of one unit after cancellations before giving up

    def __init__(self, address: str = "local", workers: int | None = None, timeout: float | None = None,
                 chunk: int | None = None, chunk_seconds: float = 2.0, no_workers_timeout: float | None = 120.0,
                 local_config: dict[str, Any] | None = None):
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be >= 1, not {chunk}")
        self.address = address
        self.local_workers = workers or default_workers()
        self.timeout = timeout
        self.chunk = chunk
        self.chunk_seconds = chunk_seconds
        self.client: Any = None
        self.cluster: Any = None
        self.tasks_submitted = 0  # Dask tasks submitted (each holds one chunk of runs)
        self.no_workers_timeout = no_workers_timeout
        self.local_config = LOCAL_CLUSTER_CONFIG if local_config is None else local_config
        self._threads = self.local_workers if address == "local" else 1
        self._threads_at = 0.0
        self._live_threads: int | None = None  # threads the scheduler reports now (None: unknown)
        self._no_workers_since: float | None = None
        self._scheduler_address = address
        self._quiet: tuple[logging.Filter, list[logging.Handler]] | None = None
        self._config: Any = None  # dask.config.set(LOCAL_CLUSTER_CONFIG) while a LocalCluster runs

    def _connect_timeout(self) -> float:
        if self.timeout is not None:
            return float(self.timeout)
        import dask
        from dask.utils import parse_timedelta

        return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect", "30s"), default="s"))

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        timeout = self._connect_timeout()
        try:
            if self.address == "local":
                import dask

                _one_thread_per_worker()
                self._config = dask.config.set(self.local_config)  # restored in __exit__
                self.cluster = LocalCluster(
                    n_workers=self.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster, timeout=timeout)
            else:
                self.client = Client(self.address, timeout=timeout)
                self.client.wait_for_workers(1, timeout=timeout)
            self._scheduler_address = self.client.scheduler.address
            self.client.register_plugin(_warm_worker_plugin())  # every worker, also those joining later
            self._refresh_threads(force=True)
        except (OSError, TimeoutError, ValueError) as exc:
            self.__exit__(None, None, None)
            raise ExecutorError(f"cannot use Dask at {self.address!r}: {type(exc).__name__}: {exc}") from exc
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.client is not None:
                if self._quiet:  # the scheduler is gone: do not wait long for it
                    self.client.close(timeout=10)
                else:
                    self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        except Exception:  # noqa: BLE001 - closing after the scheduler was lost: nothing left to close
            if not self._quiet:
                raise
        finally:
            self.client = self.cluster = None
            self._unquiet()
            if self._config is not None:
                self._config.__exit__(None, None, None)
                self._config = None

    # ------------------------------------------------------------------ helpers
    def _refresh_threads(self, force: bool = False) -> None:
        """Worker threads in the cluster: asked at start (``force``), later read from the client's copy of
        the scheduler's identity, which the client refreshes itself (workers may join or leave); never a
        blocking call to a scheduler that may be gone."""
        now = time.monotonic()
        if self.client is None or not (force or now - self._threads_at > 2.0):
            return
        self._threads_at = now
        with contextlib.suppress(Exception):  # a slow or lost scheduler: keep the last count
            info = self.client.scheduler_info() if force else getattr(self.client, "_scheduler_identity", None)
            if info:
                if "total_threads" in info:
                    threads = int(info["total_threads"])
                elif info.get("workers") or force:  # older Dask: only a full answer lists the workers
                    threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
                else:
                    return
                self._live_threads = threads
                self._threads = threads or self._threads

    def _quieten(self) -> None:
        """Keep Dask's own log lines about the lost connection off stderr: the driver reports it in one line."""
        if self._quiet is None:
            flt = _DropDistributedLogs()
            handlers = list({*logging.getLogger("distributed").handlers, *logging.getLogger().handlers})
            for h in handlers:
                h.addFilter(flt)
            self._quiet = (flt, handlers)

    def _unquiet(self) -> None:
        if self._quiet is not None:
            flt, handlers = self._quiet
            for h in handlers:
                h.removeFilter(flt)
            self._quiet = None

    def _await_scheduler(self) -> None:
        """A run was cancelled: return when the client is connected (again), or raise :class:`ExecutorLost`."""
        client = self.client
        if client.status == "running":
            return
        self._quieten()
        deadline = time.monotonic() + self._connect_timeout() + 10.0
        while client.status in ("connecting", "newly-created") and time.monotonic() < deadline:
            time.sleep(0.05)
        if client.status != "running":
            raise ExecutorLost(f"lost the Dask scheduler at {self._scheduler_address}")
        self._unquiet()

    def _check_workers(self) -> None:
        """Raise :class:`ExecutorLost` when the scheduler has had no worker for ``no_workers_timeout`` s
        while runs wait (workers that exited with a lost scheduler do not come back to its successor)."""
        self._refresh_threads()
        if self._live_threads != 0 or self.client.status != "running" or self.no_workers_timeout is None:
            self._no_workers_since = None
            return
        now = time.monotonic()
        if self._no_workers_since is None:
            self._no_workers_since = now
        elif now - self._no_workers_since > self.no_workers_timeout:
            self._quieten()
            raise ExecutorLost(f"the Dask scheduler at {self._scheduler_address} has had no workers for "
                               f"{now - self._no_workers_since:.0f} s")

    def _next_finished(self, ac: Any) -> Any:
        """The next finished future of ``ac`` (None when nothing is left), watching the cluster meanwhile."""
        checked = time.monotonic()
        while not ac.has_ready():
            if ac.is_empty():
                return None
            time.sleep(0.02)
            if time.monotonic() - checked > 1.0:
                checked = time.monotonic()
                self._check_workers()
        return next(ac)

    @property
    def workers(self) -> int:
        return self._threads

    # ------------------------------------------------------------------ running
    def imap_unordered(self, fn: Callable[[RunTask], RunRecord], tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        if self.client is None:
            raise RuntimeError("use DaskExecutor as a context manager")
        client = self.client
        source = iter(tasks)
        exhausted = False
        ahead: deque[RunTask] = deque()  # taken from the source, not submitted yet (bounded look-ahead)
        retry: deque[_Unit] = deque()  # units to resubmit before new work
        inflight: dict[Any, tuple[Any, _Unit]] = {}  # key -> (future, unit)
        timing = [0.0, 0]  # run seconds and runs seen: the estimate of one run's time
        session = uuid.uuid4().hex[:8]
        ac = as_completed()

        def look_ahead(n: int) -> None:
            nonlocal exhausted
            while len(ahead) < n and not exhausted:
                task = next(source, None)
                if task is None:
                    exhausted = True
                else:
                    ahead.append(task)

        def next_unit() -> _Unit | None:
            if retry:
                return retry.popleft()
            if self.chunk is not None:
                size = self.chunk
                look_ahead(size)
            else:
                per_run = timing[0] / timing[1] if timing[1] else None
                size = chunk_size(per_run, self.chunk_seconds, self.workers)
                look_ahead(2 * self.workers * size + 1)  # enough to tell whether the end is near
                size = chunk_size(per_run, self.chunk_seconds, self.workers, len(ahead) if exhausted else None)
            chunk = [ahead.popleft() for _ in range(min(size, len(ahead)))]
            return _Unit(chunk) if chunk else None

        def refill() -> None:
            self._refresh_threads()
            while len(inflight) < max(4, 2 * self.workers):
                unit = next_unit()
                if unit is None:
                    return
                self.tasks_submitted += 1
                first = getattr(unit.tasks[0], "run_id", "task")
                key = f"runs-{first}+{len(unit.tasks) - 1}-{session}-{self.tasks_submitted}"
                try:
                    fut = client.submit(run_chunk, fn, unit.tasks, key=key, pure=False)
                except Exception:
                    if client.status in ("running", "connecting"):
                        raise
                    self._quieten()  # the client closed itself: the scheduler is gone
                    raise ExecutorLost(f"lost the Dask scheduler at {self._scheduler_address}") from None
                inflight[fut.key] = (fut, unit)
                ac.add(fut)

        def outcome(fut: Any, unit: _Unit) -> list[RunRecord]:
            """The records of a finished Dask task; [] when its runs were queued to run again."""
            try:
                return fut.result()
            except KilledWorker:  # workers died (repeatedly) while running this task: infrastructure, or a culprit?
                if len(unit.tasks) > 1:
                    retry.extend(_Unit([t]) for t in unit.tasks)  # rerun each alone: the culprit shows itself
                    return []
                unit.killed += 1
                if unit.killed < 2:
                    retry.append(unit)
                    return []
                return [failure(unit.tasks[0], "Dask workers died again and again while running this run alone "
                                               "(KilledWorker twice: a crash or out of memory inside the model?)")]
            except (cf.CancelledError, OSError) as exc:  # cancelled with a lost connection; CommClosedError
                self._await_scheduler()  # raises ExecutorLost if the scheduler does not come back
                unit.lost += 1
                if unit.lost > self.max_lost:
                    raise ExecutorError(f"Dask keeps cancelling run {getattr(unit.tasks[0], 'run_id', '?')} "
                                        f"({type(exc).__name__}: {exc})") from exc
                retry.append(unit)
                return []
            except Exception as exc:  # noqa: BLE001 - the task itself failed on the worker (cannot unpickle, ...)
                return [failure(t, f"dask: {type(exc).__name__}: {exc}") for t in unit.tasks]

        try:
            refill()
            while (fut := self._next_finished(ac)) is not None:
                _, unit = inflight.pop(fut.key)
                records = outcome(fut, unit)
                with contextlib.suppress(Exception):
                    fut.release()
                del fut
                for record in records:
                    wall = record.row.get("wall_s")
                    if wall is not None and wall == wall:  # not NaN
                        timing[0] += float(wall)
                        timing[1] += 1
                refill()  # before yielding: the workers get new work while the driver writes results
                yield from records
                del records
        finally:
            if inflight and client.status == "running":
                with contextlib.suppress(Exception):
                    client.cancel([f for f, _ in inflight.values()])
            inflight.clear()
            ac.clear()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"executor": self.name, "address": self.address, "workers": self.workers,
                             "chunk": self.chunk or f"~{self.chunk_seconds:g} s of runs per task"}
        if self.client is not None:
            d["scheduler"] = self._scheduler_address
        return d
