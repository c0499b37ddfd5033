"""Downloads for reports: the run's tables as CSV, its charts as PNG (one or all in a ZIP), the A/B
comparison (table and every run) as CSV, and a printable one-page PDF summary.

* CSV: headers in the chosen language with units, values converted (万元 / million yuan, per cent)
  and rounded (:mod:`app.columns`), UTF-8 with a byte-order mark so Excel / WPS show Chinese.
* PNG: drawn again at :data:`app.charts.EXPORT_DPI` (310 dpi: a chart is 1,612 px wide).
* Settings: every lever with label, unit and status-quo value, the preset, the integer seed, the
  horizon, the quarter reached, the quarters after which levers changed and what the A/B replicates
  vary (seeds only, or seeds + posterior draws, with the posterior's fit date and model version).
* A/B every run: per run the setting, seed, what the replicates vary and, for posterior draws, the
  draw, its particle and the value of every fitted coefficient (:func:`app.compare.replicate_table`).
* A/B table: the headline outcomes a statistics bureau could check first (real value added, local
  sourcing share, manufacturing employment, net fiscal balance, retention after 3 years, outflows to
  Beijing and Tianjin), then the energy tiers, then the other figures (:data:`app.compare.OUTCOMES`);
  the CSV names each row's group and, for the net fiscal balance, how B − A reads (extra tax minus
  extra spending).
* PDF (matplotlib ``PdfPages``, A4): settings, the A/B table with ranges (if a comparison was run),
  what the ranges include (and, for posterior draws, each draw's particle) and two key charts, in the
  chosen language.

Files are built only when a button is clicked (``solara.FileDownload`` with a callable).
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import solara

import sim
from app import charts, compare, map_view
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


def table_frame(snap: Snapshot, name: str, lang: Lang = "en", vary: str | None = None) -> pd.DataFrame:
    if name == "settings":
        return settings_table(snap, lang, vary)
    return report_table(getattr(snap, name), lang)


def table_csv(snap: Snapshot, name: str, lang: Lang = "en", vary: str | None = None) -> str:
    return table_frame(snap, name, lang, vary).to_csv(index=False)


def csv_bytes(snap: Snapshot, name: str, lang: Lang = "en", vary: str | None = None) -> bytes:
    """The CSV as UTF-8 with a byte-order mark, so Excel / WPS open Chinese text correctly."""
    return table_csv(snap, name, lang, vary).encode("utf-8-sig")


def frame_csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8-sig")


def changed_levers(levers: dict, lang: Lang = "en") -> list[str]:
    """``"label: value unit"`` of every lever that differs from the status quo (parameters.toml order)."""
    from app.controls import lever_views

    defaults = lever_defaults()
    return [f"{lever_label(v.name, lang)}: {v.text(levers[v.name], lang)}" for v in lever_views()
            if levers[v.name] != defaults[v.name]]


def scenario_name(snap: Snapshot, lang: Lang = "en") -> str:
    """The run's preset, or "levers set by hand (N changed)"."""
    if snap.preset in presets():
        return preset_label(presets()[snap.preset], lang)
    return t("scenario_hand", lang, n=len(changed_levers(snap.levers, lang)))


def setting_description(choice: str, levers: dict, lang: Lang = "en") -> str:
    """What an A/B setting is: the preset's name, or for the page's levers their name and every lever
    that differs from the status quo (so a file names A and B without the page beside it)."""
    name = compare.setting_names(lang)[choice]
    if choice != "current":
        return name
    changed = changed_levers(levers, lang)
    return f"{name}: " + ("; ".join(changed) if changed else t("pdf_no_changes", lang))


def ab_table_frame(comparison, lang: Lang = "en") -> pd.DataFrame:
    """The A/B table (:func:`app.compare.comparison_table`) led by two columns naming A and B."""
    df = compare.comparison_table(comparison.stats, lang)
    df.insert(0, t("setting_b", lang), setting_description(comparison.choice_b, comparison.levers_b, lang))
    df.insert(0, t("setting_a", lang), setting_description(comparison.choice_a, comparison.levers_a, lang))
    return df


