"""Every string the workshop page shows, in English and Chinese (one table, one place).

UI strings live in :data:`STRINGS` as ``key: (english, chinese)``. Names that belong to the model
are *not* repeated here: lever labels and units come from ``configs/parameters.toml``
(``label_en`` / ``label_zh``), remedy-group names from :data:`sim.config.LEVER_GROUPS`, cluster,
district, university, destination and energy-tier names from ``configs/city.toml``, preset names
from ``configs/presets.toml``. Use :func:`t` for UI strings and the ``*_label`` helpers for the rest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import sim
from sim.config import LEVER_GROUPS

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}
# The switch's label is bilingual on purpose: whoever sits at the projector can find it.
LANGUAGE_LABEL = {"en": "Language / 语言", "zh": "语言 / Language"}

STRINGS: dict[str, tuple[str, str]] = {
    # page frame
    "title": ("Qinhuangdao advanced-manufacturing clusters · policy workshop",
              "秦皇岛先进制造业集群 · 政策推演工作坊"),
    "subtitle": ("Agent-based simulation, one step = one quarter", "基于主体的仿真，每一步 = 一个季度"),
    "tab_city": ("Map & charts", "地图与图表"),
    "tab_compare": ("A/B compare", "方案对比 A/B"),
    "tab_export": ("Export", "导出"),
    # run controls
    "run": ("Run", "运行"),
    "step": ("Step", "单步"),
    "play": ("Play", "播放"),
    "pause": ("Pause", "暂停"),
    "reset": ("Reset", "重置"),
    "speed": ("Play speed (quarters per second)", "播放速度（季度/秒）"),
    "seed": ("Random seed", "随机种子"),
    "quarter_now": ("Quarter {q} of {n} · {period}", "第 {q}/{n} 季度 · {period}"),
    "finished": ("Run finished: press Reset to start again.", "本次运行已结束：点击“重置”重新开始。"),
    "reset_hint": ("Seed changes take effect on Reset.", "随机种子在“重置”后生效。"),
    "levers_live": ("Lever changes apply from the next quarter.", "政策调整从下一季度起生效。"),
    "levers_reset": ("Lever changes take effect on Reset.", "政策调整在“重置”后生效。"),
    # presets and levers
    "presets": ("Policy presets", "政策组合"),
    "levers": ("Policy levers (the paper's five remedy groups)", "政策杠杆（论文五类对策）"),
    "group": ("Remedy group {n}", "对策 {n}"),
    # key figures
    "kpi_energy": ("Mean energy index (0–1)", "平均能级指数（0–1）"),
    "kpi_tiers": ("Clusters at provincial tier or above", "达到省级及以上的集群"),
    "kpi_retention": ("Graduate retention, latest cohort", "毕业生留秦率（最近一届）"),
    "kpi_out_bj": ("To Beijing this quarter (persons)", "本季度流向北京（人）"),
    "kpi_out_tj": ("To Tianjin this quarter (persons)", "本季度流向天津（人）"),
    "kpi_spend": ("Government spending this quarter (million yuan)", "本季度财政支出（百万元）"),
    "kpi_spend_total": ("Government spending so far (million yuan)", "累计财政支出（百万元）"),
    "kpi_employment": ("Manufacturing employment (persons)", "制造业就业（人）"),
    "kpi_maturity": ("Firms at digital level 3 or above (%)", "数字化 3 级及以上企业占比（%）"),
    "kpi_value_added": ("Value added (billion yuan per year)", "增加值（十亿元/年）"),
    "kpi_cost_retained": ("Spending per retained graduate (yuan)", "每留住一名毕业生的财政支出（元）"),
    "kpi_out_total": ("Graduates and talent leaving, total (persons)", "累计外流人才（人）"),
    "no_cohort": ("no cohort yet", "尚无毕业季"),
    # how to read
    "how_title": ("How to read this page", "如何阅读本页"),
    "how_items": (
        "Each step is one quarter of a year, starting 2025Q1.|"
        "Left: choose a preset or move the policy levers (grouped by the paper's five remedies; "
        "units in brackets), then press Step or Play.|"
        "Map: each dot is a firm, coloured by cluster and sized by employees; its shape shows digital "
        "maturity (circle = level 1–2, square = 3, diamond = 4–5). ▲ universities, ★ district "
        "government seats. Arrows on the left edge count talent leaving for Beijing and Tianjin this quarter.|"
        "Energy level (能级) is an index from 0 to 1 combining scale, innovation, chain, digital level, "
        "leading firms, talent and collaboration; dashed lines mark the tiers: county SME cluster, "
        "provincial, national, world-class.|"
        "A/B compare runs two policy mixes from the same random seed, so every difference comes from "
        "the policy, not from chance.|"
        "Results are model scenarios under stated assumptions, not forecasts.",
        "每一步代表一个季度，从 2025 年第一季度开始。|"
        "左侧：选择政策组合或拖动政策杠杆（按论文五类对策分组，括号内为单位），然后点击“单步”或“播放”。|"
        "地图：每个点是一家企业，颜色表示所属集群，大小表示员工数；形状表示数字化成熟度"
        "（圆形 = 1–2 级，方形 = 3 级，菱形 = 4–5 级）。▲ 高校，★ 区县政府驻地。"
        "左侧边缘的箭头统计本季度流向北京、天津的人才。|"
        "能级是 0–1 的综合指数，涵盖规模、创新、产业链、数字化、龙头企业、人才与协同；"
        "虚线标出等级：县域中小企业特色集群、省级、国家级、世界级。|"
        "方案对比在同一随机种子下运行两套政策组合，差异完全来自政策而非随机性。|"
        "结果是特定假设下的情景推演，并非预测。",
    ),
    # charts
    "quarter": ("Quarter", "季度"),
    "city": ("City", "全市"),
    "chart_energy": ("Energy level per cluster (index 0–1)", "各集群能级指数（0–1）"),
    "chart_retention": ("Graduate retention (% of graduates staying)", "毕业生留秦率（%）"),
    "chart_outflow": ("Talent leaving by destination (persons per quarter)", "人才外流去向（人/季度）"),
    "chart_maturity": ("Digital maturity of firms (GB/T 39116 levels, share of firms)",
                       "企业数字化成熟度（GB/T 39116 等级，企业占比）"),
    "chart_chain": ("Chain completeness (share of chain segments supplied locally, 0–1)",
                    "产业链完整度（本地配套比例，0–1）"),
    "chart_spending": ("Government spending by lever (cumulative, million yuan)",
                       "各政策杠杆累计财政支出（百万元）"),
    "chart_map": ("Qinhuangdao: firms, universities and government seats",
                  "秦皇岛：企业、高校与政府驻地"),
    "short_map": ("Map", "地图"),
    "short_energy": ("Energy level", "能级"),
    "short_talent": ("Talent", "人才"),
    "short_maturity": ("Digital maturity", "数字化成熟度"),
    "short_chain": ("Chain", "产业链"),
    "short_spending": ("Spending", "财政支出"),
    "share_pct": ("Share of firms (%)", "企业占比（%）"),
    "retention_pct": ("Retention (%)", "留秦率（%）"),
    "persons": ("Persons", "人"),
    "million_yuan": ("Million yuan", "百万元"),
    "no_spending": ("No spending yet: press Step.", "尚无支出：请点击“单步”。"),
    "level": ("Level {n}", "{n} 级"),
    "maturity_1": ("L1 Planning", "1 规划级"),
    "maturity_2": ("L2 Standardised", "2 规范级"),
    "maturity_3": ("L3 Integrated", "3 集成级"),
    "maturity_4": ("L4 Optimised", "4 优化级"),
    "maturity_5": ("L5 Leading", "5 引领级"),
    "map_university": ("University", "高校"),
    "map_government": ("Government seat", "政府驻地"),
    "map_sea": ("Bohai Sea", "渤海"),
    "map_maturity_12": ("Digital level 1–2", "数字化 1–2 级"),
    "map_maturity_3": ("Digital level 3", "数字化 3 级"),
    "map_maturity_45": ("Digital level 4–5", "数字化 4–5 级"),
    "map_flow": ("{dest}: {n:,.0f} left in {period}", "{dest}：{period} 流出 {n:,.0f} 人"),
    "map_size": ("size = employees", "大小 = 员工数"),
    "km": ("km", "公里"),
    # A/B compare
    "compare_intro": ("Run two policy mixes from the same seed and compare their outcomes.",
                      "在同一随机种子下运行两套政策组合，比较结果。"),
    "setting_a": ("Setting A", "方案 A"),
    "setting_b": ("Setting B", "方案 B"),
    "current_levers": ("Current levers (left panel)", "当前杠杆设置（左侧）"),
    "compare_quarters": ("Quarters to simulate", "模拟季度数"),
    "compare_run": ("Run A and B", "运行 A 与 B"),
    "compare_running": ("Running A and B…", "正在运行 A 与 B…"),
    "compare_outcome": ("Outcome at the end", "期末结果"),
    "compare_diff": ("Difference B − A", "差值 B − A"),
    "compare_none": ("Choose two settings and press “Run A and B”.", "选择两套方案后点击“运行 A 与 B”。"),
    "compare_seed": ("Both runs use seed {seed}, {n} quarters.", "两次运行均使用随机种子 {seed}，共 {n} 个季度。"),
    "compare_chart": ("A (solid) vs B (dashed)", "A（实线）与 B（虚线）"),
    "compare_energy": ("Mean energy index", "平均能级指数"),
    "compare_retention": ("Graduate retention (%)", "毕业生留秦率（%）"),
    "compare_outflow": ("Leaving for Beijing + Tianjin (persons per quarter)", "流向京津（人/季度）"),
    "compare_spending": ("Government spending (million yuan per quarter)", "财政支出（百万元/季度）"),
    "compare_error": ("The comparison failed: {err}", "对比运行失败：{err}"),
    "outcome": ("Outcome", "指标"),
    "ab_energy": ("Mean energy index at the end (0–1)", "期末平均能级指数（0–1）"),
    "ab_tiers": ("Clusters at provincial tier or above at the end", "期末达到省级及以上的集群数"),
    "ab_retention": ("Graduate retention over the run (%)", "全期毕业生留秦率（%）"),
    "ab_out_total": ("Talent leaving, whole run (persons)", "全期人才外流（人）"),
    "ab_out_bj": ("To Beijing, whole run (persons)", "全期流向北京（人）"),
    "ab_out_tj": ("To Tianjin, whole run (persons)", "全期流向天津（人）"),
    "ab_maturity": ("Firms at digital level 3 or above at the end (%)", "期末数字化 3 级及以上企业占比（%）"),
    "ab_employment": ("Manufacturing employment at the end (persons)", "期末制造业就业（人）"),
    "ab_value_added": ("Value added at the end (billion yuan per year)", "期末增加值（十亿元/年）"),
    "ab_spend_total": ("Government spending, whole run (million yuan)", "全期财政支出（百万元）"),
    # export
    "export_intro": ("Download the current run (quarters so far) as tables and charts.",
                     "下载当前运行（截至当前季度）的数据表与图表。"),
    "export_tables": ("Tables (CSV)", "数据表（CSV）"),
    "export_charts": ("Charts (PNG)", "图表（PNG）"),
    "table_city": ("City by quarter", "全市季度数据"),
    "table_clusters": ("Clusters by quarter", "集群季度数据"),
    "table_districts": ("Districts by quarter", "区县季度数据"),
    "table_firms": ("Firms now", "当前企业"),
    "table_settings": ("Settings (levers, seed)", "参数设置（政策杠杆、随机种子）"),
    "all_charts": ("All charts (ZIP)", "全部图表（ZIP）"),
    "error": ("Something went wrong: {err}", "出现错误：{err}"),
}

# Units of the levers in configs/parameters.toml, as shown next to the slider. ``scale`` converts the
# model's value to the shown number (e.g. yuan -> million yuan); ``step`` is the slider step in shown units.
UNITS: dict[str, tuple[str, str, float, float]] = {
    "index 0-1": ("index 0–1", "指数 0–1", 1.0, 0.05),
    "share of firm R&D spending reimbursed": ("% of firm R&D spending", "% 企业研发费用", 100.0, 1.0),
    "yuan per year": ("million yuan/yr", "百万元/年", 1e-6, 5.0),
    "share of upgrade cost paid by the grant": ("% of upgrade cost", "% 改造成本", 100.0, 1.0),
    "share of grant budget reserved for SMEs": ("% of grant budget to SMEs", "% 预算用于中小企业", 100.0, 5.0),
    "yuan per graduate who stays (one-off, incl. housing allowance)":
        ("yuan per graduate who stays, one-off", "元/留秦毕业生，一次性", 1.0, 1000.0),
    "interest-rate discount for SMEs, per year": ("percentage points off SME loan rate", "贷款利率下调百分点",
                                                  100.0, 0.1),
    "share of firms' training cost co-funded": ("% of firms' training cost", "% 企业培训费用（政府分担）", 100.0, 5.0),
}


def t(key: str, lang: Lang, **fmt) -> str:
    """The UI string ``key`` in ``lang``, formatted with ``fmt``."""
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def pick(en: str, zh: str, lang: Lang) -> str:
    return zh if lang == "zh" else en


@lru_cache(maxsize=1)
def _config():
    return sim.default_config()


def lever_label(name: str, lang: Lang) -> str:
    p = _config().schema[name]
    return pick(p.label_en, p.label_zh, lang)


def unit_label(name: str, lang: Lang) -> str:
    unit = _config().schema[name].unit
    if unit in UNITS:
        return pick(UNITS[unit][0], UNITS[unit][1], lang)
    return unit  # not translated: tests/test_app.py checks every lever unit is in UNITS


def group_label(group: int, lang: Lang) -> str:
    en, zh = LEVER_GROUPS[group]
    return f"{group} " + pick(en, zh, lang)


def cluster_label(key: str, lang: Lang) -> str:
    c = _config().city["clusters"][key]
    return pick(c["label_en"], c["label_zh"], lang)


def district_label(key: str, lang: Lang) -> str:
    d = _config().city["districts"][key]
    en = key if key.isupper() else re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key)  # "BeidaiheNewArea"
    return pick(en, d["label_zh"], lang)


def destination_label(key: str, lang: Lang) -> str:
    return pick(key, _config().city["destinations"][key]["label_zh"], lang)


def tier_label(tier: int, lang: Lang) -> str:
    e = _config().city["energy"]
    labels = e["tier_labels_zh"] if lang == "zh" else e["tier_labels_en"]
    return labels[int(tier)]


def preset_label(preset, lang: Lang) -> str:
    return pick(preset.label_en, preset.label_zh, lang)


def how_items(lang: Lang) -> list[str]:
    return t("how_items", lang).split("|")
