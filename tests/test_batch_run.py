"""``mesa.batch_run`` over ClusterModel as a Mesa user drives it: retention after 3 years is the
summary's measure, ``Step`` is a whole number of quarters, and ``seed=`` (Mesa 2's habit) gets one
line pointing to ``rng=``."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim.state import records

# 22 quarters: the cohorts of 2025Q3 and 2026Q3 are 3 years on (quarters 14 and 18), so the pooled
# measure and the latest cohort's differ, and quarter 13 is before any cohort is 3 years on
QUARTERS = 22
FIRST_3Y = 14


def _batch(**kw) -> pd.DataFrame:
    return pd.DataFrame(mesa.batch_run(sim.ClusterModel, parameters={"quarters": QUARTERS}, number_processes=1,
                                       display_progress=False, rng=[1], **kw))


def test_batch_run_retention_3y_is_the_summarys_measure_and_step_is_an_integer():
    every = _batch(data_collection_period=1)
    assert pd.api.types.is_integer_dtype(every["Step"]), every["Step"].dtype
    assert every["Step"].tolist() == list(range(QUARTERS + 1))
    assert every.loc[every["Step"] < FIRST_3Y, "retention_3y"].isna().all()  # no cohort 3 years on yet
    assert every.loc[every["Step"] >= FIRST_3Y, "retention_3y"].between(0, 1).all()

    m = sim.ClusterModel(rng=1, quarters=QUARTERS)
    while m.running:
        m.step()
    summary = m.result().summary()
    last = _batch().iloc[-1]  # the default: the end of the run only
    assert isinstance(last["Step"], (int, np.integer)) and last["Step"] == QUARTERS
    assert last["retention_3y"] == pytest.approx(summary["retention_3y"], rel=1e-12)
    assert every["retention_3y"].iloc[-1] == pytest.approx(summary["retention_3y"], rel=1e-12)
    # the other measure stays, and is another number (the newest cohort, 1 year on)
    assert not math.isclose(last["latest_cohort_retention"], last["retention_3y"], rel_tol=1e-6)


def test_the_reporter_table_offers_the_headline_retention():
    assert records.MODEL_REPORTERS["retention_3y"] is records.retention_3y
    assert "retention_3y" in records.HEADLINE_NAMES  # the same name as the summary key reports lead with


@pytest.mark.parametrize("call", [
    lambda: sim.ClusterModel(seed=1, quarters=2),
    lambda: mesa.batch_run(sim.ClusterModel, parameters={"seed": [1, 2], "quarters": 2}, display_progress=False),
], ids=["ClusterModel", "batch_run"])
def test_seed_is_refused_in_one_line_that_points_to_rng(call):
    with pytest.raises(sim.ConfigError) as err:
        call()
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 200, msg  # not the list of every parameter
    assert msg.startswith("seed=1: ") and "rng=" in msg and "batch_run(ClusterModel, parameters, rng=[" in msg