def ab_runs_frame(comparison, lang: Lang = "en") -> pd.DataFrame:
    """Every run of the comparison (:func:`app.compare.replicate_table`), each naming its setting."""
    df = compare.replicate_table(comparison.runs_a, comparison.runs_b, lang)
    names = {"A": setting_description(comparison.choice_a, comparison.levers_a, lang),
             "B": setting_description(comparison.choice_b, comparison.levers_b, lang)}
    col = t("col_setting", lang)
    df.insert(df.columns.get_loc(col) + 1, t("col_setting_name", lang), df[col].map(names))
    return df


def posterior_note(lang: Lang) -> str:
    """The posterior the A/B draws come from: file, fit date, model version (from its JSON)."""
    from app import runs

    post = runs.posterior_status().posterior
    if post is None:
        return ""
    prov = post.provenance
    return f"{post.path.name}: " + t("posterior_fitted", lang, date=str(prov.get("date", "?"))[:10],
                                      version=prov.get("model_version", "?"))


def settings_table(snap: Snapshot, lang: Lang = "en", vary: str | None = None) -> pd.DataFrame:
    """The run's settings: every lever (shown units, label, status quo), preset, seed, horizon; with
    ``vary`` (``"posterior"`` / ``"seeds"``) also what the A/B replicates vary (and which posterior)."""
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
    if vary:
        extra.append(("ab_vary", t("setting_ab_vary", lang), vary, t(f"vary_short_{vary}", lang)))
        if vary == "posterior":
            extra.append(("ab_posterior", t("setting_posterior", lang), posterior_note(lang), ""))
    for k, label, value, unit in extra:
        rows.append({"key": k, key["setting_name"]: label, key["setting_value"]: value, key["setting_unit"]: unit})
    return pd.DataFrame(rows).astype(object)


def chart_figure(snap: Snapshot, name: str, lang: Lang, ceiling: float | None = None):
    if name == "map":
        return map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments, snap.city, lang)
    extra = {"ceiling": ceiling} if name == "spending" and ceiling else {}
    return charts.chart_figure(snap, name, lang, **extra)


SOURCE_PT = 7.0  # points: the scenario/source line under an exported chart (a print footnote)


def source_line(snap: Snapshot, lang: Lang = "en") -> str:
    """What an exported chart shows and where it comes from: scenario, seed, periods, model version."""
    periods = snap.city["period"]
    return t("png_source", lang, scenario=scenario_name(snap, lang), seed=snap.seed, start=periods.iloc[0],
             end=periods.iloc[-1], version=sim.__version__)


def with_source_line(png: bytes, text: str, dpi: float) -> bytes:
    """``png`` with ``text`` (wrapped to the picture's width, :data:`SOURCE_PT`) on a white strip below it,
    so a chart pasted into a report still says which scenario it shows."""
    import PIL.Image
    from matplotlib.figure import Figure

    img = PIL.Image.open(io.BytesIO(png)).convert("RGB")
    width = img.width / dpi  # inches
    lines = _Sheet(Figure(figsize=(width, 1.0), dpi=dpi)).wrap(text, SOURCE_PT)
    height = (1.3 * len(lines) + 0.8) * SOURCE_PT / 72  # inches: the lines and half a line above and below
    strip = Figure(figsize=(width, height), dpi=dpi)
    strip.text(_Sheet.X0, 1 - 0.4 * SOURCE_PT / 72 / height, "\n".join(lines), fontsize=SOURCE_PT, va="top",
               color="#444", linespacing=1.3)
    below = PIL.Image.open(io.BytesIO(charts.to_png(strip))).convert("RGB").resize((img.width, round(height * dpi)))
    out = PIL.Image.new("RGB", (img.width, img.height + below.height), "white")
    out.paste(img, (0, 0))
    out.paste(below, (0, img.height))
    buf = io.BytesIO()
    out.save(buf, format="png", dpi=(dpi, dpi))
    return buf.getvalue()


