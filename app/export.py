"""Downloads for reports: the run's tables as CSV, its charts as PNG (one or all in a ZIP), the A/B
comparison (table and every run) as CSV, and a printable one-page PDF summary.

* CSV: headers in the chosen language with units, values converted (万元 / million yuan, per cent)
  and rounded (:mod:`app.columns`), UTF-8 with a byte-order mark so Excel / WPS show Chinese.
* PNG: drawn again at :data:`app.charts.EXPORT_DPI` (310 dpi: a chart is 1,612 px wide).
* Settings: every lever with label, unit and status-quo value, the preset, the integer seed, the
  horizon, the quarter reached and the quarters after which levers changed.
* PDF (matplotlib ``PdfPages``, A4): settings, the A/B table with ranges (if a comparison was run)
  and two key charts, in the chosen language.

Files are built only when a button is clicked (``solara.FileDownload`` with a callable).
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import solara

import sim
from app import charts, map_view
from app.columns import report_table
from app.i18n import Lang, group_label, lever_label, preset_label, t, unit_label
from app.state import Snapshot, lever_defaults, presets

TABLES = ("city", "clusters", "districts", "firms", "settings")
TABLE_LABELS = {"city": "table_city", "clusters": "table_clusters", "districts": "table_districts",
                "firms": "table_firms", "settings": "table_settings"}
CHART_NAMES = ("map", "energy", "talent", "maturity", "chain", "spending")


def stem(snap: Snapshot) -> str:
    period = snap.city["period"].iloc[-1] if len(snap.city) else "start"
    return f"qinhuangdao_seed{snap.seed}_{period}"


def table_frame(snap: Snapshot, name: str, lang: Lang = "en") -> pd.DataFrame:
    if name == "settings":
        return settings_table(snap, lang)
    return report_table(getattr(snap, name), lang)


def table_csv(snap: Snapshot, name: str, lang: Lang = "en") -> str:
    return table_frame(snap, name, lang).to_csv(index=False)


def csv_bytes(snap: Snapshot, name: str, lang: Lang = "en") -> bytes:
    """The CSV as UTF-8 with a byte-order mark, so Excel / WPS open Chinese text correctly."""
    return table_csv(snap, name, lang).encode("utf-8-sig")


def frame_csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8-sig")


def settings_table(snap: Snapshot, lang: Lang = "en") -> pd.DataFrame:
    """The run's settings: every lever (shown units, label, status quo), preset, seed, horizon."""
    from app.controls import lever_views

    views = {v.name: v for v in lever_views()}
    cfg = sim.default_config()
    key = {k: t(k, lang) for k in ("setting_name", "setting_value", "setting_unit", "setting_status_quo",
                                   "setting_group")}
    rows = []
    for n, v in snap.levers.items():
        view = views[n]
        rows.append({"key": n, key["setting_name"]: lever_label(n, lang),
                     key["setting_value"]: view.shown(v, lang), key["setting_unit"]: unit_label(n, lang),
                     key["setting_status_quo"]: view.shown(cfg.schema[n].default, lang),
                     key["setting_group"]: group_label(cfg.schema[n].group, lang)})
    preset = preset_label(presets()[snap.preset], lang) if snap.preset in presets() else t("pdf_none", lang)
    extra = [("preset", t("setting_preset", lang), snap.preset or "", preset),
             ("seed", t("setting_seed", lang), int(snap.seed), ""),
             ("quarters", t("setting_quarters", lang), int(snap.quarters), ""),
             ("quarter_now", t("setting_quarter_now", lang), int(snap.quarter), ""),
             ("lever_changes", t("setting_changes", lang), " ".join(str(q) for q in snap.changes), "")]
    for k, label, value, unit in extra:
        rows.append({"key": k, key["setting_name"]: label, key["setting_value"]: value, key["setting_unit"]: unit})
    return pd.DataFrame(rows).astype(object)


def chart_figure(snap: Snapshot, name: str, lang: Lang, ceiling: float | None = None):
    if name == "map":
        return map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments, snap.city, lang)
    extra = {"ceiling": ceiling} if name == "spending" and ceiling else {}
    return charts.chart_figure(snap, name, lang, **extra)


def chart_bytes(snap: Snapshot, name: str, lang: Lang, ceiling: float | None = None,
                dpi: float = charts.EXPORT_DPI) -> bytes:
    """The chart as a PNG at print resolution (``dpi``)."""
    with charts.render_dpi(dpi):
        return charts.to_png(chart_figure(snap, name, lang, ceiling))


