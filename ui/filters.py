"""The global sidebar filters, kept in the URL so a copied link opens the same view.

On the first run of a session the widgets take their values from the query string; on every run
the query string is rewritten from the widgets (page switches drop it, this puts it back).
Query keys: period, from, to, compare, region, product_line, owner, team, pipeline, source, locale, cents.
Periods are the presets of metrics.periods (none reaches past today) or custom dates; older period
names in links (fiscal_year, last_12_months, quarter_to_date) open the preset they now stand for.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from metrics.filters import Filters
from metrics.periods import (EARLIEST, LATEST, PERIOD_ALIASES, period_problem, period_range, plan_end,
                             previous_plan_end, previous_range, to_date_comparison)
from store import utcnow

from .labels import display

PERIODS = {
    "this_week": "This week to date", "last_week": "Last week", "this_month": "This month to date",
    "last_month": "Last month", "this_quarter": "Quarter to date", "last_quarter": "Last quarter",
    "this_year": "Fiscal year to date", "last_year": "Last fiscal year",
    "last_12_full_months": "Last 12 full months", "trailing_12_months": "Trailing 12 months",
    "custom": "Custom dates",
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
VALID_SHOWN = 12  # valid values a link's warning lists before "and N more"
_INIT_FLAG = "_ns_filters_from_url"
_WARNINGS = "_ns_filter_warnings"  # what a link asked for that could not be shown, until a filter changes
_KEEP = "_ns_keep_"  # a copy of each filter widget's value that outlives page switches


def _restore(key: str) -> None:
    """Before drawing a filter widget: give it the value kept from earlier runs.

    Streamlit forgets a widget's state when a run does not draw it with the same identity (which
    a page switch can cause), so each filter value is also kept under a plain session key."""
    if _KEEP + key in st.session_state:
        st.session_state[key] = st.session_state[_KEEP + key]


def _remember(key: str) -> None:
    """on_change of a filter widget (and after drawing it): keep its value; the link's warnings
    are answered by the change."""
    st.session_state[_KEEP + key] = st.session_state[key]
    st.session_state.pop(_WARNINGS, None)


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
    # tables show amounts from €1,000 without cents unless the user asks (sidebar, `?cents=1`)
    cents: bool = False


def _option_values(options: dict, name: str) -> list[str]:
    return [o[0] if isinstance(o, tuple) else o for o in options.get(name, [])]


def _warn(message: str) -> None:
    st.session_state.setdefault(_WARNINGS, []).append(message)


def match_value(given: str, choices: dict[str, str]) -> tuple[str | None, list[str]]:
    """The choice a link's value stands for: an exact value, else the one value or label (e.g. an
    owner's name, a source's on-screen name) equal to it ignoring case. Returns (value, []) when
    found, (None, candidates) when it is ambiguous, (None, []) when nothing matches.
    `choices`: value -> on-screen label."""
    if given in choices:
        return given, []
    folded = given.casefold()
    hits = [v for v, label in choices.items() if folded in (v.casefold(), str(label).casefold())]
    if len(hits) == 1:
        return hits[0], []
    return None, hits


def _valid_text(choices: dict[str, str]) -> str:
    shown = [v if str(label) == v else f"{v} ({label})" for v, label in list(choices.items())[:VALID_SHOWN]]
    more = len(choices) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "none in this store"


def _from_url(key: str, given: str, choices: dict[str, str], what: str) -> str | None:
    """A link's `key=given` as one of `choices`, or None with a warning naming it and the valid values."""
    value, candidates = match_value(given, choices)
    if value is None and candidates:
        _warn(f"The link's {key}={given!r} is ambiguous: it could be {', '.join(candidates)}; ignored.")
    elif value is None:
        _warn(f"The link's {key}={given!r} is not a known {what}; ignored. Valid values: {_valid_text(choices)}.")
    return value


def _url_period(qp) -> tuple[dt.date, dt.date] | None:
    """The custom period from= to= of a link, or None (with a warning naming what is wrong)."""
    instead = f"showing {PERIODS[DEFAULT_PERIOD]} instead"
    dates = []
    for key in ("from", "to"):
        text = qp.get(key)
        if not text:
            _warn(f"The link's custom period has no {key}= date; {instead}.")
            return None
        try:
            dates.append(dt.date.fromisoformat(text))
        except ValueError:
            _warn(f"The link's {key}={text!r} is not a date like 2026-01-31; {instead}.")
            return None
    problem = period_problem(*dates)
    if problem:
        _warn(f"The link's {problem}; {instead}.")
        return None
    return dates[0], dates[1]


