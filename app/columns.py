"""Report-ready tables: every column of the model's result tables with a label in English and
Chinese, a unit, a conversion (money in 万元 / million yuan, shares in per cent) and a rounding.

:func:`report_table` turns ``city`` / ``clusters`` / ``districts`` / ``firms`` into what the CSV
export writes: headers "label (unit)" in the chosen language, values converted and rounded, cluster
and district names in that language. Unknown columns keep their name (a test checks that every
column the model writes has an entry here).
"""

from __future__ import annotations

import re

import pandas as pd

from app.i18n import Lang, cluster_label, district_label, lever_label, money_unit, pick

# kind -> (english unit, chinese unit, factor (english), factor (chinese), decimals)
# "money_q" etc. take their unit from app.i18n.MONEY.
KINDS: dict[str, tuple] = {
    "text": ("", "", 1, 1, None),
    "int": ("", "", 1, 1, 0),
    "persons": ("persons", "人", 1, 1, 0),
    "firms": ("firms", "家", 1, 1, 0),
    "count": ("", "", 1, 1, 1),
    "decimal2": ("", "", 1, 1, 2),
    "index": ("0–1", "0–1", 1, 1, 3),
    "share_pct": ("%", "%", 100, 100, 1),
    "money_q": ("money:quarter", "money:quarter", None, None, 1),  # yuan per quarter
    "money_y": ("money:year", "money:year", None, None, 1),  # yuan per year
    "money_stock": ("money:total", "money:total", None, None, 3),  # yuan (balance)
    "yuan": ("yuan", "元", 1, 1, 0),
    "cell": ("grid cell", "网格", 1, 1, 0),
    "level": ("level 1–5", "级 1–5", 1, 1, 0),
    "bool": ("yes/no", "是/否", 1, 1, None),
    "tier": ("0–4", "0–4", 1, 1, 0),
}