def charts_zip(snap: Snapshot, lang: Lang, ceiling: float | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in CHART_NAMES:
            z.writestr(f"{stem(snap)}_{name}_{lang}.png", chart_bytes(snap, name, lang, ceiling))
    return buf.getvalue()


# ------------------------------------------------------------------------------------ PDF summary
def _fig_image(fig, dpi: float = 200):
    import numpy as np
    import PIL.Image

    data = charts.to_png(fig)
    return np.asarray(PIL.Image.open(io.BytesIO(data)).convert("RGB"))


def summary_pdf(snap: Snapshot, lang: Lang, comparison=None) -> bytes:
    """A one-page A4 summary: settings, the A/B table with ranges (if given), two key charts."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from app import compare

    fig = Figure(figsize=(8.27, 11.69), dpi=100)  # A4 portrait
    fs = 9
    fig.text(0.05, 0.965, f"{t('title', lang)} · {t('pdf_title', lang)}", fontsize=13)
    fig.text(0.05, 0.945, f"{t('quarter_now', lang, q=snap.quarter, n=snap.quarters, period=snap.city['period'].iloc[-1])}"
                          f" · {t('setting_seed', lang)} {snap.seed}", fontsize=fs)
    preset = preset_label(presets()[snap.preset], lang) if snap.preset in presets() else t("pdf_none", lang)
    defaults = lever_defaults()
    from app.controls import lever_views

    views = {v.name: v for v in lever_views()}
    changed = [f"{lever_label(n, lang)}: {views[n].text(v, lang)}" for n, v in snap.levers.items() if v != defaults[n]]
    lines = [f"{t('pdf_preset', lang)}: {preset}", f"{t('pdf_changed', lang)}:"]
    lines += [f"  • {c}" for c in changed] or [f"  {t('pdf_no_changes', lang)}"]
    if snap.changes:
        lines.append(f"{t('setting_changes', lang)}: {', '.join(str(q) for q in snap.changes)}")
    fig.text(0.05, 0.925, t("pdf_settings", lang), fontsize=11)
    y = 0.905
    for line in lines[:14]:
        fig.text(0.05, y, line, fontsize=fs)
        y -= 0.016
    y -= 0.01
    if comparison is not None:
        names = compare.setting_names(lang)
        reps = comparison.replicates
        fig.text(0.05, y, f"{t('export_ab', lang)}: A = {names[comparison.choice_a]} · B = {names[comparison.choice_b]}",
                 fontsize=11)
        y -= 0.016
        fig.text(0.05, y, t("compare_seed", lang, m=len(reps), first=reps[0].seed, last=reps[-1].seed,
                            n=comparison.quarters), fontsize=fs)
        table = compare.comparison_table(comparison.stats, lang)
        cols = [c for c in table.columns if c != t("col_verdict", lang)]
        ax = fig.add_axes((0.05, max(0.05, y - 0.31), 0.9, 0.30))
        ax.axis("off")
        cells = [[str(x) for x in row] for row in table[cols].itertuples(index=False)]
        tab = ax.table(cellText=cells, colLabels=cols, loc="upper left", cellLoc="right", colLoc="center")
        tab.auto_set_font_size(False)
        tab.set_fontsize(7)
        tab.auto_set_column_width(list(range(len(cols))))
        for (r, c), cell in tab.get_celld().items():
            if r > 0:
                verdict = comparison.stats[r - 1].verdict
                if c == cols.index(t("compare_diff", lang)):
                    cell.get_text().set_color(compare.VERDICT_COLOURS[verdict])
            if c == 0:
                cell.get_text().set_ha("left")
        y -= 0.33
        fig.text(0.05, y, t("compare_rule", lang, m=len(reps), p=100 * compare.chance_all_agree(len(reps))),
                 fontsize=7, wrap=True)
        y -= 0.03
    # two key charts, side by side or stacked
    with charts.render_dpi(150):
        img1 = _fig_image(charts.chart_figure(snap, "energy", lang))
        img2 = _fig_image(charts.chart_figure(snap, "talent", lang))
    h = min(0.26, (y - 0.05) / 2)
    for i, img in enumerate((img1, img2)):
        ax = fig.add_axes((0.05, y - (i + 1) * h - 0.005, 0.9, h - 0.01))
        ax.imshow(img)
        ax.axis("off")
    fig.text(0.05, 0.02, t("pdf_note", lang), fontsize=7, color="#555")
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": t("pdf_title", lang)}) as pdf:
        pdf.savefig(fig)
    return buf.getvalue()


@solara.component
def ExportPanel(snap: Snapshot, lang: Lang, comparison=None, ceiling: float | None = None):
    from app import compare

    base = stem(snap)
    solara.Text(t("export_intro", lang))
    with solara.Card(t("export_tables", lang), margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for name in TABLES:
                solara.FileDownload(lambda name=name: csv_bytes(snap, name, lang), filename=f"{base}_{name}_{lang}.csv",
                                    label=f"{t(TABLE_LABELS[name], lang)} · {name}.csv",
                                    mime_type="text/csv")
    with solara.Card(t("export_charts", lang), margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for name in CHART_NAMES:
                solara.FileDownload(lambda name=name: chart_bytes(snap, name, lang, ceiling),
                                    filename=f"{base}_{name}_{lang}.png",
                                    label=f"{t('short_' + name, lang)} · PNG",
                                    mime_type="image/png")
            solara.FileDownload(lambda: charts_zip(snap, lang, ceiling), filename=f"{base}_charts_{lang}.zip",
                                label=t("all_charts", lang), mime_type="application/zip")
    with solara.Card(t("export_ab", lang), margin=0):
        if comparison is None:
            solara.Text(t("export_ab_none", lang), style={"color": "#666"})
        else:
            with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
                solara.FileDownload(lambda: frame_csv_bytes(compare.comparison_table(comparison.stats, lang)),
                                    filename=f"{base}_ab_{lang}.csv", label=f"{t('export_ab_table', lang)} · ab.csv",
                                    mime_type="text/csv")
                solara.FileDownload(lambda: frame_csv_bytes(compare.replicate_table(comparison.runs_a,
                                                                                    comparison.runs_b, lang)),
                                    filename=f"{base}_ab_runs_{lang}.csv",
                                    label=f"{t('export_ab_runs', lang)} · ab_runs.csv", mime_type="text/csv")
    with solara.Card(t("export_pdf", lang), margin=0):
        solara.FileDownload(lambda: summary_pdf(snap, lang, comparison), filename=f"{base}_summary_{lang}.pdf",
                            label=f"{t('export_pdf', lang)} · PDF", mime_type="application/pdf")
