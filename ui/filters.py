"""The global sidebar filters, kept in the URL so a copied link opens the same view.

On the first run of a session the widgets take their values from the query string; on every run
the query string is rewritten from the widgets (page switches drop it, this puts it back).
Query keys: period, from, to, compare, region, product_line, owner, team, pipeline, source, locale.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from metrics.filters import Filters
from metrics.periods import period_range, to_date_comparison
from store import utcnow

from .labels import display

PERIODS = {
    "this_week": "This week", "this_month": "This month", "this_quarter": "This quarter",
    "fiscal_year": "Fiscal year", "last_12_months": "Last 12 months", "custom": "Custom dates",
}
COMPARES = {"previous": "Previous period", "last_year": "Same period last year", "none": "No comparison"}
LOCALES = ("en-US", "fr-FR")
DEFAULT_PERIOD, DEFAULT_COMPARE = "this_quarter", "previous"

# query key -> (session key, Filters field, option list in filter_options())
SLICES = {
    "region": ("f_region", "regions", "regions"),
    "product_line": ("f_product_line", "product_lines", "product_lines"),
    "owner": ("f_owner", "owners", "owners"),
    "team": ("f_team", "teams", "teams"),
    "pipeline": ("f_pipeline", "pipelines", "pipelines"),
    "source": ("f_source", "sources", "sources"),
}
SLICE_LABELS = {"region": "Region", "product_line": "Product line", "owner": "Owner", "team": "Team",
                "pipeline": "Pipeline", "source": "Source"}
_INIT_FLAG = "_ns_filters_from_url"
_KEEP = "_ns_keep_"  # a copy of each filter widget's value that outlives page switches


def _restore(key: str) -> None:
    """Before drawing a filter widget: give it the value kept from earlier runs.

    Streamlit forgets a widget's state when a run does not draw it with the same identity (which
    a page switch can cause), so each filter value is also kept under a plain session key."""
    if _KEEP + key in st.session_state:
        st.session_state[key] = st.session_state[_KEEP + key]


def _remember(key: str) -> None:
    """on_change of a filter widget (and after drawing it): keep its value."""
    st.session_state[_KEEP + key] = st.session_state[key]


def _kept(key: str, default=None):
    return st.session_state.get(_KEEP + key, default)


def _keep(key: str, value) -> None:
    st.session_state[_KEEP + key] = value


@dataclass(frozen=True)
class FilterState:
    """What every page gets: the filters, the comparison filters (or None), and how to write numbers."""
    filters: Filters
    compare: Filters | None
    compare_label: str
    period_label: str
    locale: str
    currency: str
    # a period in progress: the comparison cut to the same days, for the metrics compared to date
    compare_to_date: Filters | None = None


def _option_values(options: dict, name: str) -> list[str]:
    return [o[0] if isinstance(o, tuple) else o for o in options.get(name, [])]


def _parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def init_from_url(options: dict, default_locale: str) -> None:
    """Once per session: take the filter values from the query string (unknown values dropped)."""
    if st.session_state.get(_INIT_FLAG):
        return
    qp = st.query_params
    period = qp.get("period", DEFAULT_PERIOD)
    _keep("f_period", period if period in PERIODS else DEFAULT_PERIOD)
    compare = qp.get("compare", DEFAULT_COMPARE)
    _keep("f_compare", compare if compare in COMPARES else DEFAULT_COMPARE)
    locale = qp.get("locale", default_locale)
    _keep("f_locale", locale if locale in LOCALES else default_locale)
    start, end = _parse_date(qp.get("from")), _parse_date(qp.get("to"))
    if _kept("f_period") == "custom":
        if start and end and start <= end:
            _keep("f_custom", (start, end))
        else:
            _keep("f_period", DEFAULT_PERIOD)
    for qkey, (skey, _field, opt) in SLICES.items():
        allowed = set(_option_values(options, opt))
        _keep(skey, [v for v in qp.get_all(qkey) if v in allowed])
    st.session_state[_INIT_FLAG] = True


def _write_url(values: dict[str, str | list[str]]) -> None:
    """Set our keys in the query string (only when they differ), leaving other pages' keys alone."""
    qp = st.query_params
    for key, value in values.items():
        current = qp.get_all(key)
        wanted = value if isinstance(value, list) else ([value] if value else [])
        if current == wanted:
            continue
        if wanted:
            qp[key] = wanted if isinstance(value, list) else value
        elif key in qp:
            del qp[key]


