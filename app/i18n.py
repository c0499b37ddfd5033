"""Every string the workshop page shows, in English and Chinese (one table, one place).

UI strings live in :data:`STRINGS` as ``key: (english, chinese)``. Names that belong to the model
are *not* repeated here: lever labels and units come from ``configs/parameters.toml``
(``label_en`` / ``label_zh``), remedy-group names from :data:`sim.inputs.config.LEVER_GROUPS`, cluster,
district, university, destination and energy-tier names from ``configs/city.toml``, preset names
from ``configs/presets.toml``. Use :func:`t` for UI strings and the ``*_label`` helpers for the rest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import sim
from sim.inputs.config import LEVER_GROUPS

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
    "tab_why": ("Why a cluster climbed", "集群为何升级"),
    "tab_budget": ("Budget", "财政预算"),
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
    "seed_empty": ("The seed is empty: enter a whole number from 0 to {max}. Still using seed {seed}.",
                   "随机种子为空：请输入 0 到 {max} 之间的整数。仍使用随机种子 {seed}。"),
    "seed_invalid": ("“{text}” is not a valid seed: enter a whole number from 0 to {max}. Still using seed {seed}.",
                     "“{text}”不是有效的随机种子：请输入 0 到 {max} 之间的整数。仍使用随机种子 {seed}。"),
    "levers_show": ("Levers", "政策杠杆"),
    "levers_hide": ("Hide levers", "收起杠杆"),
    "lever_type": ("Value", "数值"),
    "lever_bad_number": ("“{text}” is not a number.", "“{text}”不是数字。"),
    "lever_out_of_range": ("Enter a value from {lo} to {hi} {unit}.", "请输入 {lo} 到 {hi} 之间的数值（{unit}）。"),
    "levers_live": ("Lever changes apply from the next quarter.", "政策调整从下一季度起生效。"),
    "levers_reset": ("Lever changes take effect on Reset.", "政策调整在“重置”后生效。"),
    # presets and levers
    "presets": ("Policy presets", "政策组合"),
    "levers": ("Policy levers (the paper's five remedy groups)", "政策杠杆（论文五类对策）"),
    "group": ("Remedy group {n}", "对策 {n}"),
    # key figures: the headline outcomes (sim.state.records.HEADLINE_OUTCOMES' words), then the energy tiers
    "kpi_value_added": ("Real value added ({unit})", "实际工业增加值（{unit}）"),
    "kpi_sourcing": ("Local sourcing share of inputs", "本地配套率"),
    "kpi_employment": ("Manufacturing employment (persons)", "制造业就业（人）"),
    "kpi_fiscal": ("Net fiscal balance so far ({unit})", "累计财政净收支（{unit}）"),
    "kpi_retention_3y": ("Graduates in the city after 3 years", "毕业3年后仍留秦比例"),
    "kpi_retention_latest": ("Latest cohort retention (no 3-year cohort yet)",
                             "最近一届留秦率（尚无满3年届次）"),
    "kpi_out_bj": ("Outflow to Beijing so far (persons)", "累计流向北京人才（人）"),
    "kpi_out_tj": ("Outflow to Tianjin so far (persons)", "累计流向天津人才（人）"),
    "kpi_energy": ("Mean energy index (0–1)", "平均能级指数（0–1）"),
    "kpi_tiers": ("Clusters at provincial tier or above", "达到省级及以上的集群"),
    "kpi_spend": ("Spending this quarter ({unit})", "本季度财政支出（{unit}）"),
    "kpi_retention": ("Graduate retention over the run", "全期毕业生留秦率"),
    "kpi_spend_total": ("Government spending so far", "累计财政支出"),
    "kpi_climbed": ("Tier levels climbed", "集群累计升级级数"),
    "kpi_cost_level": ("Spending per tier level climbed", "每提升一个集群等级的财政支出"),
    "kpi_maturity": ("Firms at digital level 3 or above (%)", "数字化 3 级及以上企业占比（%）"),
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
        "Key figures, top row: the headline outcomes a statistics bureau could check — real value added (2021 "
        "prices, annual rate), the local sourcing share of the six clusters' parts and processing inputs, "
        "manufacturing employment, the net fiscal balance so far (local tax minus programme spending), graduates "
        "still in the city after 3 years (until a cohort is three years on: the latest cohort's retention, "
        "labelled so) and the outflows to Beijing and Tianjin so far. Below them the energy index and tiers, "
        "the paper's vocabulary, and this quarter's spending.|"
        "Energy level (能级) is an index from 0 to 1 combining scale, innovation, chain, digital level, "
        "leading firms, talent and collaboration; dashed lines mark the tiers: county SME cluster, "
        "provincial, national, world-class.|"
        "A/B compare runs both policy mixes M times (default 8) with the same seeds: run r of A and run r of "
        "B share seed r and, by default, draw r of the behavioural coefficients fitted by the calibration, so "
        "each difference is paired. A single run can mislead, because chance and what we don't know about "
        "behaviour move many outcomes as much as a policy does: the table shows the mean difference, its range "
        "over the M runs and in how many runs B was better, and colours a difference only when all M runs agree.|"
        "The grey dashed lines on the charts are the status quo with the same seed; dotted vertical lines "
        "mark quarters after which levers changed.|"
        "Why a cluster climbed → “Where does the effect come from?”: the current levers against the status quo "
        "with each of their channels switched off in turn, over paired runs; a channel's contribution is shown "
        "in black only when its 95 % interval excludes 0.|"
        "Results are model scenarios under stated assumptions, not forecasts.",
        "每一步代表一个季度，从 2025 年第一季度开始。|"
        "左侧：选择政策组合或拖动政策杠杆（按论文五类对策分组，括号内为单位），然后点击“单步”或“播放”。|"
        "地图：每个点是一家企业，颜色表示所属集群，大小表示员工数；形状表示数字化成熟度"
        "（圆形 = 1–2 级，方形 = 3 级，菱形 = 4–5 级）。▲ 高校，★ 区县政府驻地。"
        "左侧边缘的箭头统计本季度流向北京、天津的人才。|"
        "关键指标第一行为统计部门可核验的核心指标：实际工业增加值（2021 年价，年率）、六大集群零部件与加工投入的"
        "本地配套率、制造业就业、累计财政净收支（地方税收减政策支出）、毕业 3 年后仍留秦比例（尚无毕业满 3 年的届次时"
        "显示最近一届的留秦率，并注明）以及累计流向北京、天津的人才。其下为论文口径的能级指数与等级，以及本季度财政支出。|"
        "能级是 0–1 的综合指数，涵盖规模、创新、产业链、数字化、龙头企业、人才与协同；"
        "虚线标出等级：县域中小企业特色集群、省级、国家级、世界级。|"
        "方案对比将两套政策组合各运行 M 次（默认 8 次），使用相同的随机种子：A 的第 r 次与 B 的第 r 次"
        "共用种子 r，默认还共用校准拟合的行为系数的第 r 个后验抽样，差值两两配对。"
        "单次运行可能误导，因为随机性和对行为认识的不确定性对许多结果的影响不亚于政策："
        "表中给出平均差值、M 次运行中差值的范围以及 B 更优的次数，只有 M 次全部一致时才以颜色标出。|"
        "图中灰色虚线为同一随机种子下的现状方案；竖向点线标出政策调整后的季度。|"
        "“集群为何升级”→“效果从何而来？”：在配对运行中将当前杠杆设置与现状方案对比，并依次关闭各作用渠道；"
        "只有 95% 置信区间不包含 0 时，渠道贡献才以黑色显示。|"
        "结果是特定假设下的情景推演，并非预测。",
    ),
    # charts
    "quarter": ("Quarter", "季度"),
    "city": ("City", "全市"),
    "chart_energy": ("Energy level per cluster (index 0–1)", "各集群能级指数（0–1）"),
    "chart_retention": ("Graduates staying (%)", "毕业生留秦率（%）"),
    "chart_outflow": ("Leaving (persons/quarter)", "人才外流（人/季度）"),
    "chart_maturity": ("Digital maturity (GB/T 39116)", "企业数字化成熟度（GB/T 39116）"),
    "chart_maturity_l3": ("City: share of firms (%) at level 3+ over time", "全市数字化 3 级及以上企业占比（%）随时间变化"),
    "chart_chain": ("Chain completeness (local share, 0–1)", "产业链完整度（本地配套比例，0–1）"),
    "chart_spending": ("Spending per quarter ({unit})", "每季度财政支出（{unit}）"),
    "group_short": ("Group {n}", "对策 {n}"),
    "legend_ghost": ("Status quo", "现状方案"),
    "legend_changes": ("Levers changed", "政策调整"),
    "legend_ceiling": ("Ceiling", "预算上限"),
    "city_status_quo": ("City, status quo", "全市（现状）"),
    "ghost_note": ("Grey dashed: the status quo with the same seed, computed alongside.",
                   "灰色虚线：同一随机种子下的现状方案（同步计算）。"),
    "chart_map": ("Qinhuangdao: firms, universities and government seats",
                  "秦皇岛：企业、高校与政府驻地"),
    "short_map": ("Map", "地图"),
    # text alternatives of the page's pictures (read by screen readers; app.a11y.Picture)
    "alt_chart": ("Chart: {name} · {period}", "图表：{name} · {period}"),
    "alt_why": ("Chart: the index components of {cluster}, at the start and now", "图表：{cluster}的指数构成（起点与当前）"),
    "alt_compare": ("Chart: settings A and B over time", "图表：方案 A 与方案 B 随时间变化"),
    "progress": ("Progress of the runs", "运行进度"),
    "busy": ("The server is working", "服务器正在计算"),
    "short_energy": ("Energy level", "能级"),
    "short_talent": ("Talent", "人才"),
    "short_maturity": ("Digital maturity", "数字化成熟度"),
    "short_chain": ("Chain", "产业链"),
    "short_spending": ("Spending", "财政支出"),
    "share_pct": ("Share of firms (%)", "企业占比（%）"),
    "retention_pct": ("Retention (%)", "留秦率（%）"),
    "persons": ("Persons", "人"),
    "million_yuan": ("Million yuan", "万元"),
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
    "chart_map_short": ("Firms, universities, government seats", "企业、高校与政府驻地"),
    "map_flow_short": ("{dest}\n{n:,.0f} left", "{dest}\n流出 {n:,.0f} 人"),  # two short lines: the map's west edge
    "map_size": ("size = employees", "大小 = 员工数"),
    "km": ("km", "公里"),
    # A/B compare
    "compare_intro": ("Run two policy mixes M times each, replicate r of both with seed r (and, if chosen below, "
                      "posterior draw r), and compare their outcomes with the spread over the runs.",
                      "两套政策组合各运行 M 次（第 r 次均使用随机种子 r；若在下方选择，还共用第 r 个后验抽样），"
                      "比较结果及其在各次运行间的波动。"),
    "vary_label": ("Replicates vary", "各次运行之间变化的是"),
    "vary_seeds": ("chance only (seeds)", "仅随机性（随机种子）"),
    "vary_posterior": ("chance and what we don't know about behaviour (seeds + posterior draws of the fitted "
                       "coefficients)", "随机性及对行为认识的不确定性（随机种子 + 拟合行为系数的后验抽样）"),
    "vary_missing": ("Posterior draws unavailable: no fitted posterior (configs/posterior.parquet).",
                     "无法使用后验抽样：没有拟合的后验分布（configs/posterior.parquet）。"),
    "vary_invalid": ("Posterior draws unavailable: the posterior file is not valid.",
                     "无法使用后验抽样：后验分布文件无效。"),
    "vary_checking": ("Checking the fitted posterior…", "正在检查拟合的后验分布…"),
    "vary_stale": ("Posterior draws unavailable: the posterior was fitted to another version of the model or targets.",
                   "无法使用后验抽样：后验分布是针对其他版本的模型或校准目标拟合的。"),
    "compare_replicates": ("Paired runs M", "配对运行次数 M"),
    "compare_rule": ("Colour rule: a difference is green (B better) or red (B worse) only when all {m} paired runs "
                     "agree on its direction; if B made no difference, that would happen with probability {p:.1f} %. "
                     "Otherwise it is grey: within the spread of the runs. Range = smallest … largest of the {m} "
                     "differences.",
                     "着色规则：仅当全部 {m} 次配对运行的差值方向一致时，才标为绿色（B 更优）或红色（B 更差）；"
                     "若 B 实际没有影响，出现这种情况的概率为 {p:.1f}%。否则显示为灰色：差异在各次运行的波动范围内。"
                     "范围 = {m} 个差值中的最小值 … 最大值。"),
    "compare_range_seeds": ("The ranges include chance only: every run uses the same behavioural coefficients, so "
                            "what we don't know about behaviour is not in them.",
                            "范围仅包含随机性：各次运行使用相同的行为系数，未包含对行为认识的不确定性。"),
    "compare_range_posterior": ("The ranges include chance and the uncertainty of the fitted behavioural "
                                "coefficients (run r uses posterior draw r); not the uncertain parameters the "
                                "calibration did not fit, nor the model's structure.",
                                "范围包含随机性及拟合行为系数的不确定性（第 r 次运行使用第 r 个后验抽样）；"
                                "不包含校准未拟合的不确定参数，也不包含模型结构本身的不确定性。"),
    "b_better_n": ("{n} of {m}", "{m} 次中 {n} 次"),
    "col_unit": ("Unit", "单位"),
    "col_mean_a": ("A (mean)", "A（均值）"),
    "col_mean_b": ("B (mean)", "B（均值）"),
    "col_min_diff": ("Smallest difference", "最小差值"),
    "col_max_diff": ("Largest difference", "最大差值"),
    "col_range": ("Range of B − A", "B − A 范围"),
    "col_b_better": ("B better in", "B 更优次数"),
    "col_verdict": ("Verdict", "结论"),
    "col_setting": ("Setting", "方案"),
    "col_setting_name": ("What the setting is", "方案内容"),
    "col_vary": ("Replicates vary", "运行间变化"),
    "col_draw": ("Posterior draw", "后验抽样序号"),
    "col_particle": ("Posterior particle", "后验粒子序号"),
    "verdict_better": ("B better in every run", "B 每次都更优"),
    "verdict_worse": ("B worse in every run", "B 每次都更差"),
    "verdict_unclear": ("not clear of noise", "未超出随机波动"),
    "verdict_neutral": ("no better direction", "无优劣方向"),
    "unit_index": ("index 0–1", "指数 0–1"),
    "unit_clusters": ("clusters", "个集群"),
    "unit_levels": ("levels", "级"),
    "unit_pct": ("%", "％"),
    "unit_persons": ("persons", "人"),
    "setting_a": ("Setting A", "方案 A"),
    "setting_b": ("Setting B", "方案 B"),
    "current_levers": ("Current levers (left panel)", "当前杠杆设置（左侧）"),
    "compare_quarters": ("Quarters to simulate", "模拟季度数"),
    "compare_run": ("Run A and B", "运行 A 与 B"),
    "compare_running": ("Running A and B… {done} of {n} runs done", "正在运行 A 与 B…已完成 {done}/{n} 次"),
    "compare_outcome": ("Outcome at the end", "期末结果"),
    "compare_diff": ("Difference B − A", "差值 B − A"),
    "compare_none": ("Choose two settings and press “Run A and B”.", "选择两套方案后点击“运行 A 与 B”。"),
    "compare_seed": ("{m} paired runs, seeds {first}–{last} (run r of A and of B share a seed), {n} quarters.",
                     "{m} 次配对运行，随机种子 {first}–{last}（A 与 B 的第 r 次共用一个种子），共 {n} 个季度。"),
    "compare_seed_posterior": ("{m} paired runs, seeds {first}–{last} with posterior draws 0–{dlast} of the fitted "
                               "coefficients (run r of A and of B share seed and draw), {n} quarters.",
                               "{m} 次配对运行，随机种子 {first}–{last}，拟合系数后验抽样 0–{dlast}"
                               "（A 与 B 的第 r 次共用种子与抽样），共 {n} 个季度。"),
    "compare_x": ("quarters since the start", "自起始的季度数"),
    "compare_chart": ("Mean of {m} runs: A (solid) vs B (dashed); bands = smallest to largest run",
                      "{m} 次运行均值：A（实线）与 B（虚线）；色带 = 各次运行的最小至最大值"),
    "compare_energy": ("Mean energy index", "平均能级指数"),
    "compare_retention": ("Graduate retention (%)", "毕业生留秦率（%）"),
    "compare_outflow": ("Leaving for Beijing + Tianjin (persons per quarter)", "流向京津（人/季度）"),
    "compare_spending": ("Spending ({unit} per quarter)", "财政支出（{unit}/季度）"),
    "compare_error": ("The comparison failed: {err}", "对比运行失败：{err}"),
    "outcome": ("Outcome", "指标"),
    # the headline outcomes (sim.state.records.HEADLINE_OUTCOMES' words), then the energy tiers, then the rest
    "ab_value_added": ("Real value added at the end (annual rate)", "期末实际工业增加值（年率）"),
    "ab_sourcing": ("Local sourcing share of the clusters' inputs at the end", "期末本地配套率（六大集群）"),
    "ab_employment": ("Manufacturing employment at the end", "期末制造业就业"),
    "ab_fiscal": ("Net fiscal balance: local tax − programme spending, whole run", "全期财政净收支：地方税收减政策支出"),
    "ab_fiscal_reading": ("B − A = extra tax minus extra spending", "B − A = 新增税收减新增支出"),
    "ab_retention_3y": ("Graduates still in the city after 3 years", "毕业3年后仍留秦比例"),
    "ab_out_bj": ("Talent outflow to Beijing, whole run", "全期流向北京人才"),
    "ab_out_tj": ("Talent outflow to Tianjin, whole run", "全期流向天津人才"),
    "ab_energy": ("Mean energy index at the end", "期末平均能级指数"),
    "ab_tiers": ("Clusters at provincial tier or above at the end", "期末达到省级及以上的集群数"),
    "ab_climbed": ("Tier levels climbed over the run", "全期集群升级级数"),
    "ab_cost_level": ("Spending per tier level climbed", "每提升一级的财政支出"),
    "ab_retention": ("Graduate retention at graduation, whole run", "全期毕业生毕业时留秦率"),
    "ab_out_total": ("Talent leaving, whole run", "全期人才外流"),
    "ab_maturity": ("Firms at digital level 3 or above at the end", "期末数字化 3 级及以上企业占比"),
    "ab_spend_total": ("Government spending, whole run", "全期财政支出"),
    "ab_cost_retained": ("Talent-lever spending per retained graduate", "人才政策支出/留秦毕业生"),
    "col_group": ("Group", "类别"),
    "col_reading": ("How B − A reads", "B − A 的含义"),
    "group_headline": ("Headline outcome (a statistics bureau can check it)", "核心指标（统计部门可核验）"),
    "group_tiers": ("Energy tiers (the paper's vocabulary)", "能级（论文口径）"),
    "group_other": ("Other figures", "其他指标"),
    "compare_order": ("The first {n} rows are the headline outcomes a statistics bureau could check; the energy "
                      "tiers (the paper's vocabulary) follow, then other figures. Net fiscal balance: B − A is B's "
                      "extra local tax minus its extra programme spending (real 2021 yuan).",
                      "前 {n} 行为统计部门可核验的核心指标；其后为能级（论文口径），再后为其他指标。"
                      "财政净收支：B − A 即 B 新增的地方税收减去新增的政策支出（2021 年不变价）。"),
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
    "url_problems": ("Ignored in the address (the page opened without them): {items}",
                     "网址中以下设置无效，已忽略（页面按默认值打开）：{items}"),
    "url_problem_item": ("{item} (allowed: {allowed})", "{item}（允许：{allowed}）"),
    "url_problem_lever": ("{label} ({item})", "{label}（{item}）"),
    "url_allowed_seed": ("a whole number from 0 to {max}", "0 到 {max} 之间的整数"),
    "url_allowed_one_of": ("one of {values}", "以下之一：{values}"),
    "url_allowed_ceiling": ("yuan per year, from {low} to {high}", "{low} 到 {high} 之间的数，单位：元/年"),
    "url_problems_more": ("and {n} more", "另有 {n} 项"),
    "url_allowed_range": ("{low} to {high}", "{low} 到 {high}"),
    "url_allowed_unknown": ("no such setting", "没有这一设置"),
    # why a cluster climbed
    "why_intro": ("The energy index is a weighted sum of seven components: which of them moved this cluster, "
                  "and which tier criteria it meets now and at the start.",
                  "能级指数是七个分项的加权和：哪些分项推动了该集群的变化，以及期初与当前满足哪些等级条件。"),
    "why_cluster": ("Cluster", "集群"),
    "why_start": ("Start {period}", "期初 {period}"),
    "why_now": ("Now {period}", "当前 {period}"),
    "why_setting_a": ("Setting A (end)", "方案 A（期末）"),
    "why_contribution": ("Contribution to the index (weight × component)", "对指数的贡献（权重 × 分项）"),
    "why_title": ("{cluster}: index {start} → {now}", "{cluster}：指数 {start} → {now}"),
    "why_ab_rule": ("Green / red: B − A has that sign in all {m} paired runs; black: the runs disagree.",
                    "绿色 / 红色：{m} 次配对运行中 B − A 的符号全部一致；黑色：各次运行不一致。"),
    "why_ab": ("A/B: each component at the end, B − A (mean of {m} paired runs)",
               "方案对比：期末各分项 B − A（{m} 次配对运行均值）"),
    # why: where the effect comes from (app/explain.py)
    "why_effect_button": ("Where does the effect come from?", "效果从何而来？"),
    "why_effect_intro": ("Runs the current levers, the status quo, the current levers with each of their channels "
                         "switched off in turn, and with all of them off, in the same paired worlds. A channel's "
                         "contribution is what the full effect loses without it.",
                         "在相同的配对情景中，分别运行当前杠杆设置、现状方案、依次关闭某一作用渠道的当前设置，"
                         "以及关闭全部渠道的当前设置。某一渠道的贡献 = 关闭该渠道后总效果减少的部分。"),
    "why_effect_plan": ("{k} channels: {n} runs ({v} variants × {m} paired runs), about {s} s",
                        "{k} 个作用渠道：共 {n} 次运行（{v} 个方案 × {m} 次配对运行），约 {s} 秒"),
    "why_effect_plan_done": ("{k} channels: {n} runs ({v} variants × {m} paired runs), all run already",
                             "{k} 个作用渠道：共 {n} 次运行（{v} 个方案 × {m} 次配对运行），均已完成"),
    "why_effect_status_quo": ("The current levers are the status quo: there is no effect to explain. Move a lever "
                              "or pick a preset first.",
                              "当前杠杆即现状方案：没有需要解释的效果。请先调整杠杆或选择政策组合。"),
    "why_effect_replicates": ("Paired runs", "配对运行次数"),
    "why_effect_running": ("Running the variants… {done} of {n} runs done", "正在运行各方案…已完成 {done}/{n} 次"),
    "why_effect_error": ("The runs failed: {err}", "运行失败：{err}"),
    "why_effect_caption": ("Current levers − status quo · {k} channels · {reps}, {q} quarters · {n} runs, {s:.1f} s",
                           "当前杠杆 − 现状方案 · {k} 个作用渠道 · {reps}，共 {q} 个季度 · {n} 次运行，{s:.1f} 秒"),
    "why_effect_seeds": ("{m} paired runs, seeds {first}–{last}", "{m} 次配对运行，随机种子 {first}–{last}"),
    "why_effect_seeds_posterior": ("{m} paired runs, seeds {first}–{last} with posterior draws 0–{dlast}",
                                   "{m} 次配对运行，随机种子 {first}–{last}，后验抽样 0–{dlast}"),
    "why_effect_channel": ("Channel", "作用渠道"),
    "why_effect_lever": ("Lever", "政策杠杆"),
    "why_effect_full": ("Full effect (current − status quo)", "总效果（当前 − 现状）"),
    "why_effect_sum": ("Sum of the channels' contributions", "各渠道贡献之和"),
    "why_effect_none": ("All channels off (the programme still runs and costs)", "关闭全部渠道（项目仍运行并产生支出）"),
    "why_effect_interaction": ("Interaction (full − sum − all off)", "交互作用（总效果 − 贡献之和 − 全部关闭）"),
    "why_effect_rule": ("Each cell: the mean over the {m} paired runs and its 95 % interval (Student t). Grey: the "
                        "interval includes 0, so these runs cannot tell it from no difference; only black figures "
                        "are differences.",
                        "每格：{m} 次配对运行的均值及其 95% 置信区间（t 分布）。灰色：区间包含 0，"
                        "这些运行无法将其与“没有差异”区分开；只有黑色数字才是差异。"),
    "why_effect_adds_up": ("For every outcome the channels' contributions and the all-off run add up to the full "
                           "effect within the noise: no interaction between the channels is measurable with {m} "
                           "paired runs.",
                           "对每项结果，各渠道贡献与“全部关闭”之和在随机波动范围内等于总效果："
                           "{m} 次配对运行测不出渠道之间的交互作用。"),
    "why_effect_interacts": ("The parts do not add up for {items} (interaction below 0: channels that need each "
                             "other; above 0: channels that stand in for one another).",
                             "以下结果的各部分之和不等于总效果：{items}（交互作用小于 0：渠道相互依赖；大于 0：渠道可相互替代）。"),
    "why_effect_rest": (" For the other outcomes they add up within the noise.", "其余结果在随机波动范围内相加等于总效果。"),
    "why_effect_item": ("{outcome}: channels {parts}, full effect {full}, interaction {i} {unit}",
                        "{outcome}：渠道合计 {parts}，总效果 {full}，交互作用 {i}（{unit}）"),
    "ex_value_added": ("Real value added at the end (annual rate)", "期末实际工业增加值（年率）"),
    "ex_sourcing": ("Local sourcing share at the end", "期末本地配套率"),
    "ex_employment": ("Manufacturing employment at the end", "期末制造业就业"),
    "ex_fiscal": ("Net fiscal balance, whole run: extra tax − extra spending", "全期财政净收支：新增税收减新增支出"),
    "ex_retention_3y": ("Graduates still in the city 3 years on", "毕业 3 年后仍留秦比例"),
    "ex_levels": ("Energy levels climbed (six clusters)", "能级提升级数（六大集群）"),
    "ex_spending": ("Public spending, whole run", "全期财政支出"),
    "unit_pp": ("percentage points", "个百分点"),
    # why in words (app/why_words.py): the outcomes as a sentence names them (why_say_ + the ex_ key)
    "why_say_ex_value_added": ("real value added (annual rate)", "实际工业增加值（年率）"),
    "why_say_ex_sourcing": ("the local sourcing share", "本地配套率"),
    "why_say_ex_employment": ("manufacturing employment", "制造业就业"),
    "why_say_ex_fiscal": ("the net fiscal balance over the run (extra tax − extra spending)",
                          "全期财政净收支（新增税收减新增支出）"),
    "why_say_ex_retention_3y": ("graduates still in the city 3 years on", "毕业 3 年后仍留秦比例"),
    "why_say_ex_levels": ("energy levels climbed by the six clusters", "六大集群能级提升级数"),
    "why_say_ex_spending": ("public spending over the run", "全期财政支出"),
    "why_say_effect": ("{outcome} by {end}: {full} {unit} against the status quo (95 % interval {lo} … {hi}).",
                       "至 {end}，{outcome}较现状 {full} {unit}（95% 区间 {lo} … {hi}）。"),
    "why_say_most": ("Most of it comes from {source}: {part} ({lo} … {hi}).",
                     "其中大部分来自{source}：{part}（{lo} … {hi}）。"),
    "why_say_largest": ("The largest part comes from {source}: {part} ({lo} … {hi}), clearly more than any other "
                        "part but not clearly more than half.",
                        "最大的一部分来自{source}：{part}（{lo} … {hi}），明显大于其他部分，但不能确定超过一半。"),
    "why_say_tie": ("Which part carries most of it is too close to call at {m} paired runs: {parts}.",
                    "{m} 次配对运行下，难以判断主要来自哪一部分：{parts}。"),
    "why_say_no_part": ("No single part of it can be told from 0 at {m} paired runs.",
                        "{m} 次配对运行下，其中没有哪一部分能与 0 区分开。"),
    "why_say_against": ("Pulling the other way: {parts}.", "反向作用：{parts}。"),
    "why_say_interacts": ("The parts do not add up for this outcome (see the sentence under the table).",
                          "该结果的各部分之和不等于总效果（见表下说明）。"),
    "why_say_part": ("{source} {part} ({lo} … {hi})", "{source}：{part}（{lo} … {hi}）"),
    "why_say_channel": ("{channel} (lever: {lever})", "{channel}（政策杠杆：{lever}）"),
    "why_say_none": ("running the programmes themselves (every channel off)", "项目本身的运行（关闭全部渠道时）"),
    "why_say_more": ("and {n} more", "另有 {n} 项"),
    "why_say_unclear": ("No difference from the status quo is measurable at {m} paired runs for {outcomes}.",
                        "{m} 次配对运行下，以下结果与现状的差异无法测出：{outcomes}。"),
    "why_say_nothing": ("None of the outcomes differs measurably from the status quo by {end} at {m} paired runs "
                        "(more paired runs narrow the intervals).",
                        "{m} 次配对运行下，至 {end} 没有哪项结果与现状有可测出的差异（增加配对运行次数可缩小区间）。"),
    "why_say_no_value": ("Not yet observable within {q} quarters: {outcomes}.", "{q} 个季度内尚无法观测：{outcomes}。"),
    "why_say_plan": ("Press “{button}” to see, for each outcome by {end}, how far the current levers move it "
                     "against the status quo and through which channels: {levers}.",
                     "点击“{button}”，查看至 {end} 当前杠杆使各项结果较现状变化多少，以及经由哪些作用渠道：{levers}。"),
    "why_say_plan_lever": ("{lever} ({k} channels)", "{lever}（{k} 个渠道）"),
    "why_say_plan_lever_one": ("{lever} (1 channel)", "{lever}（1 个渠道）"),
    "why_say_start": ("{period}: the run has not started, so nothing has moved yet. After a step this view shows "
                      "which of the seven components moved the energy index of {cluster} since the start, and "
                      "which tier criteria it meets.",
                      "{period}：运行尚未开始，各分项尚无变化。运行一步后，这里显示七个分项中哪些推动了"
                      "{cluster}的能级指数自期初以来的变化，以及满足哪些等级条件。"),
    "why_say_cluster": ("In this run the energy index of {cluster} went from {a} ({start}) to {b} ({now}), "
                        "a change of {d}.",
                        "本次运行中，{cluster}的能级指数从 {a}（{start}）变为 {b}（{now}），变化 {d}。"),
    "why_say_cluster_flat": ("In this run the energy index of {cluster} is {a} at {start} and {b} at {now}: "
                             "unchanged to three decimals.",
                             "本次运行中，{cluster}的能级指数 {start} 为 {a}，{now} 为 {b}：保留三位小数无变化。"),
    "why_say_cluster_most": ("Most of the change came from {comp} ({x}).", "其中大部分来自{comp}（{x}）。"),
    "why_say_cluster_largest": ("The largest part came from {comp} ({x}), less than half.",
                                "最大的一部分来自{comp}（{x}），不足一半。"),
    "comp_scale": ("Scale", "规模"),
    "comp_innovation": ("Innovation", "创新"),
    "comp_chain": ("Chain", "产业链"),
    "comp_digital": ("Digital level", "数字化"),
    "comp_leaders": ("Leading firms", "龙头企业"),
    "comp_talent": ("Talent", "人才"),
    "comp_collaboration": ("Collaboration", "协同"),
    "comp_col": ("Component", "分项"),
    "comp_weight": ("Weight", "权重"),
    "comp_start": ("Start", "期初"),
    "comp_now": ("Now", "当前"),
    "comp_contrib": ("Change × weight", "变化 × 权重"),
    "crit_title": ("Tier criterion", "等级条件"),
    "crit_county": ("County SME cluster: output, SME share and growth over 3 years (MIIT)",
                    "县域中小企业特色集群：3 年产值、中小企业占比与增长（工信部）"),
    "crit_provincial": ("Provincial: index ≥ {p:.2f}", "省级：指数 ≥ {p:.2f}"),
    "crit_national": ("National: index ≥ {n:.2f}", "国家级：指数 ≥ {n:.2f}"),
    "crit_world": ("World-class: index ≥ {w:.2f}", "世界级：指数 ≥ {w:.2f}"),
    "crit_tier": ("Tier (index tiers need several quarters above the line)", "等级（指数等级需连续多个季度达标）"),
    # budget
    "budget_ceiling": ("Spending ceiling ({unit})", "年度财政支出上限（{unit}）"),
    "budget_ceiling_invalid": ("Enter a number from {low} to {high} ({unit}).",
                               "请输入 {low} 到 {high} 之间的数（{unit}）。"),
    "budget_ceiling_row": ("Ceiling", "上限"),
    "budget_total": ("Total", "合计"),
    "budget_table_caption": ("Spending per year by lever ({unit}); * = year not complete; red = over the ceiling.",
                             "各政策杠杆年度支出（{unit}）；* = 年度未结束；红色 = 超出上限。"),
    "budget_per_retained": ("Per retained graduate: talent levers {v}; all spending {w}",
                            "每留住一名毕业生：人才政策支出 {v}；全部支出 {w}"),
    "budget_per_level": ("Per tier level climbed: {v}", "每提升一个集群等级：{v}"),
    "budget_no_level": ("no level climbed yet", "尚无集群升级"),
    "budget_extra": ("Against the status quo (same seed): {r} per extra retained graduate, {l} per extra level",
                     "与现状方案（同一随机种子）相比：每多留住一名毕业生 {r}，每多提升一级 {l}"),
    # exports
    "export_ab": ("A/B comparison", "方案对比"),
    "export_ab_table": ("A/B table", "对比结果表"),
    "export_ab_runs": ("A/B every run", "对比各次运行"),
    "export_ab_none": ("Run an A/B comparison first to export it.", "请先运行方案对比再导出。"),
    "export_pdf": ("One-page summary (PDF)", "一页摘要（PDF）"),
    "pdf_title": ("Policy workshop summary", "政策推演摘要"),
    "pdf_heading": ("Qinhuangdao advanced-manufacturing clusters: policy workshop summary",
                    "秦皇岛先进制造业集群政策推演摘要"),
    "pdf_more": ("+{n} more: every lever is listed in the appendix (page 2)", "另有 {n} 项：全部杠杆见附录（第 2 页）"),
    "pdf_appendix": ("Appendix: every lever different from the status quo", "附录：与现状不同的全部杠杆"),
    "pdf_status_quo_value": ("status quo {v}", "现状 {v}"),
    "scenario_hand": ("Levers set by hand ({n} changed)", "手动设置杠杆（{n} 项调整）"),
    "png_source": ("{scenario} · seed {seed} · {start}–{end} · Qinhuangdao cluster simulator {version}: "
                   "a model scenario under stated assumptions, not a forecast",
                   "{scenario} · 随机种子 {seed} · {start}–{end} · 秦皇岛集群仿真模型 {version}：特定假设下的情景推演，并非预测"),
    "pdf_settings": ("Settings", "参数设置"),
    "pdf_preset": ("Preset", "政策组合"),
    "pdf_none": ("(levers set by hand)", "（手动设置杠杆）"),
    "pdf_changed": ("Levers different from the status quo", "与现状不同的杠杆"),
    "pdf_no_changes": ("none (status quo)", "无（现状）"),
    "pdf_note": ("Model scenarios under stated assumptions, not forecasts.", "特定假设下的情景推演，并非预测。"),
    "setting_name": ("Setting", "设置项"),
    "setting_value": ("Value", "取值"),
    "setting_unit": ("Unit", "单位"),
    "setting_status_quo": ("Status quo", "现状取值"),
    "setting_group": ("Remedy group", "对策类别"),
    "setting_seed": ("Random seed", "随机种子"),
    "setting_quarters": ("Quarters in the run", "运行总季度数"),
    "setting_quarter_now": ("Quarter reached", "当前季度"),
    "setting_preset": ("Preset", "政策组合"),
    "setting_changes": ("Quarters after which levers changed", "政策调整的季度"),
    "setting_ab_vary": ("A/B replicates vary", "方案对比各次运行之间的变化"),
    "setting_posterior": ("A/B posterior", "方案对比所用后验分布"),
    "vary_short_seeds": ("chance only (seeds)", "仅随机性（随机种子）"),
    "vary_short_posterior": ("chance + posterior draws of the fitted coefficients", "随机性 + 拟合系数后验抽样"),
    "pdf_particles": ("Posterior draw → particle (row of the posterior table)", "后验抽样 → 粒子（后验表中的行）"),
    "posterior_fitted": ("fitted {date}, model {version}", "拟合于 {date}，模型版本 {version}"),
    # the instant answer (app.answer): the new setting against the status quo on every lever move
    "answer_title": ("Vs the status quo, {period}:", "与现状相比（{period}）："),
    "answer_kpi_value_added": ("Value added", "工业增加值"),
    "answer_kpi_retention_3y": ("Graduates in the city after 3 years", "毕业3年后留秦比例"),
    "answer_kpi_employment": ("Employment", "就业"),
    "answer_kpi_fiscal": ("Net fiscal balance, whole run", "全期财政净收支"),
    "answer_kpi_sourcing": ("Local sourcing", "本地配套率"),
    "answer_kpi_out_bj": ("Leaving for Beijing", "流向北京"),
    "answer_kpi_out_tj": ("Leaving for Tianjin", "流向天津"),
    "answer_points": ("points", "个百分点"),
    "answer_range": ("range {lo} … {hi}", "范围 {lo} … {hi}"),
    "answer_better_n": ("{n}/{m} better", "{m} 次中 {n} 次更好"),
    "answer_one": ("One paired run (seed {seed}), 2025 to {period}: chance alone moves figures like these, so no count and "
                   "no colour yet.",
                   "一次配对运行（随机种子 {seed}），2025 年至 {period}：仅随机性就可能造成这样大小的差异，因此暂不给出次数、不着色。"),
    "answer_many": ("Mean of {m} paired runs (seeds {first}–{last}), 2025 to {period}; range = smallest … largest paired "
                    "difference.",
                    "{m} 次配对运行的平均（随机种子 {first}–{last}），2025 年至 {period}；范围 = 配对差值的最小 … 最大。"),
    "answer_colour": ("Coloured: all {m} runs agree on the sign ({p} % by chance alone).",
                      "着色：{m} 次运行方向全部一致（仅凭随机性的概率为 {p}%）。"),
    "answer_no_colour": ("No colour yet: with this few runs, agreement could be chance.",
                         "暂不着色：运行次数太少，方向一致可能只是随机性。"),
    "answer_posterior": ("Runs also vary the fitted coefficients.", "各次运行同时改变拟合的行为系数（后验抽样）。"),
    "answer_refining": ("Refining with {m} runs…", "正在以 {m} 次运行细化…"),
    "answer_status_quo": ("Status-quo levers. Move a lever or choose a preset: the whole run to 2035 is computed "
                          "against the status quo at once, no Play needed.",
                          "当前为现状政策。移动任一杠杆或选择政策组合，即刻计算至 2035 年的全程结果并与现状对比，无需播放。"),
    "answer_computing": ("Computing this setting against the status quo…", "正在计算本方案与现状的对比…"),
    "answer_error": ("The answer could not be computed: {err}", "无法计算对比结果：{err}"),
    "answer_show_chart": ("Trajectories", "走势图"),
    "answer_chart_none": ("Move a lever or choose a preset: its trajectories against the status quo appear here.",
                          "移动杠杆或选择政策组合后，这里显示其与现状对比的走势。"),
    "answer_panel_kpi_value_added": ("Value added ({unit})", "工业增加值（{unit}）"),
    "answer_panel_kpi_retention_3y": ("In the city after 3 years (%)", "毕业3年后留秦（%）"),
    "answer_panel_kpi_employment": ("Employment (persons)", "就业（人）"),
    "answer_panel_kpi_sourcing": ("Local sourcing (%)", "本地配套率（%）"),
    "answer_sq": ("Status quo", "现状"),
    "answer_new": ("This setting ({m} runs)", "本方案（{m} 次运行）"),
    "alt_answer": ("Chart: headline outcomes over time, this setting against the status quo ({m} paired runs, to {period})",
                   "图表：核心指标随时间变化，本方案与现状对比（{m} 次配对运行，至 {period}）"),
    "short_answer": ("vs status quo", "与现状对比"),
    # costs before running (app.budget.lever_cost): beside each lever and in the budget tab
    "cost_exact": ("Cost ≈ {v} {unit}", "年度成本 ≈ {v} {unit}"),
    "cost_range": ("Cost {lo}–{hi} {unit}", "年度成本 {lo}–{hi} {unit}"),
    "cost_none": ("No cost of its own (it splits the grant budget)", "本身无成本（分配数字化补助预算）"),
    "cost_from_grant_budget": ("Paid out of the digital-grant budget (its cost shows there)",
                               "由数字化补助预算支付（成本计入该预算）"),
    "cost_budget": ("the budget, spent in full", "预算全额支出"),
    "cost_programme": ("running cost at full strength × the lever", "满强度运行成本 × 杠杆"),
    "cost_rd": ("rate × firms' R&D, which rises with the rate (elasticity range)", "补贴率 × 企业研发投入（随补贴率上升，按弹性区间）"),
    "cost_talent": ("subsidy × graduates who stay: as many as now, up to all", "补贴 × 留秦毕业生：从现状人数到全部毕业生"),
    "cost_training": ("share × training cost × engineers enrolled (uptake rule)", "分担比例 × 培训成本 × 参训工程师（参训规则）"),
    "cost_credit": ("discount × SMEs' debt: up to all firms' debt", "贴息 × 中小企业负债：至多全部企业负债"),
    "cost_up_to_budget": ("up to the budget, as firms take it up", "视企业申领情况，至多为预算"),
    "cost_grants": ("grants asked for (status quo × cost share), up to the budget", "申领补助（现状 × 分担比例），至多为预算"),
    "cost_iur": ("running cost × strength + co-funded projects (as now, up to more projects)",
                 "运行成本 × 强度 + 共同资助项目（从现状项目数到更多项目）"),
    "budget_before": ("This setting costs about {lo}–{hi} {unit} a year before any step (levers' cost rules, first two "
                      "years); ceiling {c} {unit}: {verdict}.",
                      "本方案运行前估算年度成本约 {lo}–{hi} {unit}（按各杠杆成本规则，前两年）；上限 {c} {unit}：{verdict}。"),
    "budget_within": ("within the ceiling", "在上限之内"),
    "budget_may_exceed": ("may exceed the ceiling", "可能超过上限"),
    "budget_exceeds": ("exceeds the ceiling", "超过上限"),
    "budget_costs_caption": ("Yearly cost of each lever at this setting ({unit}), before any step", "各杠杆在本方案下的年度成本（{unit}），运行前估算"),
    "budget_cost_rule": ("How it is estimated", "估算依据"),
    "budget_cost_col": ("Cost per year", "年度成本"),
}

# Units of the levers in configs/parameters.toml, as shown next to the slider, per language:
# ``unit: ((english label, scale, step), (chinese label, scale, step))``. ``scale`` converts the model's
# value to the shown number (e.g. yuan -> million yuan / 万元); ``step`` is the slider step in shown
# units. Money: English readers get million yuan, officials 万元 (亿元 in totals), never 百万元.
UNITS: dict[str, tuple[tuple[str, float, float], tuple[str, float, float]]] = {
    "index 0-1": (("index 0–1", 1.0, 0.05), ("指数 0–1", 1.0, 0.05)),
    "share of firm R&D spending reimbursed": (("% of firm R&D spending", 100.0, 1.0), ("% 企业研发费用", 100.0, 1.0)),
    "yuan per year": (("million yuan/yr", 1e-6, 5.0), ("万元/年", 1e-4, 500.0)),
    "share of upgrade cost paid by the grant": (("% of upgrade cost", 100.0, 1.0), ("% 改造成本", 100.0, 1.0)),
    "share of grant budget reserved for SMEs": (("% of grant budget to SMEs", 100.0, 5.0),
                                                ("% 预算用于中小企业", 100.0, 5.0)),
    "yuan per graduate who stays (one-off, incl. housing allowance)":
        (("yuan per graduate who stays, one-off", 1.0, 1000.0), ("万元/留秦毕业生，一次性", 1e-4, 0.1)),
    "interest-rate discount for SMEs, per year": (("percentage points off SME loan rate", 100.0, 0.1),
                                                  ("贷款利率下调百分点", 100.0, 0.1)),
    "share of firms' training cost co-funded": (("% of firms' training cost", 100.0, 5.0),
                                                ("% 企业培训费用（政府分担）", 100.0, 5.0)),
}

# One line per lever: what a value means in practice (from configs/parameters.toml, docs/parameters.md
# and the model's use of the lever; costs are the status-quo values of the ranged uncertainties).
LEVER_HELP: dict[str, tuple[str, str]] = {
    "city_coordination": (
        "Share of policy money the city allocates by one cluster plan (the rest: each district funds its own "
        "firms). 0.9 = 90 % planned: less duplicated spending, new firms and anchors steered to weak links, "
        "more supplier matchmaking.",
        "按全市统一集群规划分配的政策资金比例（其余由各区县各自支持本地企业）。0.9 = 九成统筹：重复投入减少，"
        "新企业和链主引向薄弱环节，产业链对接更多。"),
    "rd_subsidy_rate": (
        "Share of a firm's R&D spending the city pays back. 20 % = 20 yuan back for every 100 yuan of R&D.",
        "政府返还企业研发投入的比例。20% = 每投入 100 元研发返还 20 元。"),
    "iur_platform_strength": (
        "Strength of industry-university-research platforms. 0.8 = firm–university projects 2.6 times as "
        "likely, the platform pays 40 % of each project; running cost 40 million yuan/yr.",
        "产学研平台强度。0.8 = 校企合作项目发生概率为原来的 2.6 倍，平台承担每个项目 40% 的费用；"
        "运行费用每年 4000 万元。"),
    "anchor_attraction_budget": (
        "Money per year to attract chain-leading (anchor) firms; about 200 million yuan lands one anchor, "
        "which pulls local suppliers in.",
        "每年用于招引链主企业的资金；约 2 亿元引进一家链主，并带动本地配套企业。"),
    "weak_link_incentive": (
        "Money per year paying half the cost of firms moving into under-supplied chain segments "
        "(design, core parts, sales).",
        "每年用于补链强链的资金：为转入本地配套不足环节（设计、核心零部件、销售）的企业承担一半费用。"),
    "digital_grant_cost_share": (
        "Share of a firm's digital-upgrade cost the grant pays (city pilot: roughly 10–40 %).",
        "数字化改造补贴占企业改造成本的比例（市试点约 10%–40%）。"),
    "digital_grant_sme_priority": (
        "Share of the digital grant budget reserved for SMEs (city pilot rule: at least 80 %).",
        "数字化补贴预算中留给中小企业的比例（市试点规定不低于 80%）。"),
    "digital_grant_budget": (
        "Money per year for digital-upgrade grants; once spent, no further grants that year.",
        "每年数字化改造补贴预算；用完当年不再补贴。"),
    "digital_infrastructure_investment": (
        "Money per year on 5G and industrial-internet coverage; upgrades of firms in covered areas succeed "
        "more often.",
        "每年投入 5G 与工业互联网覆盖的资金；覆盖区域内企业的数字化改造成功率更高。"),
    "data_sharing_centre": (
        "Openness of an industrial big-data centre (0 = none). 0.8 = firms at digital level 2+ join at 80 % "
        "of the full rate; members gain more from upgrading; 24 million yuan/yr.",
        "工业大数据中心开放程度（0 = 无）。0.8 = 数字化 2 级以上企业以八成的速度加入，成员改造收益更高；"
        "每年 2400 万元。"),
    "benchmark_programme": (
        "Strength of benchmark / demonstration firms. 0.8 = firms expect 40 % more gain from upgrading; "
        "16 million yuan/yr.",
        "标杆示范工程强度。0.8 = 企业对数字化改造的预期收益提高 40%；每年 1600 万元。"),
    "talent_settlement_subsidy": (
        "One-off payment (incl. housing allowance) to each graduate who stays in Qinhuangdao "
        "(comparable cities: 20,000–70,000 yuan).",
        "对每位留秦毕业生的一次性安家及住房补贴（可比城市：2–7 万元）。"),
    "industry_education_consortium": (
        "Share of graduates trained in industry-education consortia (field engineers), who get stronger local "
        "ties. 0.8 = 80 % of graduates; 16 million yuan/yr.",
        "参加产教融合共同体培养（现场工程师）的毕业生比例，他们与本地联系更紧密。0.8 = 八成毕业生；每年 1600 万元。"),
    "in_house_cultivation": (
        "Share of firms' cost of training engineers into digital staff that the government pays "
        "(about 30,000 yuan per person trained).",
        "政府分担企业将工程师培养为数字化复合人才的培训费用比例（每人约 3 万元）。"),
    "preferential_credit": (
        "Interest-rate discount on SME loans in percentage points: 2 = a 4.5 % loan costs 2.5 %.",
        "中小企业贷款贴息（百分点）：2 = 4.5% 的贷款只需付 2.5%。"),
    "resource_sharing_platform": (
        "Platform lending idle equipment and experts of leading firms to SMEs. 1 = 100 SMEs served a quarter; "
        "30 million yuan/yr at 1.",
        "将龙头企业闲置设备和专家共享给中小企业的平台。1 = 每季度服务 100 家中小企业；满强度每年 3000 万元。"),
}

# Money outside the levers, by kind: (english label, divisor, chinese label, divisor).
MONEY: dict[str, tuple[str, float, str, float]] = {
    "total": ("million yuan", 1e6, "亿元", 1e8),  # whole-run sums
    "quarter": ("million yuan", 1e6, "万元", 1e4),  # per quarter
    "year": ("million yuan/yr", 1e6, "万元/年", 1e4),  # per year (budgets)
    "value_added": ("billion yuan/yr", 1e9, "亿元/年", 1e8),
    "per_unit": ("yuan", 1.0, "万元", 1e4),  # cost per retained graduate (per level climbed: "total")
}


def money_unit(kind: str, lang: "Lang") -> tuple[str, float]:
    """(unit label, divisor from yuan) for money of ``kind`` in ``lang``."""
    en, den, zh, dzh = MONEY[kind]
    return (zh, dzh) if lang == "zh" else (en, den)


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
        return UNITS[unit][1 if lang == "zh" else 0][0]
    return unit  # not translated: tests/test_app.py checks every lever unit is in UNITS


def lever_help(name: str, lang: Lang) -> str:
    """The lever's one-line definition (what a value means in practice)."""
    en, zh = LEVER_HELP[name]
    return pick(en, zh, lang)


def channel_short(channel, lang: Lang) -> str:
    """A channel's short name (its declaration's text up to the colon: "Matchmaking", "产业链对接")."""
    return pick(channel.en.split(":", 1)[0].strip(), channel.zh.split("：", 1)[0].strip(), lang)


def channel_text(channel, lang: Lang) -> str:
    """A channel's whole declaration text (what it changes for the agents)."""
    return pick(channel.en, channel.zh, lang)


def lever_channels(name: str, lang: Lang) -> str:
    """The channels a lever acts through, in one short line (their declarations in parameters.toml:
    each channel's text begins with its short name before a colon)."""
    names = [channel_short(c, lang) for c in _config().schema[name].channels]
    return pick("Acts through: ", "作用渠道：", lang) + pick("; ", "；", lang).join(names)


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


SHORT_DISTRICTS = {"ETDZ": ("ETDZ", "经开区"), "BeidaiheNewArea": ("Beidaihe N. A.", "北戴河新区")}


def district_short(key: str, lang: Lang) -> str:
    """The district's name as the page's map writes it (shorter where the full name would not fit)."""
    if key in SHORT_DISTRICTS:
        return pick(*SHORT_DISTRICTS[key], lang)
    return district_label(key, lang)


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