COLUMNS: dict[str, tuple[str, str, str]] = {
    # shared
    "quarter": ("Quarter", "季度序号", "int"),
    "period": ("Period", "期间", "text"),
    "year": ("Year (fractional: Q2 = .25)", "年份（小数：第二季度 = .25）", "decimal2"),
    # city
    "talent_city": ("Skilled talent in Qinhuangdao", "秦皇岛人才数", "persons"),
    "talent_beijing": ("Talent (ever here) now in Beijing", "流向北京的人才（存量）", "persons"),
    "talent_tianjin": ("Talent now in Tianjin", "流向天津的人才（存量）", "persons"),
    "talent_elsewhere": ("Talent now elsewhere", "流向其他地区的人才（存量）", "persons"),
    "talent_retired": ("Talent retired", "已退休人才", "persons"),
    "talent_city_vocational": ("Talent in the city: vocational", "本地人才：高职", "persons"),
    "talent_city_bachelor": ("Talent in the city: bachelor", "本地人才：本科", "persons"),
    "talent_city_postgraduate": ("Talent in the city: postgraduate", "本地人才：研究生", "persons"),
    "talent_city_digital": ("Talent in the city: digital (composite)", "本地人才：数字化复合型", "persons"),
    "talent_city_new_graduate": ("Talent in the city: new graduates", "本地人才：应届毕业生", "persons"),
    "talent_city_early": ("Talent in the city: early career", "本地人才：职业早期", "persons"),
    "talent_city_mid": ("Talent in the city: mid career", "本地人才：职业中期", "persons"),
    "talent_city_senior": ("Talent in the city: senior", "本地人才：资深", "persons"),
    "graduates": ("Graduates this quarter", "本季度毕业生", "persons"),
    "graduates_retained": ("Graduates staying", "留秦毕业生", "persons"),
    "graduate_retention": ("Graduate retention", "毕业生留秦率", "share_pct"),
    "graduates_to_beijing": ("Graduates to Beijing", "毕业生去北京", "persons"),
    "graduates_to_tianjin": ("Graduates to Tianjin", "毕业生去天津", "persons"),
    "graduates_elsewhere": ("Graduates elsewhere", "毕业生去其他地区", "persons"),
    "outflow_beijing": ("Leaving for Beijing this quarter", "本季度流向北京", "persons"),
    "outflow_tianjin": ("Leaving for Tianjin this quarter", "本季度流向天津", "persons"),
    "outflow_elsewhere": ("Leaving for elsewhere this quarter", "本季度流向其他地区", "persons"),
    "return_inflow": ("Returning to Qinhuangdao this quarter", "本季度回流秦皇岛", "persons"),
    "cohort_size_1y": ("Cohort graduated 1 year ago", "1 年前毕业生人数", "persons"),
    "cohort_in_city_1y": ("Of them still in the city", "其中仍在本市", "persons"),
    "cohort_size_3y": ("Cohort graduated 3 years ago", "3 年前毕业生人数", "persons"),
    "cohort_in_city_3y": ("Of them still in the city (3 years)", "其中仍在本市（3 年）", "persons"),
    "cohort_size_5y": ("Cohort graduated 5 years ago", "5 年前毕业生人数", "persons"),
    "cohort_in_city_5y": ("Of them still in the city (5 years)", "其中仍在本市（5 年）", "persons"),
    "trainees": ("Engineers in digital training", "参加数字化培训的工程师", "persons"),
    "training_enrolled": ("Enrolled in training this quarter", "本季度新参训", "persons"),
    "training_completed": ("Completed training this quarter", "本季度结业", "persons"),
    "training_failed": ("Dropped out of training this quarter", "本季度未完成培训", "persons"),
    "spending_total": ("Government spending, all levers", "财政支出合计", "money_q"),
    "tax_revenue": ("Local tax revenue", "地方税收", "money_q"),
    # the money ledger (sim.state.records.LEDGER): flows this quarter, stocks at its end
    "firm_value_added": ("Firms' value added this quarter", "本季度企业增加值", "money_q"),
    "wage_bill": ("Wage bill (households' income)", "工资总额（居民收入）", "money_q"),
    "rd_spending": ("Firms' R&D spending", "企业研发支出", "money_q"),
    "rd_subsidies": ("R&D subsidies paid", "研发补贴", "money_q"),
    "interest_paid": ("Interest paid to banks", "企业支付利息", "money_q"),
    "interest_discount": ("Interest discount paid by government", "政府贴息", "money_q"),
    "firm_profit": ("Firms' profit", "企业利润", "money_q"),
    "new_borrowing": ("New borrowing", "新增贷款", "money_q"),
    "debt_repayment": ("Debt repaid", "偿还贷款", "money_q"),
    "payouts": ("Paid out to owners", "向所有者分红", "money_q"),
    "investment": ("Firms' fixed investment", "企业固定资产投资", "money_q"),
    "firm_digital_spending": ("Firms' own digital-upgrade spending", "企业自付数字化改造支出", "money_q"),
    "firm_switch_spending": ("Firms' own cost of segment moves", "企业自付转型环节成本", "money_q"),
    "firm_training_spending": ("Firms' own training cost", "企业自付培训费用", "money_q"),
    "firm_iur_spending": ("Firms' own share of 产学研 projects", "企业自付产学研项目费用", "money_q"),
    "entrant_capital": ("Start capital paid into new firms", "新企业注入资本", "money_q"),
    "entrant_debt": ("New firms' start loans", "新企业初始贷款", "money_q"),
    "exit_cash": ("Cash held by exiting firms", "退出企业所持现金", "money_q"),
    "exit_debt": ("Debt of exiting firms", "退出企业债务", "money_q"),
    "government_income": ("Governments' income (tax and base budget)", "政府收入（税收与基础预算）", "money_q"),
    "firm_cash": ("Firms' cash", "企业现金", "money_stock"),
    "firm_debt": ("Firms' debt", "企业债务", "money_stock"),
    "fiscal_balance": ("Governments' balance (city and districts, cumulative)", "政府财政结余（市与区县，累计）",
                       "money_stock"),
    "cost_per_retained_graduate": ("Talent-lever spending per retained graduate (so far)",
                                   "人才政策支出/留秦毕业生（累计）", "yuan"),
    "firms": ("Firms", "企业数", "firms"),
    "employment": ("Manufacturing employment", "制造业就业", "persons"),
    "revenue": ("Revenue", "营业收入", "money_y"),
    "value_added": ("Real value added (2021 prices, annual rate)", "实际工业增加值（2021 年价，年率）", "money_y"),
    "local_sourcing_share": ("Local sourcing share of parts & processing inputs (six clusters)",
                             "本地配套率（六大集群零部件与加工投入）", "share_pct"),
    "mean_energy_index": ("Mean energy index", "平均能级指数", "index"),
    # clusters
    "cluster": ("Cluster", "集群", "text"),
    "energy_index": ("Energy index", "能级指数", "index"),
    "energy_tier": ("Energy tier", "能级等级", "tier"),
    "index_tier": ("Index tier (0 none, 1 provincial, 2 national, 3 world-class)", "指数能级档（0无 1省级 2国家级 3世界级）",
                   "tier"),
    "county_criteria_met": ("County-cluster criteria met", "满足县域集群条件", "bool"),
    "county_status": ("County-cluster status", "县域集群认定", "bool"),
    "technology": ("Mean technology level", "平均技术水平", "index"),
    "patents": ("Patents this quarter", "本季度专利", "count"),
    "patent_stock": ("Patent stock", "专利存量", "count"),
    "rd_intensity": ("R&D intensity", "研发强度", "share_pct"),
    "chain_completeness": ("Chain completeness", "产业链完整度", "index"),
    "midchain_share": ("Mid-chain share of firms", "中游环节企业占比", "share_pct"),
    "homogeneity": ("Homogeneity (niche crowding)", "同质化程度", "index"),
    "leaders": ("Leading firms", "龙头企业", "firms"),
    "little_giants": ("Little giants (专精特新)", "专精特新“小巨人”", "firms"),
    "link_share": ("Firms with a local link", "有本地合作关系的企业占比", "share_pct"),
    "supply_links": ("Supply links", "配套关系数", "count"),
    "iur_projects": ("Industry-university projects", "产学研项目", "count"),
    "data_members": ("Data-centre members", "数据中心成员企业", "firms"),
    "shared_matches": ("Resource-sharing matches", "资源共享匹配", "count"),
    "sme_revenue_share": ("SME share of revenue", "中小企业营收占比", "share_pct"),
    "local_sourcing": ("Local sourcing of parts & processing", "本地配套率", "share_pct"),
    "knowledge_flow": ("Technology gained from universities per firm", "企业年均来自高校的技术提升", "index"),
    "shared_use": ("Capacity borrowed through resource sharing", "通过资源共享借用的产能占比", "share_pct"),
    "entries": ("Firms entering", "新进入企业", "firms"),
    "exits": ("Firms exiting", "退出企业", "firms"),
    # districts
    "district": ("District", "区县", "text"),
    "jobs": ("Jobs", "就业岗位", "persons"),
    "digital_coverage": ("Digital infrastructure coverage", "数字基础设施覆盖率", "share_pct"),
    "talent": ("Skilled talent", "人才数", "persons"),
    "government_spending": ("District government spending", "区县财政支出", "money_q"),
    "government_balance": ("District government balance", "区县财政结余", "money_stock"),
    # firms
    "row": ("Firm id", "企业编号", "int"),
    "x": ("Column (east)", "网格列（东向）", "cell"),
    "y": ("Row (south)", "网格行（南向）", "cell"),
    "segment": ("Chain segment", "产业链环节", "int"),
    "employees": ("Employees", "员工数", "persons"),
    "maturity": ("Digital maturity", "数字化成熟度", "level"),
    "size_class": ("Size class", "规模类型", "int"),
}
_COMPONENTS = {"scale": ("scale", "规模"), "innovation": ("innovation", "创新"), "chain": ("chain", "产业链"),
               "digital": ("digital level", "数字化"), "leaders": ("leading firms", "龙头企业"),
               "talent": ("talent", "人才"), "collaboration": ("collaboration", "协同")}