def chart_bytes(snap: Snapshot, name: str, lang: Lang, ceiling: float | None = None,
                dpi: float = charts.EXPORT_DPI) -> bytes:
    """The chart as a PNG at print resolution (``dpi``) with its scenario/source line under it."""
    with charts.render_dpi(dpi):
        png = charts.to_png(chart_figure(snap, name, lang, ceiling))
    return with_source_line(png, source_line(snap, lang), dpi)


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


class _Sheet:
    """Text laid out down an A4 figure: lines wrapped to the printable width (measured with the
    figure's renderer, so English words and Chinese characters both wrap), ``y`` the next line's top
    (figure fraction)."""

    X0 = 0.05  # left margin (figure fraction); the right margin is the same
    WIDTH = 0.90

    def __init__(self, fig, top: float = 0.975):
        self.fig = fig
        self.y = top
        self.max_px = self.WIDTH * fig.bbox.width

    def px(self, s: str, size: float) -> float:
        """Width of ``s`` in pixels (at the figure's dpi) at ``size`` points in the figure's default
        font, without hinting: as the PDF lays it out (a screen renderer's hinted widths differ)."""
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import text_to_path

        points = text_to_path.get_text_width_height_descent(s, FontProperties(size=size), ismath=False)[0]
        return points / 72 * self.fig.dpi

    def wrap(self, text: str, size: float, max_px: float | None = None) -> list[str]:
        import re

        limit = self.max_px if max_px is None else max_px
        lines, line = [], ""
        for token in re.findall(r"[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+\s*|\S\s*|\s+", text):
            if line and self.px((line + token).rstrip(), size) > limit:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        return lines + [line.rstrip()] if line.strip() else lines or [""]

    def step(self, points: float) -> None:
        self.y -= points / 72 / self.fig.get_figheight()

    def text(self, text: str, size: float, after: float = 0.35, **kw) -> None:
        """``text`` at the current line (wrapped), then ``after`` × size points of space."""
        for line in self.wrap(text, size):
            self.fig.text(self.X0, self.y, line, fontsize=size, va="top", **kw)
            self.step(1.3 * size)
        self.step(after * size)


AB_TABLE_FONT = 7.0  # points; smaller only if the table would not fit the printable width


