"""Executors: run ``fn(task)`` for many tasks and yield records as they finish.

All three take a picklable top-level callable (normally :func:`experiments.runner.execute`) and an
iterable of tasks, keep a bounded number of tasks in flight (the driver's memory stays flat), and
never hold a result after yielding it. Results depend only on the task, so every executor gives the
same records for the same tasks.

* :class:`SerialExecutor` — in this process, one after another (debuggable).
* :class:`ProcessExecutor` — ``concurrent.futures.ProcessPoolExecutor`` with a ``spawn`` context. If a
  worker process dies the pool is rebuilt and the lost tasks are retried (up to ``max_attempts``).
* :class:`DaskExecutor` — a ``distributed.Client`` on an existing scheduler (``tcp://host:port``) or on
  a ``LocalCluster`` (``"local"``). The scheduler reassigns tasks of a dead worker; a task that kills
  workers repeatedly (``KilledWorker``) is recorded as failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from experiments.runner import RunRecord, RunTask, failure

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

    A worker that dies (segfault, out of memory, ``os._exit``) breaks the whole pool and loses every
    task in flight. The pool is rebuilt and the lost tasks are rerun *one at a time*: a task that
    kills its worker alone is the culprit and is recorded as failed; the others complete. If no run
    has finished yet, the new pool must first run a trivial task: if even that fails the pool cannot
    work here at all and :class:`ExecutorError` is raised instead of failing every run.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, context: str = "spawn"):
        self.workers = workers or default_workers()
        self.context = multiprocessing.get_context(context)
        self.max_inflight = 2 * self.workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def _start(self) -> cf.ProcessPoolExecutor:
        _one_thread_per_worker()
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context)
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
                                yield failure(task, "worker process died while running this run alone "
                                                    "(crash, out of memory or exit inside the model)")
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


class DaskExecutor:
    """Dask distributed: ``address="tcp://host:port"`` for a running scheduler, ``"local"`` for a LocalCluster."""

    name = "dask"

    def __init__(self, address: str = "local", workers: int | None = None, timeout: float = 30.0):
        self.address = address
        self.local_workers = workers or default_workers()
        self.timeout = timeout
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        try:
            if self.address == "local":
                _one_thread_per_worker()
                self.cluster = LocalCluster(
                    n_workers=self.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                )
                self.client = Client(self.cluster, timeout=self.timeout)
            else:
                self.client = Client(self.address, timeout=self.timeout)
                self.client.wait_for_workers(1, timeout=self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            self.__exit__(None, None, None)
            raise ExecutorError(f"cannot use Dask at {self.address!r}: {type(exc).__name__}: {exc}") from exc
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    @property
    def workers(self) -> int:
        if self.client is None:
            return self.local_workers
        info = self.client.scheduler_info()
        return sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1

    def imap_unordered(self, fn: Callable[[RunTask], RunRecord], tasks: Iterable[RunTask]) -> Iterator[RunRecord]:
        from distributed import as_completed

        if self.client is None:
            raise RuntimeError("use DaskExecutor as a context manager")
        source = iter(tasks)
        session = uuid.uuid4().hex[:8]
        owner: dict[str, RunTask] = {}
        ac = as_completed()

        def submit_next() -> bool:
            task = next(source, None)
            if task is None:
                return False
            fut = self.client.submit(fn, task, key=f"run-{task.run_id}-{session}", pure=False)
            owner[fut.key] = task
            ac.add(fut)
            return True

        for _ in range(max(4, 2 * self.workers)):
            if not submit_next():
                break
        try:
            for fut in ac:
                task = owner.pop(fut.key)
                try:
                    record = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                    record = failure(task, f"dask: {type(exc).__name__}: {exc}")
                fut.release()
                del fut
                yield record
                submit_next()
        finally:
            for key in list(owner):
                owner.pop(key)
            ac.clear()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"executor": self.name, "address": self.address, "workers": self.workers}
        if self.client is not None:
            d["scheduler"] = self.client.scheduler.address
        return d