_MATURITY = re.compile(r"maturity_l([1-5])")


def column_spec(name: str) -> tuple[str, str, str] | None:
    """(english label, chinese label, kind) of a result-table column, or None if unknown."""
    if name in COLUMNS:
        return COLUMNS[name]
    if name.startswith("spending_"):
        lever = name.removeprefix("spending_")
        try:
            return (f"Spending: {lever_label(lever, 'en')}", f"支出：{lever_label(lever, 'zh')}", "money_q")
        except KeyError:
            return None
    if name.startswith("idx_") and name[4:] in _COMPONENTS:
        en, zh = _COMPONENTS[name[4:]]
        return (f"Index component: {en}", f"指数分项：{zh}", "index")
    m = _MATURITY.fullmatch(name)
    if m:
        return (f"Share of firms at digital level {m[1]}", f"数字化 {m[1]} 级企业占比", "share_pct")
    return None


def unit_of(kind: str, lang: Lang) -> tuple[str, float, int | None]:
    en, zh, f_en, f_zh, digits = KINDS[kind]
    unit = pick(en, zh, lang)
    if unit.startswith("money:"):
        label, div = money_unit(unit.split(":", 1)[1], lang)
        return label, 1.0 / div, digits
    return unit, (f_zh if lang == "zh" else f_en), digits


def header(name: str, lang: Lang) -> str:
    spec = column_spec(name)
    if spec is None:
        return name
    label = pick(spec[0], spec[1], lang)
    unit = unit_of(spec[2], lang)[0]
    if not unit:
        return label
    return f"{label}（{unit}）" if lang == "zh" else f"{label} ({unit})"


def report_table(df: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """``df`` with converted, rounded values and headers in ``lang`` (see the module docstring)."""
    out = {}
    for name in df.columns:
        col = df[name]
        spec = column_spec(name)
        if spec is not None:
            kind = spec[2]
            _unit, factor, digits = unit_of(kind, lang)
            if kind == "bool":
                yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
                col = col.map(lambda v: yes if bool(v) else no)
            elif name == "cluster":
                col = col.map(lambda v: _safe(cluster_label, v, lang))
            elif name == "district":
                col = col.map(lambda v: _safe(district_label, v, lang))
            elif digits is not None and pd.api.types.is_numeric_dtype(col):
                col = (col.astype(float) * factor).round(digits)
                if digits == 0:
                    col = col.astype("Int64")
        out[header(name, lang)] = col
    return pd.DataFrame(out)


def _safe(func, value, lang):
    try:
        return func(value, lang)
    except (KeyError, TypeError):
        return value