def ab_table(sheet: _Sheet, comparison, lang: Lang, fontsize: float = AB_TABLE_FONT):
    """The A/B table (as on the page, without the verdict, group and reading columns: the rule text under it
    says how the rows are ordered and how B − A of the net fiscal balance reads) at the sheet's current line, sized
    to fit the printable width: column widths measured from their text, headers wrapped, the font made
    smaller only if it still would not fit. Returns the matplotlib Table; moves ``sheet.y`` below it."""
    import textwrap

    stats = comparison.stats
    table = compare.comparison_table(stats, lang)
    cols = [c for c in table.columns if c not in (t("col_verdict", lang), t("col_group", lang), t("col_reading", lang))]
    signed = {t("compare_diff", lang), t("col_min_diff", lang), t("col_max_diff", lang)}
    cells = []
    for st, row in zip(stats, table[cols].itertuples(index=False)):
        cells.append([compare.fmt(float(x), st.digits(lang), sign=c in signed)
                      if isinstance(x, float) else str(x) for c, x in zip(cols, row)])
    heads = [textwrap.fill(c, 11, break_long_words=False) if lang == "en" else c for c in cols]

    def widths(size: float) -> list[float]:  # pixels: the longest text of each column plus padding
        pad = 2 * 0.5 * size / 72 * sheet.fig.dpi
        return [max([sheet.px(r[i], size) for r in cells] + [sheet.px(x, size) for x in heads[i].split("\n")]) + pad
                for i in range(len(cols))]

    fs = fontsize
    w = widths(fs)
    if sum(w) > sheet.max_px:  # text width is proportional to the font size
        fs = fontsize * sheet.max_px / sum(w) * 0.98
        w = widths(fs)
    fig_w, fig_h = sheet.fig.bbox.width, sheet.fig.get_figheight() * 72  # pixels, points
    row_pt = 1.7 * fs
    head_pt = max(x.count("\n") + 1 for x in heads) * 1.25 * fs + 0.7 * fs
    height = (head_pt + row_pt * len(cells)) / fig_h
    ax = sheet.fig.add_axes((sheet.X0, sheet.y - height, sum(w) / fig_w, height))
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=heads, colWidths=[x / sum(w) for x in w], cellLoc="right",
                   colLoc="center", bbox=[0, 0, 1, 1])
    tab.auto_set_font_size(False)
    tab.set_fontsize(fs)
    diff = cols.index(t("compare_diff", lang))
    for (r, c), cell in tab.get_celld().items():
        cell.set_height((head_pt if r == 0 else row_pt) / fig_h / height)
        cell.PAD = 0.5 * fs / 72 * sheet.fig.dpi / w[c]  # half the font size on each side
        if r > 0 and c == diff:
            cell.get_text().set_color(compare.VERDICT_COLOURS[stats[r - 1].verdict])
        if c == 0 and r > 0:
            cell.get_text().set_ha("left")
    sheet.y -= height
    return tab


A4 = (8.27, 11.69)  # inches, portrait
PDF_TEXT_PT = 9.0  # body text of the summary (points)
# Lines of 9-pt text the settings block may take on page 1 (about a quarter of the page): every lever
# (16 in parameters.toml) with the preset, its heading and the quarters of lever changes fits, so the
# summary stays one page; only more lines than this (long wrapped labels) move the rest to an appendix.
SETTINGS_LINES_MAX = 21


def _setting_lines(snap: Snapshot, lang: Lang, sheet: _Sheet) -> tuple[list[str], list[str]]:
    """The settings block's lines for page 1 and, if they do not all fit in :data:`SETTINGS_LINES_MAX`
    wrapped lines, the appendix's (every changed lever); else no appendix lines."""
    changed = [f"  • {c}" for c in changed_levers(snap.levers, lang)]
    preset = scenario_name(snap, lang) if snap.preset in presets() else t("pdf_none", lang)
    head = [f"{t('pdf_preset', lang)}: {preset}", f"{t('pdf_changed', lang)}:"]
    tail = [f"{t('setting_changes', lang)}: {', '.join(str(q) for q in snap.changes)}"] if snap.changes else []
    rows = lambda lines: sum(len(sheet.wrap(x, PDF_TEXT_PT)) for x in lines)  # noqa: E731
    if rows(head + changed + tail) <= SETTINGS_LINES_MAX or not changed:
        return head + (changed or [f"  {t('pdf_no_changes', lang)}"]) + tail, []
    more = lambda n: f"  {t('pdf_more', lang, n=n)}"  # noqa: E731
    shown = len(changed)
    while shown > 0 and rows(head + changed[:shown] + [more(len(changed) - shown)] + tail) > SETTINGS_LINES_MAX:
        shown -= 1
    return head + changed[:shown] + [more(len(changed) - shown)] + tail, changed


