"""How stored codes read on screen: HubSpot's original-source values as HubSpot's own UI names them,
pipeline stages by their label in the store, lifecycle stages, spend channels, metrics and owners
by name (two owners with the same name told apart by team, then email).
Only the display changes; filters, drill-downs and the URL keep the stored value.

    labels = Labels(stages={("default", "closedwon"): "Closed won"}, owners={"41": "Inès Thomas (Partners)"})
    display("stage", "closedwon", labels)      -> "Closed won"
    display("channel", "paid_search")          -> "Paid search"
    readable(df, labels)                       -> the frame with those names (id columns kept)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from metrics import REGISTRY
from metrics.dimensions import owner_names_from_rows as owner_names  # noqa: F401  (the one naming rule)

SOURCE_LABELS = {
    "ORGANIC_SEARCH": "Organic search", "PAID_SEARCH": "Paid search", "PAID_SOCIAL": "Paid social",
    "SOCIAL_MEDIA": "Organic social", "EMAIL_MARKETING": "Email marketing", "REFERRALS": "Referrals",
    "DIRECT_TRAFFIC": "Direct traffic", "OFFLINE": "Offline sources", "OTHER_CAMPAIGNS": "Other campaigns",
    "AI_REFERRALS": "AI referrals",
}
SOURCE_COLUMNS = ("source", "original_source", "deal_source")
LIFECYCLE_LABELS = {  # HubSpot's default lifecycle stages, as HubSpot's UI names them
    "subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing qualified lead",
    "salesqualifiedlead": "Sales qualified lead", "opportunity": "Opportunity", "customer": "Customer",
    "evangelist": "Evangelist", "other": "Other",
}
CHANNEL_LABELS = {  # spend channels whose generic reading ("Paid search") is not the usual name
    "seo": "SEO", "sem": "SEM", "ppc": "PPC", "linkedin_ads": "LinkedIn Ads", "google_ads": "Google Ads",
    "meta_ads": "Meta Ads", "tv": "TV", "ooh": "Out of home", "crm": "CRM",
}
FORECAST_LABELS = {"closed_won": "Closed won", "COMMIT": "Commit", "BEST_CASE": "Best case",
                   "PIPELINE": "Pipeline", "OMIT": "Omit"}


@dataclass(frozen=True)
class Labels:
    """The store's own names for its codes (built by ui.cache.labels from pipeline_stages,
    pipelines and owners); empty by default, when every code reads as itself."""
    stages: dict = field(default_factory=dict)  # (pipeline_id, stage_id) -> label
    pipelines: dict = field(default_factory=dict)  # pipeline_id -> label
    owners: dict = field(default_factory=dict)  # owner_id -> name, told apart when names repeat

    def stage(self, stage_id, pipeline_id=None) -> str:
        if (pipeline_id, stage_id) in self.stages:
            return self.stages[(pipeline_id, stage_id)]
        named = [label for (_p, sid), label in self.stages.items() if sid == stage_id]
        if named:  # pipeline unknown: the stage's label in the first pipeline that has it
            return named[0]
        return LIFECYCLE_LABELS.get(str(stage_id), str(stage_id))


def humanize(code: str) -> str:
    """'marketing_spend' -> 'Marketing spend', 'PAID_SEARCH' -> 'Paid search' (free-text values,
    with spaces or capitals inside, stay as they are)."""
    text = str(code)
    if " " in text or not text.replace("_", "").replace("-", "").isalnum():
        return text
    if not (text.islower() or (text.isupper() and "_" in text)):  # "SEO", "CAC" are names already
        return text
    words = text.lower().replace("-", "_").split("_")
    return " ".join(w for w in words if w).capitalize()


def channel_label(code) -> str:
    text = str(code)
    return CHANNEL_LABELS.get(text.lower(), humanize(text) if "_" in text or text.islower() else text)


def metric_label(code) -> str:
    mdef = REGISTRY.get(str(code))
    return mdef.label if mdef is not None else humanize(str(code))


def display(dimension: str, value, labels: Labels | None = None) -> str:
    """The on-screen name of a segment value (unchanged for dimensions without labels)."""
    text = str(value)
    labels = labels or Labels()
    if dimension == "source":
        return SOURCE_LABELS.get(text, text)
    if dimension == "stage":
        return labels.stage(text)
    if dimension == "lifecycle_stage":
        return LIFECYCLE_LABELS.get(text, text)
    if dimension == "owner":
        return labels.owners.get(text, text)
    if dimension == "pipeline":
        return labels.pipelines.get(text, text)
    if dimension == "channel":
        return channel_label(text)
    if dimension == "metric":
        return metric_label(text)
    if dimension == "forecast_category":
        return FORECAST_LABELS.get(text, humanize(text))
    return text


def _mapped(series: pd.Series, name) -> pd.Series:
    return series.map(lambda v: v if v is None or (not isinstance(v, str) and pd.isna(v)) else name(v))


def id_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding stored ids that have a readable twin in the same frame: kept in downloads,
    left off the screen."""
    cols = set(df.columns)
    out = [c for c in ("stage_id", "previous_stage_id", "owner_id", "pipeline_id") if c in cols]
    if "label" in cols:
        out += [c for c in ("stage", "forecast_category") if c in cols]
    return out


