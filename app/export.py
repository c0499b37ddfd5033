"""Downloads of the current run: its tables as CSV and its charts as PNG (one or all in a ZIP).

Files are built only when a button is clicked (``solara.FileDownload`` with a callable), from the
same tables and chart functions the page shows.
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import solara

import sim
from app import charts, map_view
from app.i18n import Lang, t
from app.state import Snapshot

TABLES = ("city", "clusters", "districts", "firms", "settings")
TABLE_LABELS = {"city": "table_city", "clusters": "table_clusters", "districts": "table_districts",
                "firms": "table_firms", "settings": "table_settings"}
CHART_NAMES = ("map", "energy", "talent", "maturity", "chain", "spending")


def stem(snap: Snapshot) -> str:
    period = snap.city["period"].iloc[-1] if len(snap.city) else "start"
    return f"qinhuangdao_seed{snap.seed}_{period}"


def table_csv(snap: Snapshot, name: str) -> str:
    if name == "settings":
        return settings_table(snap).to_csv(index=False)
    return getattr(snap, name).to_csv(index=False)


def csv_bytes(snap: Snapshot, name: str) -> bytes:
    """The CSV as UTF-8 with a byte-order mark, so Excel / WPS open Chinese text correctly."""
    return table_csv(snap, name).encode("utf-8-sig")


def settings_table(snap: Snapshot) -> pd.DataFrame:
    """The run's lever values (with labels and units), seed and horizon: what produced the tables."""
    cfg = sim.default_config()
    rows = [{"name": n, "value": v, "unit": cfg.schema[n].unit, "group": cfg.schema[n].group,
             "label_en": cfg.schema[n].label_en, "label_zh": cfg.schema[n].label_zh,
             "status_quo": cfg.schema[n].default} for n, v in snap.levers.items()]
    rows += [{"name": "seed", "value": snap.seed}, {"name": "quarters", "value": snap.quarters},
             {"name": "quarter_now", "value": snap.quarter}]
    return pd.DataFrame(rows)


def chart_bytes(snap: Snapshot, name: str, lang: Lang) -> bytes:
    if name == "map":
        return charts.to_png(map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments,
                                                 snap.city, lang))
    func, table = charts.CHARTS[name]
    return charts.to_png(func(getattr(snap, table), lang, snap.quarters))


def charts_zip(snap: Snapshot, lang: Lang) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in CHART_NAMES:
            z.writestr(f"{stem(snap)}_{name}_{lang}.png", chart_bytes(snap, name, lang))
    return buf.getvalue()


@solara.component
def ExportPanel(snap: Snapshot, lang: Lang):
    base = stem(snap)
    solara.Text(t("export_intro", lang))
    with solara.Card(t("export_tables", lang), margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for name in TABLES:
                solara.FileDownload(lambda name=name: csv_bytes(snap, name), filename=f"{base}_{name}.csv",
                                    label=f"{t(TABLE_LABELS[name], lang)} · {name}.csv",
                                    mime_type="text/csv")
    with solara.Card(t("export_charts", lang), margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            for name in CHART_NAMES:
                solara.FileDownload(lambda name=name: chart_bytes(snap, name, lang),
                                    filename=f"{base}_{name}_{lang}.png",
                                    label=f"{t('short_' + name, lang)} · PNG",
                                    mime_type="image/png")
            solara.FileDownload(lambda: charts_zip(snap, lang), filename=f"{base}_charts_{lang}.zip",
                                label=t("all_charts", lang), mime_type="application/zip")