def init_from_url(options: dict, default_locale: str) -> None:
    """Once per session: take the filter values from the query string. A value matching no choice
    exactly is taken when it names one choice ignoring case (?region=france opens France); else it
    is dropped with a warning naming it and the valid values (shown until a filter changes)."""
    if st.session_state.get(_INIT_FLAG):
        return
    qp = st.query_params
    period = DEFAULT_PERIOD
    if "period" in qp:  # an older name stands for its preset (metrics.periods.PERIOD_ALIASES)
        given = qp["period"]
        period = _from_url("period", PERIOD_ALIASES.get(given.casefold(), given), PERIODS, "period")
    _keep("f_period", period or DEFAULT_PERIOD)
    compare = _from_url("compare", qp["compare"], COMPARES, "comparison") if "compare" in qp else DEFAULT_COMPARE
    _keep("f_compare", compare or DEFAULT_COMPARE)
    locale = _from_url("locale", qp["locale"], {lo: lo for lo in LOCALES}, "number format") if "locale" in qp \
        else default_locale
    _keep("f_locale", locale or default_locale)
    _keep("f_cents", qp.get("cents", "") in ("1", "true", "yes"))
    if _kept("f_period") == "custom":
        custom = _url_period(qp)
        if custom:
            _keep("f_custom", custom)
        else:
            _keep("f_period", DEFAULT_PERIOD)
    for qkey, (skey, _field, opt) in SLICES.items():
        labels = dict(o for o in options.get(opt, []) if isinstance(o, tuple))
        choices = {v: labels.get(v, display(qkey, v)) for v in _option_values(options, opt)}
        found = [_from_url(qkey, v, choices, SLICE_LABELS[qkey].lower()) for v in qp.get_all(qkey)]
        _keep(skey, list(dict.fromkeys(v for v in found if v)))
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
        picked = widget(sb.date_input, "f_custom", "Dates", format="YYYY-MM-DD", min_value=EARLIEST,
                        max_value=LATEST)
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            start, end = picked
        elif isinstance(picked, (tuple, list)) and picked:  # first click of a new range
            start = end = picked[0]
        else:
            start, end = period_range("this_month", today, fiscal_year_start_month)
        problem = period_problem(start, end)
        if problem:  # a range picked longer than the longest period served
            st.warning(f"{problem[0].upper()}{problem[1:]}; showing {PERIODS[DEFAULT_PERIOD]} instead.",
                       icon=":material/date_range:")
            start, end = period_range(DEFAULT_PERIOD, today, fiscal_year_start_month)
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
    cents = widget(sb.toggle, "f_cents", "Cents in tables",
                   help="Tables show amounts from €1,000 without cents; tiles stay compact. The exact "
                        "value is always in the tooltip and the CSV/XLSX downloads.")
    # a preset to date (Quarter to date) also names where its period ends: plans and stocks
    # (target, pipeline, forecast) are taken to that day, flows to today (metrics.filters)
    plan = plan_end(period, today, fiscal_year_start_month) if period != "custom" else None
    filters = Filters(start=start, end=end, plan_end=plan, **{field: tuple(_kept(skey, []))
                                                              for skey, field, _o in SLICES.values()})
    if compare_kind == "previous" and period != "custom":  # a preset to date: the same days of the one before
        compare = filters.with_period(*previous_range(period, today, fiscal_year_start_month),
                                      previous_plan_end(period, today, fiscal_year_start_month))
    else:
        compare = {"previous": filters.previous_period, "last_year": filters.same_period_last_year,
                   "none": lambda: None}[compare_kind]()
    _write_url({
        "period": period, "compare": compare_kind, "locale": locale, "cents": "1" if cents else "",
        "from": start.isoformat() if period == "custom" else "",
        "to": end.isoformat() if period == "custom" else "",
        **{q: list(_kept(skey, [])) for q, (skey, _f, _o) in SLICES.items()},
    })
    for message in st.session_state.get(_WARNINGS, []):
        st.warning(message, icon=":material/link_off:")
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
        sb.caption(label + (f" · vs {compare.start.isoformat()} to {compare.end.isoformat()}" if compare else "")
                   + (f" · target, pipeline and forecast: the whole period, to {filters.plan_end.isoformat()}"
                      + (f" (vs to {compare.plan_end.isoformat()})" if compare is not None and compare.plan_end else "")
                      if filters.plan_end else ""))
    return FilterState(filters=filters, compare=compare, compare_label=COMPARES[compare_kind],
                       period_label=label, locale=locale, currency=currency, compare_to_date=to_date,
                       cents=bool(cents))
