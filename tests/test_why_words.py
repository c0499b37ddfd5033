"""The why tab in words (app/why_words.py): sentences from the effect decomposition and a cluster's index.

Synthetic decompositions (values per variant and paired world, built from chosen effects and channel
contributions) check the rules: a main source only when its interval excludes 0 and it beats every
other part beyond the noise, "most" only when beyond half, otherwise "too close to call"; negative
effects, the programme's own cost, nothing measurable, no value within the horizon; both languages.
One small real decomposition runs end to end in the effect view; the cluster view at quarter 0 says
what it will show instead of a table of zeros.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
import solara
from scipy import stats
from test_app import classes_of, click, one, text_of, wait_until, with_class

import sim
from app import explain, i18n, runs, why, why_words
from app.state import Session, lever_defaults
from sim.behaviour import energy

M = 4  # paired worlds of the synthetic decompositions (the page's default)
VA = "value_added_real_final"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def in_process_runs(monkeypatch):
    monkeypatch.setenv(runs.WORKERS_ENV, "0")
    runs.clear_cache()
    explain.clear_cache()


def explained(lever: str, value: float, effects: dict, quarters: int = 40) -> explain.Explanation:
    """An Explanation of ``lever`` at ``value``. ``effects``: outcome -> (effect per world, {channel:
    contribution per world}, all-off part per world or None); outcomes not given move nowhere."""
    plan = explain.plan_for({**lever_defaults(), lever: value})
    names = [c.name for c in plan.channels]
    values = {}
    for h in explain.HEADLINES:
        base = np.linspace(1.0, 2.0, M) * 1e3  # the status quo differs between worlds; the differences are paired
        effect, contrib, none = effects.get(h.key, (np.zeros(M), {}, None))
        effect = np.asarray(effect, float)
        none = np.zeros(M) if none is None else np.asarray(none, float)
        without = [base + effect - np.asarray(contrib.get(c, np.zeros(M)), float) for c in names]
        values[h.key] = np.array([base, base + effect, *without, base + none])
    reps = tuple(runs.seed_replicates(1, M))
    return explain.Explanation(plan, reps, quarters, values, 1.0, len(plan.variants) * M)


def jitter(mean: float, sd: float, seed: int) -> np.ndarray:
    return mean + np.random.default_rng(seed).normal(0.0, sd, M)


def verdict_of(ex, outcome: str, lang: str) -> why_words.Verdict:
    return next(v for v in why_words.effect_verdicts(ex, lang) if v.outcomes == (outcome,))


def channel(name: str):
    cfg = sim.default_config()
    return next(c for lever in cfg.names("levers") for c in cfg.schema[lever].channels if c.name == name)


# ------------------------------------------------------------------------------------ the effect view
def test_a_clear_winner_is_named_with_its_lever_in_both_languages():
    match, cofund = 2.5e9 + np.array([0.0, 1e7, -1e7, 0.0]), 0.5e9 + np.array([1e7, -1e7, 0.0, 0.0])
    ex = explained("iur_platform_strength", 0.8, {VA: (match + cofund, {"iur.matching": match, "iur.cofunding": cofund},
                                                       None)})
    for lang in ("en", "zh"):
        v = verdict_of(ex, VA, lang)
        assert (v.kind, v.sources, v.against) == ("most", ("iur.matching",), ()), v
        assert i18n.channel_short(channel("iur.matching"), lang) in v.text
        assert i18n.lever_label("iur_platform_strength", lang) in v.text  # the lever behind the channel
        assert i18n.channel_short(channel("iur.cofunding"), lang) not in v.text
        assert "2035Q1" in v.text  # 40 quarters from 2025Q1
        assert i18n.channel_text(channel("iur.matching"), lang) == v.tip
    assert "Most of it comes from project matching (lever: Industry-university-research (产学研) platforms): +2.50" \
        in verdict_of(ex, VA, "en").text
    assert "+3.00 billion yuan/yr against the status quo" in verdict_of(ex, VA, "en").text
    zh = verdict_of(ex, VA, "zh").text
    assert "较现状 +30.00 亿元/年" in zh and "其中大部分来自产学研对接（政策杠杆：产学研平台强度）：+25.00" in zh
    assert " " not in zh.split("。")[1][:1]  # Chinese sentences follow one another without a space
    rest = [v for v in why_words.effect_verdicts(ex, "en") if v.kind == "unclear"]
    assert len(rest) == 1 and "manufacturing employment" in rest[0].text and "at 4 paired runs" in rest[0].text
    html = why_words.effect_html(ex, "en")
    assert html.count("<li") == 2 and "why-say-most" in html and "why-say-unclear" in html


def test_clearly_largest_but_not_clearly_most_says_the_largest_part():
    """coordination: planned entry 1.5, matchmaking 1.0, anchor targeting 0.5 of an effect of 3.0 (tiny noise)."""
    parts = {"coordination.planned_entry": jitter(1.5, 0.01, 1), "coordination.matchmaking": jitter(1.0, 0.01, 2),
             "coordination.anchor_targeting": jitter(0.5, 0.01, 3)}
    ex = explained("city_coordination", 1.0, {"tiers_climbed_clusters": (sum(parts.values()), parts, None)})
    v = verdict_of(ex, "tiers_climbed_clusters", "en")
    assert (v.kind, v.sources) == ("largest", ("coordination.planned_entry",)), v
    assert "The largest part comes from planned entry (lever: City-wide coordination)" in v.text
    assert "not clearly more than half" in v.text and "Most of it" not in v.text
    assert "明显大于其他部分，但不能确定超过一半" in verdict_of(ex, "tiers_climbed_clusters", "zh").text


def test_parts_within_the_noise_of_each_other_are_too_close_to_call():
    a, b = jitter(1.6, 0.8, 4), jitter(1.4, 0.8, 5)  # each clearly above 0, their difference is not
    assert stats.ttest_rel(a, b).pvalue > 0.05 and stats.ttest_1samp(b, 0).pvalue < 0.05  # scipy, not the app
    ex = explained("iur_platform_strength", 0.8, {"tiers_climbed_clusters": (a + b, {"iur.matching": a,
                                                                                      "iur.cofunding": b}, None)})
    for lang, words in (("en", "too close to call at 4 paired runs"), ("zh", "4 次配对运行下，难以判断主要来自哪一部分")):
        v = verdict_of(ex, "tiers_climbed_clusters", lang)
        assert v.kind == "tie" and set(v.sources) == {"iur.matching", "iur.cofunding"}, v
        assert words in v.text
        assert "Most of it" not in v.text and "大部分" not in v.text
        for c in ("iur.matching", "iur.cofunding"):
            assert i18n.channel_short(channel(c), lang) in v.text


def test_a_negative_effect_names_its_source_and_what_pulls_the_other_way():
    down, up = jitter(-300.0, 5.0, 6), jitter(60.0, 5.0, 7)
    ex = explained("iur_platform_strength", 0.8, {"employment_final": (down + up, {"iur.cofunding": down,
                                                                                   "iur.matching": up}, None)})
    v = verdict_of(ex, "employment_final", "en")
    assert (v.kind, v.sources, v.against) == ("most", ("iur.cofunding",), ("iur.matching",)), v
    assert re.search(r"Manufacturing employment by 2035Q1: -2\d\d persons", v.text), v.text
    assert "Most of it comes from co-funding" in v.text
    assert re.search(r"Pulling the other way: project matching \(lever: Industry-university-research \(产学研\) "
                     r"platforms\) \+[56]\d \(", v.text), v.text
    assert "反向作用：产学研对接（政策杠杆：产学研平台强度）" in verdict_of(ex, "employment_final", "zh").text


def test_the_programme_s_own_cost_is_a_part_and_the_parts_that_do_not_add_up_are_pointed_to():
    # spending: the office costs 2e8 whatever its channels do; planned entry adds 1e7 of grants
    entry = jitter(1e7, 1e5, 8)
    ex = explained("city_coordination", 1.0, {"spending_total": (2e8 + entry, {"coordination.planned_entry": entry},
                                                                 np.full(M, 2e8))})
    v = verdict_of(ex, "spending_total", "en")
    assert (v.kind, v.sources) == ("most", (why_words.NONE,)) and "running the programmes themselves" in v.text, v
    assert "项目本身的运行" in verdict_of(ex, "spending_total", "zh").text
    # two channels that stand in for one another: the effect is clear, neither part is, the interaction is
    full = jitter(2.0, 0.05, 9)
    ex = explained("iur_platform_strength", 0.8, {"tiers_climbed_clusters": (full, {"iur.matching": jitter(0, 0.05, 10),
                                                                                    "iur.cofunding": jitter(0, .05, 11)},
                                                                             None)})
    v = verdict_of(ex, "tiers_climbed_clusters", "en")
    assert v.kind == "no_part" and v.sources == () and "No single part of it can be told from 0 at 4 paired runs" in v.text
    assert "do not add up" in v.text
    assert "各部分之和不等于总效果" in verdict_of(ex, "tiers_climbed_clusters", "zh").text


@pytest.mark.parametrize("lang, words", [("en", "None of the outcomes differs measurably from the status quo by 2035Q1 "
                                                 "at 4 paired runs"),
                                          ("zh", "4 次配对运行下，至 2035Q1 没有哪项结果与现状有可测出的差异")])
def test_nothing_changed_is_one_sentence(lang, words):
    same = explained("iur_platform_strength", 0.8, {})
    noisy = explained("iur_platform_strength", 0.8, {VA: (jitter(0.0, 1e9, 12), {"iur.matching": jitter(0, 1e9, 13)},
                                                          None)})
    for ex in (same, noisy):
        said = why_words.effect_verdicts(ex, lang)
        assert [v.kind for v in said] == ["nothing"] and words in said[0].text, said


def test_an_outcome_without_a_value_in_the_horizon_is_not_called_unchanged():
    ex = explained("iur_platform_strength", 0.8, {"retention_3y": (np.full(M, np.nan), {}, None)}, quarters=8)
    said = why_words.effect_verdicts(ex, "en")
    assert [v.kind for v in said] == ["nothing", "no_value"]
    assert said[1].outcomes == ("retention_3y",) and "Not yet observable within 8 quarters" in said[1].text
    assert "retention" not in said[0].text.lower() and "3 years" not in said[0].text and "2027Q1" in said[0].text
    assert "8 个季度内尚无法观测：毕业 3 年后仍留秦比例" in why_words.effect_verdicts(ex, "zh")[1].text


def test_a_main_source_is_named_only_when_scipy_s_paired_intervals_agree():
    """Random decompositions of three channels: each verdict against an independent computation (scipy's t);
    the draws cover every kind of verdict."""
    names = ["coordination.planned_entry", "coordination.matchmaking", "coordination.anchor_targeting"]

    def ci(d):
        half = stats.t.ppf(0.975, M - 1) * np.std(d, ddof=1) / np.sqrt(M)
        return np.mean(d) - half, np.mean(d) + half

    def shows(d):  # interval excludes 0 and the mean does not display as 0.00
        lo, hi = ci(d)
        return (lo > 0 or hi < 0) and round(np.mean(d), 2) != 0

    seen = set()
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        parts = {c: rng.normal(rng.uniform(-1, 3), rng.uniform(0.05, 1.5), M) for c in names}
        effect = sum(parts.values()) + rng.normal(0, 0.05, M)  # a little interaction
        ex = explained("city_coordination", 1.0, {"tiers_climbed_clusters": (effect, parts, None)})
        said = {v.outcomes: v for v in why_words.effect_verdicts(ex, "en")}
        if not shows(effect):
            assert ("tiers_climbed_clusters",) not in said
            seen.add("unclear")
            continue
        v = said[("tiers_climbed_clusters",)]
        seen.add(v.kind)
        s = np.sign(np.mean(effect))
        top = max(names, key=lambda c: s * np.mean(parts[c]))
        if not (shows(parts[top]) and s * np.mean(parts[top]) > 0):
            assert v.kind == "no_part", (seed, v, parts)
        elif any(ci(s * (parts[top] - parts[c]))[0] <= 0 for c in names if c != top):
            assert v.kind == "tie" and v.sources[0] == top, (seed, v, parts)
        else:
            assert v.sources == (top,) and v.kind == ("most" if ci(s * (2 * parts[top] - effect))[0] > 0
                                                      else "largest"), (seed, v, parts)
        assert set(v.against) == {c for c in names if shows(parts[c]) and s * np.mean(parts[c]) < 0}, (seed, v)
    assert seen == {"most", "largest", "tie", "no_part", "unclear"}, seen


def test_before_a_run_a_sentence_says_what_will_be_explained():
    plan = explain.plan_for({**lever_defaults(), **sim.load_presets()["coordinate"].levers})
    en = why_words.plan_sentence(plan, 40, "en")
    assert "Press “Where does the effect come from?”" in en and "by 2035Q1" in en
    assert "through which channels: City-wide coordination (8 channels)" in en
    zh = why_words.plan_sentence(plan, 40, "zh")
    assert "点击“效果从何而来？”" in zh and "以及经由哪些作用渠道：全市统筹协调力度（8 个渠道）" in zh and "至 2035Q1" in zh


def test_the_effect_view_leads_with_words_before_and_after_its_runs(monkeypatch):
    """A small real decomposition (R&D subsidy: one channel, 4 variants x 4 paired runs of 8 quarters)."""
    monkeypatch.setattr(explain, "QUARTERS", 8)
    lev = {**lever_defaults(), "rd_subsidy_rate": 0.3}
    box, rc = solara.render(explain.EffectSources(lev, 7, "en", vary="seeds", status=runs.posterior_status()),
                            handle_error=False)
    try:
        plan_words = text_of(one(box, "why-words-plan"))
        assert "by 2027Q1" in plan_words and "R&D subsidy rate (1 channel)" in plan_words
        assert not with_class(box, "why-words-effect")
        click(box, "btn-why-effect")
        wait_until(lambda: with_class(box, "why-effect-table") and not one(box, "btn-why-effect").disabled, 120)
        words = html.unescape(text_of(one(box, "why-words-effect")))
        assert not with_class(box, "why-words-plan")
        ex = explain.cached(lev, runs.seed_replicates(7, 4), 8)
        said = why_words.effect_verdicts(ex, "en")
        assert words == " ".join(v.text for v in said)  # every sentence, in order
        assert said[0].kind != "nothing" and "R&D subsidy rate" in words  # 30 % vs 0: spending moves at least
        kids = [classes_of(k) for k in one(box, "why-effect").children]
        order = [next(i for i, c in enumerate(kids) if name in c) for name in ("why-words-effect", "why-effect-caption",
                                                                                "why-effect-table")]
        assert order == sorted(order)  # under the button: the words lead, the caption and the table follow
    finally:
        rc.close()
    box, rc = solara.render(explain.EffectSources(lev, 7, "zh", vary="seeds", status=runs.posterior_status()),
                            handle_error=False)
    try:  # cached: the Chinese words at once
        assert CJK.search(text_of(one(box, "why-words-effect"))) and "研发费用补贴比例" in text_of(box)
    finally:
        rc.close()


def test_the_effect_view_at_the_status_quo_has_no_words_of_its_own():
    box, rc = solara.render(explain.EffectSources(lever_defaults(), 7, "en", vary="seeds"), handle_error=False)
    try:
        assert not with_class(box, "why-words-plan") and not with_class(box, "why-words-effect")
        assert "no effect to explain" in text_of(one(box, "why-effect-sq"))
    finally:
        rc.close()


# ------------------------------------------------------------------------------------ one cluster
def clusters_table(start: dict, end: dict) -> pd.DataFrame:
    """Two rows of one cluster: component scores at the start and the end; the index as the model sums it."""
    w = np.array(why.index_weights())
    rows = []
    for q, period, comps in ((0, "2025Q1", start), (8, "2027Q1", end)):
        x = np.array([comps.get(c, 0.3) for c in energy.COMPONENTS])
        rows.append({"cluster": "automotive", "quarter": q, "period": period, "energy_index": float(x @ w),
                     **{f"idx_{c}": v for c, v in zip(energy.COMPONENTS, x)}})
    return pd.DataFrame(rows)


def test_the_cluster_sentence_splits_the_index_exactly():
    w = dict(zip(energy.COMPONENTS, why.index_weights()))
    args = (why.index_weights(), energy.COMPONENTS)
    most = clusters_table({}, {"leaders": 0.3 + 0.4, "talent": 0.3 + 0.05})
    text = why_words.cluster_sentence(most, "automotive", "Automotive", *args, "en")
    d = 0.4 * w["leaders"] + 0.05 * w["talent"]
    assert f"a change of {d:+.3f}" in text and f"Most of the change came from leading firms ({0.4 * w['leaders']:+.3f})" \
        in text, text
    zh = why_words.cluster_sentence(most, "automotive", "汽车", *args, "zh")
    assert "其中大部分来自龙头企业" in zh and "本次运行中，汽车的能级指数" in zh
    # several components: the largest is less than half the change
    spread = clusters_table({}, {c: 0.3 + 0.01 / w[c] for c in ("leaders", "talent", "chain")}
                            | {"scale": 0.3 + 0.012 / w["scale"]})
    text = why_words.cluster_sentence(spread, "automotive", "Automotive", *args, "en")
    assert "The largest part came from scale (+0.012), less than half." in text, text
    flat = clusters_table({}, {})
    assert "unchanged to three decimals" in why_words.cluster_sentence(flat, "automotive", "Automotive", *args, "en")
    fall = clusters_table({}, {"digital": 0.3 - 0.3})
    text = why_words.cluster_sentence(fall, "automotive", "Automotive", *args, "en")
    assert f"a change of {-0.3 * w['digital']:+.3f}" in text and "Most of the change came from digital level" in text


def test_the_why_panel_at_quarter_0_is_a_sentence_not_a_table_of_zeros():
    session = Session(seed=3)
    snap0 = session.snapshot()
    for lang, words in (("en", "2025Q1: the run has not started, so nothing has moved yet"),
                        ("zh", "2025Q1：运行尚未开始，各分项尚无变化")):
        box, rc = solara.render(why.WhyPanel(snap0, lang), handle_error=False)
        try:
            assert words in text_of(one(box, "why-words-start"))
            assert not with_class(box, "why-components") and not with_class(box, "why-chart")
            assert with_class(box, "why-criteria")  # the criteria met at the start stay
        finally:
            rc.close()
    session.step()
    box, rc = solara.render(why.WhyPanel(session.snapshot(), "en"), handle_error=False)
    try:
        assert "In this run the energy index of" in text_of(one(box, "why-words-cluster"))
        assert with_class(box, "why-components") and with_class(box, "why-chart")
        assert not with_class(box, "why-words-start")
    finally:
        rc.close()
