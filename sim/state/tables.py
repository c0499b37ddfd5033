"""Struct-of-arrays state for agents, and vectorised group helpers.

Each Mesa agent (a firm, a talent super-individual) owns one *slot*: a row index into numpy arrays
held by an :class:`AgentTable`. Submodels update whole columns at once; the Mesa agent objects are
thin views that read their row (see ``sim.state.agents``). Rows are never reused or compacted, so a slot
index is stable for the life of a run; ``alive`` marks the rows still in play. New rows are appended:
entrants, graduate cohorts, and copies of talent agents split across employers (``copy_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sim.state.compiled import kernel


class AgentTable:
    """Growable columns of equal length. ``table.revenue`` is the full column (all slots).

    Each column is a view of the first ``len(table)`` rows of a larger buffer whose capacity doubles
    when full, so appending a graduate cohort or a quarter's entrants copies the table only now and
    then, not every time. Write into columns in place (``t.age += 0.25``, ``f.cash[i] = x``); do not
    rebind a column to a new array.
    """

    def __init__(self, columns: Mapping[str, np.dtype | type]):
        self._dtypes = {name: np.dtype(dt) for name, dt in columns.items()}
        self._n = 0
        self._buffers = {name: np.zeros(0, dtype=dt) for name, dt in self._dtypes.items()}
        for name, buf in self._buffers.items():
            setattr(self, name, buf[:0])

    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> list[str]:
        return list(self._dtypes)

    def append(self, n: int, **values) -> np.ndarray:
        """Add ``n`` rows; unnamed columns are zero. Returns the new slot indices."""
        unknown = set(values) - set(self._dtypes)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        start, end = self._n, self._n + int(n)
        grow = end > len(next(iter(self._buffers.values()))) if self._buffers else False
        for name, dt in self._dtypes.items():
            buf = self._buffers[name]
            if grow:
                new = np.zeros(max(2 * len(buf), end, 64), dtype=dt)
                new[:start] = getattr(self, name)
                self._buffers[name] = buf = new
            if name in values:  # (rows past the end are zero: buffers start zeroed, views end at the end)
                buf[start:end] = values[name]
            setattr(self, name, buf[:end])
        self._n = end
        return np.arange(start, end)

    def copy_rows(self, idx: np.ndarray, skip: tuple[str, ...] = ()) -> np.ndarray:
        """Append a copy of each row in ``idx`` (every column but those in ``skip``, which the caller
        sets next: they are zero until then); returns the new slot indices, in the order of ``idx``.
        Splitting a talent super-individual across employers uses it (``sim.behaviour.labour``): the
        copy then gets its share of the persons."""
        idx = np.asarray(idx, dtype=np.int64)
        # fancy indexing copies the rows before append may move the buffers
        return self.append(idx.size, **{c: getattr(self, c)[idx] for c in self.columns if c not in skip})

def group_sum(groups: np.ndarray, values: np.ndarray | None, n_groups: int) -> np.ndarray:
    """Sum of ``values`` (or counts) per group id in ``[0, n_groups)``."""
    return np.bincount(groups, weights=values, minlength=n_groups)[:n_groups]


def group_sums(groups: np.ndarray, columns: list[np.ndarray], n_groups: int, rows=None) -> np.ndarray:
    """``(len(columns), n_groups)``: :func:`group_sum` of each column (of its ``rows``, a mask or
    index, when given; ``groups`` are those rows' groups), by one ``bincount``. Each bin adds its own
    rows in row order from zero, as one bincount per column does: the same numbers."""
    k, n = len(columns), len(groups)
    values = np.stack([np.asarray(col, dtype=float) for col in columns])
    values = (values if rows is None else values[:, rows]).ravel()
    codes = (groups[None, :] + n_groups * np.arange(k)[:, None]).ravel() if n else np.zeros(0, np.int64)
    return np.bincount(codes, weights=values, minlength=k * n_groups).reshape(k, n_groups)


def cell_counts(shape: tuple[int, ...], *codes: np.ndarray) -> np.ndarray:
    """Rows per cell of a ``shape`` array, the cell of row i being ``(codes[0][i], codes[1][i], ...)``:
    ``np.add.at(np.zeros(shape), codes, 1.0)`` by one ``bincount`` (float counts)."""
    return cell_sums(shape, None, *codes)


def cell_sums(shape: tuple[int, ...], weights: np.ndarray | None, *codes: np.ndarray) -> np.ndarray:
    """Sum of ``weights`` (counts when None) per cell of a ``shape`` array, the cell of row i being
    ``(codes[0][i], codes[1][i], ...)``: one ``bincount`` (e.g. capacity per (cluster, segment, niche))."""
    flat = codes[0].astype(np.int64)
    for size, code in zip(shape[1:], codes[1:]):
        flat = flat * size + code
    return np.bincount(flat, weights=weights, minlength=int(np.prod(shape))).reshape(shape).astype(float)


def take_within_groups(groups: np.ndarray, keys: np.ndarray, amounts: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """How much of each element's ``amounts`` its group takes, when group g takes ``quota[g]`` in all
    from its elements in key order (smallest key first), each element giving at most its amount.

    ``groups`` are ids in ``[0, len(quota))``, ``keys`` uniform draws in [0, 1) (the order within a
    group). The element where a group's quota runs out gives part of its amount, those after it
    nothing: e.g. amounts 10, 10 and quota 13 take 10 and 3. Used to cut whole persons from
    super-individuals (layoffs, trainees in ``sim.behaviour.labour``).
    """
    amounts = np.asarray(amounts)
    if amounts.size == 0:
        return np.zeros(0, dtype=amounts.dtype)
    return _take_within_groups(np.asarray(groups), np.asarray(keys, float), amounts, np.asarray(quota))


@kernel
def _take_within_groups(groups, keys, amounts, quota):
    """:func:`take_within_groups` in one pass over the elements in (group, key) order."""
    order = np.argsort(groups + keys)  # by group, then key (keys < 1)
    take = np.empty_like(amounts)
    group, before = -1, 0  # the current group, and the amount of its elements already passed
    for k in range(order.size):
        i = order[k]
        if groups[i] != group:
            group, before = groups[i], 0
        take[i] = min(max(quota[group] - before, 0), amounts[i])
        before += amounts[i]
    return take


def normalised_cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``p`` along its last axis, divided by its last value: exactly the array
    numpy's ``Generator.choice`` places its uniform draws in."""
    cdf = np.cumsum(p, axis=-1)
    cdf /= cdf[..., -1:]
    return cdf


def weighted_index(rng: np.random.Generator, p: np.ndarray) -> int:
    """One index drawn with probabilities ``p``: draw for draw what ``rng.choice(len(p), p=p)`` returns.

    numpy's ``Generator.choice`` turns ``p`` into its normalised cumulative sum and places one
    uniform draw in it (``searchsorted``, side right); this does the same without ``choice``'s
    argument checks (~20 us a call, and entry calls it per entrant). ``p`` must be non-negative
    with a positive sum (callers pass ``w / w.sum()``).
    """
    return int(normalised_cdf(p).searchsorted(rng.random(), side="right"))


def weighted_draws(rng: np.random.Generator, p, n: int) -> np.ndarray:
    """``n`` indices drawn with probabilities ``p``: draw for draw what ``rng.choice(len(p), size=n, p=p)``
    returns (see :func:`weighted_index`)."""
    return normalised_cdf(np.asarray(p, dtype=float)).searchsorted(rng.random(int(n)), side="right")


def weighted_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One index per row of ``p`` (rows of probabilities): the same draws, in the same order, as
    ``[rng.choice(p.shape[1], p=row) for row in p]`` (see :func:`weighted_index`)."""
    cdf = normalised_cdf(p)
    u = rng.random(len(p))
    return (cdf <= u[:, None]).sum(axis=1)


def uniform_choice(rng: np.random.Generator, values: np.ndarray, n: int) -> np.ndarray:
    """``n`` elements of ``values`` drawn uniformly with replacement: draw for draw what
    ``rng.choice(values, size=n)`` returns, without its argument checks."""
    return values[rng.integers(0, len(values), size=int(n))]


def stochastic_round(x: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Round to an integer up or down with probability equal to the fraction (unbiased)."""
    x = np.asarray(x, dtype=float)
    base = np.floor(x)
    return (base + (rng.random(x.shape) < (x - base))).astype(np.int64)


def allocate_budget(costs: np.ndarray, pots: np.ndarray, pot_of: np.ndarray, order_keys: np.ndarray) -> np.ndarray:
    """Which requests a budget covers, first come first served within each pot.

    ``costs[i]`` is request i's claim, ``pot_of[i]`` the pot it draws on, ``order_keys`` the queue
    order (smallest first). A request is granted while the running total of its pot stays within
    ``pots[pot_of[i]]``. Returns a boolean mask of granted requests.
    """
    if len(costs) == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((order_keys, pot_of))
    c = costs[order]
    g = pot_of[order]
    cum = np.cumsum(c)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(g)) + 1))
    offset = np.repeat(np.concatenate(([0.0], cum[starts[1:] - 1])), np.diff(np.append(starts, len(c))))
    granted_sorted = (cum - offset) <= pots[g]
    granted = np.empty(len(costs), dtype=bool)
    granted[order] = granted_sorted
    return granted