def _name_stages(out: pd.DataFrame, id_col: str, name_col: str, labels) -> None:
    """Fill (or add, right after `id_col`) the column of stage names for the stage ids in `id_col`,
    each read in its row's pipeline when the table has one."""
    pipes = out["pipeline_id"] if "pipeline_id" in out.columns else [None] * len(out)
    names = [None if sid is None or (not isinstance(sid, str) and pd.isna(sid)) else labels.stage(sid, pid)
             for sid, pid in zip(out[id_col], pipes)]
    if name_col in out.columns:
        out[name_col] = names
    else:
        out.insert(list(out.columns).index(id_col) + 1, name_col, names)


def readable(df: pd.DataFrame, labels: Labels | None = None) -> pd.DataFrame:
    """`df` with its codes as people name them: sources, lifecycle stages, channels, budget metrics
    and forecast categories in place; a stage, owner and pipeline name beside each stored id
    (the id column stays, for downloads). The caller's frame is not changed."""
    labels = labels or Labels()
    out = df.copy()
    for col in SOURCE_COLUMNS:
        if col in out.columns:
            out[col] = _mapped(out[col], lambda v: SOURCE_LABELS.get(str(v), str(v)))
    if "lifecycle_stage" in out.columns:
        out["lifecycle_stage"] = _mapped(out["lifecycle_stage"], lambda v: LIFECYCLE_LABELS.get(str(v), str(v)))
    if "channel" in out.columns:
        out["channel"] = _mapped(out["channel"], channel_label)
    if "metric" in out.columns:
        out["metric"] = _mapped(out["metric"], metric_label)
    for id_col, name_col in (("stage_id", "stage"), ("previous_stage_id", "previous_stage")):
        if id_col in out.columns:
            _name_stages(out, id_col, name_col, labels)
    if "pipeline_id" in out.columns and "pipeline" not in out.columns:
        out.insert(list(out.columns).index("pipeline_id") + 1, "pipeline",
                   _mapped(out["pipeline_id"], lambda v: labels.pipelines.get(v, v)))
    if "owner_id" in out.columns:
        shown = _mapped(out["owner_id"], lambda v: labels.owners.get(v))
        if "owner" in out.columns:
            out["owner"] = shown.where(shown.notna(), out["owner"])
        else:
            out.insert(list(out.columns).index("owner_id") + 1, "owner", shown.where(shown.notna(), out["owner_id"]))
    elif "owner" in out.columns and labels.owners:  # a column of ids without its twin
        out["owner"] = _mapped(out["owner"], lambda v: labels.owners.get(v, v))
    if "label" not in out.columns and "forecast_category" in out.columns:
        out["forecast_category"] = _mapped(out["forecast_category"], lambda v: display("forecast_category", v))
    return out