def summary_figures(snap: Snapshot, lang: Lang, comparison=None) -> list:
    """The A4 summary as matplotlib Figures (see :func:`summary_pdf`): page 1 (settings, A/B table, two
    key charts) and, only when the changed levers do not all fit page 1, an appendix listing every one.
    Every line of text is wrapped to the printable width and the A/B table fits it (:func:`ab_table`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4, dpi=100)
    fs = PDF_TEXT_PT
    sheet = _Sheet(fig)
    sheet.text(t("pdf_heading", lang), 13, after=0.3)
    sheet.text(f"{t('quarter_now', lang, q=snap.quarter, n=snap.quarters, period=snap.city['period'].iloc[-1])}"
               f" · {t('setting_seed', lang)} {snap.seed}", fs, after=0.6)
    lines, appendix = _setting_lines(snap, lang, sheet)
    sheet.text(t("pdf_settings", lang), 11, after=0.3)
    for line in lines:
        sheet.text(line, fs, after=0)
    sheet.step(1.2 * fs)
    if comparison is not None:
        reps = comparison.replicates
        sheet.text(f"{t('export_ab', lang)}: A = {setting_description(comparison.choice_a, comparison.levers_a, lang)}"
                   f" · B = {setting_description(comparison.choice_b, comparison.levers_b, lang)}", 11, after=0.2)
        sheet.text(compare.caption(comparison, lang), fs, after=0.2)
        if comparison.vary == "posterior":
            pairs = ", ".join(f"{r.draw}→{r.particle}" for r in reps)
            sheet.text(f"{t('pdf_particles', lang)}: {pairs} · {posterior_note(lang)}", 7, after=0.2)
        sheet.step(3)
        ab_table(sheet, comparison, lang)
        sheet.step(8)
        sheet.text(compare.rule_text(len(reps), comparison.vary, lang), 7, after=0.5)
    y = sheet.y
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
    if not appendix:
        return [fig]
    page2 = Figure(figsize=A4, dpi=100)
    sheet = _Sheet(page2)
    sheet.text(t("pdf_appendix", lang), 11, after=0.3)
    sheet.text(f"{scenario_name(snap, lang)} · {t('setting_seed', lang)} {snap.seed}", fs, after=0.6)
    for line in appendix:
        sheet.text(line, fs, after=0)
    return [fig, page2]


def summary_figure(snap: Snapshot, lang: Lang, comparison=None):
    """Page 1 of the summary (:func:`summary_figures`)."""
    return summary_figures(snap, lang, comparison)[0]


def summary_pdf(snap: Snapshot, lang: Lang, comparison=None) -> bytes:
    """The A4 summary: settings, the A/B table with ranges (if given), two key charts; one page, plus an
    appendix page only when the changed levers do not fit page 1. The document's title is the page's heading."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": t("pdf_heading", lang)}) as pdf:
        for fig in summary_figures(snap, lang, comparison):
            pdf.savefig(fig)
    return buf.getvalue()


@solara.component
def ExportPanel(snap: Snapshot, lang: Lang, comparison=None, ceiling: float | None = None, vary: str | None = None):
    """The download buttons; ``vary``: what the page's A/B replicates vary (the settings CSV states it,
    or the kind of ``comparison`` when one was run)."""
    base = stem(snap)
    vary = comparison.vary if comparison is not None else vary
    solara.Text(t("export_intro", lang))
    with solara.Card(t("export_tables", lang), margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for name in TABLES:
                solara.FileDownload(lambda name=name: csv_bytes(snap, name, lang, vary),
                                    filename=f"{base}_{name}_{lang}.csv",
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
                solara.FileDownload(lambda: frame_csv_bytes(ab_table_frame(comparison, lang)),
                                    filename=f"{base}_ab_{lang}.csv", label=f"{t('export_ab_table', lang)} · ab.csv",
                                    mime_type="text/csv")
                solara.FileDownload(lambda: frame_csv_bytes(ab_runs_frame(comparison, lang)),
                                    filename=f"{base}_ab_runs_{lang}.csv",
                                    label=f"{t('export_ab_runs', lang)} · ab_runs.csv", mime_type="text/csv")
    with solara.Card(t("export_pdf", lang), margin=0):
        solara.FileDownload(lambda: summary_pdf(snap, lang, comparison), filename=f"{base}_summary_{lang}.pdf",
                            label=f"{t('export_pdf', lang)} · PDF", mime_type="application/pdf")
