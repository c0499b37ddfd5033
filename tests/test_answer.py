"""The instant answer (app.answer) without a browser: paired runs, the status quo run once and reused,
stages that stop when a newer setting comes, honest words for the number of runs, a zoomed chart."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import answer, charts, runs
from app.state import lever_defaults

Q = 8  # quarters: short runs keep the module fast
POLICY = {"rd_subsidy_rate": 0.2, "talent_settlement_subsidy": 60_000.0}


@pytest.fixture()
def in_process(monkeypatch):
    """Runs in this process (no pool), an empty cache, and a log of every run actually made."""
    monkeypatch.setenv(runs.WORKERS_ENV, "0")
    runs.clear_cache()
    made = []
    real = runs.run_one

    def counting(levers, rep, quarters, off=()):
        made.append((answer.is_status_quo(levers), rep.seed))
        return real(levers, rep, quarters, off)

    monkeypatch.setattr(runs, "run_one", counting)
    yield made
    runs.clear_cache()


def levers(**kw) -> dict:
    return {**lever_defaults(), **kw}


def test_the_answer_is_paired_and_runs_the_status_quo_once(in_process):
    made = in_process
    first = answer.compute_answer(levers(**POLICY), seed=5, vary="seeds", m=2, quarters=Q)
    assert first.seeds == [5, 6] and [r.replicate.seed for r in first.runs_sq] == [5, 6]  # paired replicates
    assert sorted(made) == [(False, 5), (False, 6), (True, 5), (True, 6)]
    made.clear()
    other = answer.compute_answer(levers(rd_subsidy_rate=0.1), seed=5, vary="seeds", m=2, quarters=Q)
    assert sorted(made) == [(False, 5), (False, 6)]  # the status quo came from the cache: only the new setting ran
    assert other.runs_sq[0] is first.runs_sq[0]
    # the same replicates as the page's A/B comparison (its status quo is what the server prefetches)
    assert answer.answer_replicates("seeds", 5, 2) == runs.ab_replicates("seeds", 5, answer.STAGES[-1])[:2]
    assert answer.STAGES[-1] == answer.DEFAULT_REPLICATES
    st = first.stats["kpi_employment"]
    np.testing.assert_allclose(st.d, st.b - st.a)
    assert st.a[0] != st.b[0]  # the policy changed the run


def test_stages_refine_and_stop_when_a_newer_setting_comes(in_process):
    seen = []
    last = answer.refine(levers(**POLICY), 1, "seeds", lambda a: seen.append(a.m), stages=(1, 2), quarters=Q)
    assert seen == [1, 2] and last.refined and last.target == 2
    seen.clear()
    answer.refine(levers(**POLICY), 1, "seeds", lambda a: seen.append(a.m), stale=lambda: len(seen) >= 1,
                  stages=(1, 2), quarters=Q)
    assert seen == [1]  # stale after the first stage: the second is not shown
    seen.clear()
    answer.refine(levers(**POLICY), 1, "seeds", lambda a: seen.append(a.m), stale=lambda: True, stages=(1, 2), quarters=Q)
    assert seen == []
    # stale in the middle of a stage: the runs not yet made are not made
    made = in_process
    made.clear()
    answer.refine(levers(rd_subsidy_rate=0.15), 1, "seeds", lambda a: seen.append(a.m),
                  stale=lambda: len(made) >= 1, stages=(3,), quarters=Q)
    assert seen == [] and len(made) == 1


def test_one_run_says_so_and_shows_no_count_or_colour(in_process):
    one = answer.compute_answer(levers(**POLICY), 1, "seeds", 1, quarters=Q, target=8)
    for lang in ("en", "zh"):
        text = answer.headline_html(one, lang, pending=False)
        assert "data-m='1'" in text
        assert "verdict-better" not in text and "verdict-worse" not in text
        parts = answer.figure_parts(one, "kpi_employment", lang)
        assert parts["count"] == "" and parts["range"] == ""
    note = answer.summary_text(one, "en")
    assert "One paired run (seed 1)" in note and "no count and no colour" in note and "Refining with 8 runs" in note
    assert "一次配对运行" in answer.summary_text(one, "zh")


def test_several_runs_show_counts_and_colour_only_when_chance_is_small(in_process):
    two = answer.compute_answer(levers(**POLICY), 1, "seeds", 2, quarters=Q, target=2)
    parts = answer.figure_parts(two, "kpi_employment", "en")
    st = two.stats["kpi_employment"]
    assert parts["count"] == f"{st.n_better()}/2 better"
    assert parts["range"].startswith("range ")
    assert not two.coloured() and parts["verdict"] in ("unclear", "neutral")  # 2 runs agreeing: 50 % by chance
    assert "No colour yet" in answer.summary_text(two, "en") and "Refining" not in answer.summary_text(two, "en")
    # eight runs that all agree (the same pair eight times): colour allowed, and said how likely by chance
    eight = answer.Answer(two.levers, 1, "seeds", Q, two.runs_sq[:1] * 8, two.runs_new[:1] * 8, 8)
    assert eight.coloured() and math.isclose(answer.chance_all_agree(8), 2 * 0.5**8)
    verdict = answer.figure_parts(eight, "kpi_employment", "en")["verdict"]
    assert verdict == eight.stats["kpi_employment"].verdict != "unclear"
    assert "all 8 runs agree on the sign (0.8 % by chance alone)" in answer.summary_text(eight, "en")


def test_money_and_points_in_the_headline(in_process):
    one = answer.compute_answer(levers(**POLICY), 1, "seeds", 1, quarters=Q)
    st = one.stats["kpi_value_added"]
    assert answer.figure_parts(one, "kpi_value_added", "zh")["unit"] == "亿元/年"
    shown = float(answer.figure_parts(one, "kpi_value_added", "zh")["value"].replace(",", ""))
    assert shown == pytest.approx(st.mean_d / 1e8, abs=0.5 * 10 ** -st.digits("zh"))
    assert answer.figure_parts(one, "kpi_sourcing", "en")["unit"] == "points"
    assert answer.figure_parts(one, "kpi_sourcing", "zh")["unit"] == "个百分点"


def test_the_trajectories_chart_zooms_to_the_data_with_the_status_quo_beside(in_process):
    two = answer.compute_answer(levers(**POLICY), 1, "seeds", 2, quarters=Q)
    fig = answer.answer_figure(two, "en")
    assert charts.min_font_points(fig) >= charts.FONT
    employment = fig.axes[2]
    low, high = employment.get_ylim()
    values = np.concatenate([r.city["employment"].to_numpy(float) for r in two.runs_sq + two.runs_new])
    assert low > 0.5 * values.min() and high < 1.5 * values.max()  # not a 0-based axis
    assert low <= values.min() and high >= values.max()
    assert len(employment.lines) == 2  # status quo and this setting
    assert charts.to_png(fig)[:4] == b"\x89PNG"


def test_status_quo_levers_need_no_answer():
    assert answer.is_status_quo(lever_defaults())
    assert answer.is_status_quo(dict(reversed(list(lever_defaults().items()))))  # order does not matter
    assert not answer.is_status_quo(levers(**POLICY))


def wait_for(cond, timeout: float = 60.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_page_job_answers_each_new_setting_once_and_drops_stale_ones(in_process):
    import solara

    state = solara.reactive(None)
    job = answer.AnswerJob(state, stages=(1, 2), quarters=Q)
    assert job.request(lever_defaults(), 1, "seeds") and state.value == answer.AnswerState((answer.setting_key(lever_defaults()), 1))
    assert not job.request(lever_defaults(), 1, "seeds")  # the same setting: nothing new
    assert in_process == []  # the status quo needs no run
    policy = levers(**POLICY)
    assert job.request(policy, 1, "seeds")
    assert state.value.pending and state.value.answer is None
    wait_for(lambda: state.value.answer is not None and state.value.answer.m == 2 and not state.value.pending)
    assert state.value.current and state.value.answer.key == (answer.setting_key(policy), 1)
    assert not job.request(policy, 1, "seeds")
    # a newer setting while the older one is under way: only the newer one is shown in the end
    other = levers(rd_subsidy_rate=0.1)
    job.request(levers(rd_subsidy_rate=0.25), 1, "seeds")
    job.request(other, 1, "seeds")
    wait_for(lambda: state.value.current and not state.value.pending)
    assert state.value.answer.key == (answer.setting_key(other), 1)
    job.stop()


def test_a_clicked_step_goes_before_played_quarters():
    import threading
    import time

    from app.state import StepGate

    gate = StepGate()
    assert not gate.busy()
    with gate.interactive():
        assert gate.busy()
    t0 = time.monotonic()
    gate.wait_turn()  # the click's redraw time
    assert gate.HOLD_S - 0.05 <= time.monotonic() - t0 <= gate.HOLD_S + 1.0
    with gate.interactive():
        cancel = threading.Event()
        cancel.set()
        t0 = time.monotonic()
        gate.wait_turn(cancel)  # a paused play loop does not wait
        assert time.monotonic() - t0 < 0.1