def render_filters(options: dict, fiscal_year_start_month: int, default_locale: str,
                   currency: str, today: dt.date | None = None) -> FilterState:
    """Draw the sidebar filters and return the FilterState of this run."""
    init_from_url(options, default_locale)
    today = today or utcnow().date()
    sb = st.sidebar

    def widget(draw, key: str, *args, **kwargs):
        _restore(key)
        value = draw(*args, key=key, on_change=_remember, args=(key,), **kwargs)
        _keep(key, value)
        return value

    period = widget(sb.selectbox, "f_period", "Period", list(PERIODS), format_func=PERIODS.get)
    if period == "custom":
        if _kept("f_custom") is None:
            _keep("f_custom", period_range("this_month", today, fiscal_year_start_month))
        picked = widget(sb.date_input, "f_custom", "Dates", format="YYYY-MM-DD")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            start, end = picked
        elif isinstance(picked, (tuple, list)) and picked:  # first click of a new range
            start = end = picked[0]
        else:
            start, end = period_range("this_month", today, fiscal_year_start_month)
    else:
        start, end = period_range(period, today, fiscal_year_start_month)
    compare_kind = widget(sb.selectbox, "f_compare", "Compare to", list(COMPARES), format_func=COMPARES.get)
    with sb.expander("Region, product, owner, source",
                     expanded=any(_kept(skey) for skey, _f, _o in SLICES.values())):
        for qkey, (skey, _field, opt) in SLICES.items():
            values = _option_values(options, opt)
            labels = dict(o for o in options.get(opt, []) if isinstance(o, tuple))
            _keep(skey, [v for v in _kept(skey, []) if v in values])
            widget(st.multiselect, skey, SLICE_LABELS[qkey], values, placeholder="All",
                   format_func=lambda v, labels=labels, dim=qkey: labels.get(v, display(dim, v)))
    locale = widget(sb.selectbox, "f_locale", "Number format", LOCALES,
                    format_func={"en-US": "English (1,234.56)", "fr-FR": "Français (1 234,56)"}.get)
    filters = Filters(start=start, end=end, **{field: tuple(_kept(skey, []))
                                               for skey, field, _o in SLICES.values()})
    compare = {"previous": filters.previous_period, "last_year": filters.same_period_last_year,
               "none": lambda: None}[compare_kind]()
    _write_url({
        "period": period, "compare": compare_kind, "locale": locale,
        "from": start.isoformat() if period == "custom" else "",
        "to": end.isoformat() if period == "custom" else "",
        **{q: list(_kept(skey, [])) for q, (skey, _f, _o) in SLICES.items()},
    })
    label = f"{PERIODS[period]}: {start.isoformat()} to {end.isoformat()}"
    to_date = None
    if compare is not None:
        cut = to_date_comparison(start, end, compare.start, compare.end, today)
        to_date = compare.with_period(*cut) if cut else None
    if to_date is not None:
        sb.caption(label + f" · so far vs {to_date.start.isoformat()} to {to_date.end.isoformat()} "
                           f"(same {to_date.days} days; plans and pipeline vs {compare.start.isoformat()} "
                           f"to {compare.end.isoformat()})")
    else:
        sb.caption(label + (f" · vs {compare.start.isoformat()} to {compare.end.isoformat()}" if compare else ""))
    return FilterState(filters=filters, compare=compare, compare_label=COMPARES[compare_kind],
                       period_label=label, locale=locale, currency=currency, compare_to_date=to_date)
