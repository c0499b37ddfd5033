"""Types and units of the tables :func:`experiments.load` gives, as pandas users expect them.

* ``package``, ``cluster``, ``district``: ordered categoricals. Packages in ``configs/presets.toml``
  order (a package that is not a preset, e.g. defined in the spec, after them in the order it first
  appears), clusters and districts in ``configs/city.toml`` order; the categories are the values the
  table holds, so ``groupby`` shows no empty groups whatever ``observed=`` says. ``==`` with a string,
  ``isin`` and sorting work as on text; sorting follows that order, not the alphabet.
* ``period``: ``pd.Period`` of frequency ``Q-DEC`` (calendar quarters); ``quarter`` stays the integer
  quarter index of the run (0 = the start state); ``year``: the calendar year of ``period`` (int64).
  (The model's own tables and ``Store.table`` keep ``period`` as text and ``year`` as a decimal,
  2025.25 = 2025Q2.)
* ``DataFrame.attrs["units"]``: ``{column: unit}`` for every column with a unit: factors and
  ``posterior.<name>`` from configs/parameters.toml, outcomes from :mod:`sim.outputs.units`, timing
  factors (``lever.start`` a calendar quarter, ``lever.ramp_quarters`` quarters). Identifiers
  (``run_id``, ``point``, ``replicate``, ``seed``, ``draw``), ``status``, ``error`` and categorical
  keys have none. docs/experiments.md ("Units") lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

import sim
from experiments.running import timing
from sim.outputs import units as model_units

QUARTER_FREQ = "Q-DEC"  # calendar quarters (the model's periods: 2025Q1 = January-March 2025)
PACKAGE = "package"
SETTING_UNITS = {"persons_per_agent": "persons per talent agent"}  # sweepable [settings] (experiments.running.spec)
TIMING_UNITS = {"start": "calendar quarter", "end": "calendar quarter", "ramp_quarters": "quarters",
                "duration_quarters": "quarters"}


def ordered(values: pd.Series, order: Iterable[str]) -> pd.Series:
    """``values`` as an ordered categorical whose categories are the values present: those in ``order``
    first (in that order), then any others in the order they first appear."""
    present = list(dict.fromkeys(values.dropna().tolist()))
    known = [v for v in order if v in set(present)]
    rest = [v for v in present if v not in set(known)]
    return pd.Series(pd.Categorical(values, categories=[*known, *rest], ordered=True), index=values.index,
                     name=values.name)


def key_orders() -> dict[str, list[str]]:
    """The order of the categorical keys: presets, then clusters and districts as the config lists them."""
    cfg = sim.default_config()
    return {PACKAGE: list(sim.load_presets()), "cluster": list(cfg.city["clusters"]),
            "district": list(cfg.city["districts"])}


def tidy(df: pd.DataFrame, table: str, factors: Sequence[str] = (), posterior: Sequence[str] = ()) -> pd.DataFrame:
    """``df`` (a table of :func:`experiments.load`) with typed keys and ``attrs["units"]`` (module
    docstring). ``factors``: its factor columns; ``posterior``: its ``posterior.<name>`` columns."""
    df = df.copy()
    for key, order in key_orders().items():
        if key in df:
            df[key] = ordered(df[key], order)
    if "period" in df:
        df["period"] = pd.Series(pd.PeriodIndex(df["period"].astype(str), freq=QUARTER_FREQ), index=df.index)
        df["year"] = df["period"].dt.year.astype("int64")
    df.attrs["units"] = column_units(df.columns, table, factors, posterior)
    return df


def column_units(columns: Iterable[str], table: str, factors: Sequence[str] = (),
                 posterior: Sequence[str] = ()) -> dict[str, str]:
    """``{column: unit}`` for the columns that have one (module docstring)."""
    schema = sim.default_config().schema
    out: dict[str, str] = {}
    for c in columns:
        name = c.split(".", 1)[1] if c in posterior else c
        timed = timing.split_name(c) if c in factors else None
        if timed:
            u = TIMING_UNITS[timed[1]]
        elif (c in factors or c in posterior) and name in schema:
            u = schema[name].unit
        elif c in factors:
            u = SETTING_UNITS.get(c)
        else:
            u = model_units.unit(table, c)
        if u:
            out[c] = u
    return out
