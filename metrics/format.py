"""Writing numbers for people: money, counts, ratios and dates in en-US or fr-FR.

    format_value(1234.56, "money")                       -> "€1,234.56"
    format_value(1234.56, "money", "fr-FR")              -> "1 234,56 €"   (narrow no-break space)
    format_value(0.256, "ratio")                         -> "25.6%"
    format_value(None, "count")                          -> "n/a"
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

NA = "n/a"
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
NNBSP = "\u202f"  # French thousands separator (narrow no-break space)
NBSP = "\u00a0"  # before the French currency symbol and percent sign


def _group(value: float, decimals: int, locale: str) -> str:
    text = f"{abs(value):,.{decimals}f}"
    if locale == "fr-FR":
        text = text.replace(",", NNBSP).replace(".", ",")
    return ("-" if value < 0 and round(abs(value), decimals) != 0 else "") + text


def format_money(value: float | None, currency: str = "EUR", locale: str = "en-US", decimals: int = 2) -> str:
    if value is None:
        return NA
    symbol = SYMBOLS.get(currency.upper(), currency.upper())
    body = _group(value, decimals, locale)
    sign, digits = ("-", body[1:]) if body.startswith("-") else ("", body)
    if locale == "fr-FR":
        return f"{sign}{digits}{NBSP}{symbol}"
    return f"{sign}{symbol}{digits}" if len(symbol) == 1 else f"{sign}{symbol} {digits}"


def format_count(value: float | None, locale: str = "en-US") -> str:
    return NA if value is None else _group(round(value), 0, locale)


def format_ratio(value: float | None, locale: str = "en-US", decimals: int = 1) -> str:
    """A 0-1 ratio as a percentage."""
    if value is None:
        return NA
    body = _group(value * 100, decimals, locale)
    return f"{body}{NBSP}%" if locale == "fr-FR" else f"{body}%"


def format_days(value: float | None, locale: str = "en-US", unit: str = "days") -> str:
    if value is None:
        return NA
    word = {"days": ("days", "jours"), "months": ("months", "mois")}[unit][locale == "fr-FR"]
    return f"{_group(value, 1, locale)} {word}"


def format_ratio_x(value: float | None, locale: str = "en-US") -> str:
    return NA if value is None else f"{_group(value, 1, locale)}x"


def format_score(value: float | None, locale: str = "en-US") -> str:
    """A score from -100 to 100 (NPS) with its sign and one decimal: "+32.5", "-4.0", "0.0"."""
    if value is None:
        return NA
    body = _group(abs(value), 1, locale)
    return ("+" if value > 0 else "-" if value < 0 else "") + body


def format_value(value: float | None, unit: str, locale: str = "en-US", currency: str = "EUR") -> str:
    """A metric value in its unit (see registry.UNITS)."""
    if unit == "money":
        return format_money(value, currency, locale)
    if unit == "count":
        return format_count(value, locale)
    if unit == "ratio":
        return format_ratio(value, locale)
    if unit in ("days", "months"):
        return format_days(value, locale, unit)
    if unit == "ratio_x":
        return format_ratio_x(value, locale)
    if unit == "score":
        return format_score(value, locale)
    raise ValueError(f"unknown unit {unit!r}; use money, count, ratio, days, months, ratio_x or score")


def format_date(value: dt.date | dt.datetime | None, locale: str = "en-US") -> str:
    """2026-03-01 -> "Mar 1, 2026" (en-US) / "01/03/2026" (fr-FR)."""
    if value is None:
        return NA
    if locale == "fr-FR":
        return value.strftime("%d/%m/%Y")
    return f"{value.strftime('%b')} {value.day}, {value.year}"


# ---- presentation rules (issue #15): one place for months, weeks, compact and table amounts ----
MONTHS = {
    "en-US": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr-FR": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}
BLANK = "—"  # what a missing cell shows on screen (never "None", "nan" or "NaT")
PERCENT_DECIMALS = 1  # one percentage precision on every page
CENTS_BELOW = 1_000  # amounts from this size on are shown without cents (tables, chart labels)


def is_missing(value) -> bool:
    """None, NaN, NaT and pandas.NA (whose comparisons raise instead of answering)."""
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(value != value)
    except TypeError:
        return True


def as_date(value) -> dt.date | None:
    """A period value as a date: dates, datetimes, pandas Timestamps, "2026-10" and "2026-10-01"
    (None for anything else, and for missing values)."""
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    text = str(value).strip()
    try:
        if len(text) == 7:
            return dt.date.fromisoformat(text + "-01")
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def format_month(value, locale: str = "en-US") -> str:
    """2026-10-01 (or "2026-10") -> "Oct 2026" / "oct. 2026"."""
    day = as_date(value)
    if day is None:
        return NA
    return f"{MONTHS.get(locale, MONTHS['en-US'])[day.month - 1]} {day.year}"


def format_day(value, locale: str = "en-US") -> str:
    """A day, written so no reader can swap day and month: "Oct 5, 2026" / "5 oct. 2026"."""
    day = as_date(value)
    if day is None:
        return NA
    month = MONTHS.get(locale, MONTHS["en-US"])[day.month - 1]
    return f"{day.day} {month} {day.year}" if locale == "fr-FR" else f"{month} {day.day}, {day.year}"


def period_grain(values) -> str | None:
    """'month' when every value is a month ("2026-10" or the 1st of a month), 'day' when every
    value is a date (a week's first day, say), None when some value is not a date at all."""
    values = [v for v in values if not is_missing(v)]
    days = [as_date(v) for v in values]
    if not days or any(d is None for d in days):
        return None
    if all(len(str(v)) == 7 for v in values) or all(d.day == 1 for d in days):
        return "month"
    return "day"


def format_period(value, grain: str | None, locale: str = "en-US") -> str:
    """A chart tick or table cell of a period: a month as "Oct 2026", a week or day by its date."""
    if grain == "month":
        return format_month(value, locale)
    if grain in ("week", "day"):
        return format_day(value, locale)
    return str(value)


def money_decimals(value: float) -> int:
    """Cents only below €1,000 and only when there are some ("€21.28", "€0", "€43,100")."""
    return 2 if abs(value) < CENTS_BELOW and round(value, 2) != round(value) else 0


def format_amount(value: float | None, currency: str = "EUR", locale: str = "en-US", cents: bool = False) -> str:
    """A full amount for tables and chart labels: no cents from €1,000 on unless `cents`
    ("€43,100", "€21.28"; fr-FR "43 100 €")."""
    if is_missing(value):
        return NA
    return format_money(value, currency, locale, decimals=2 if cents else money_decimals(value))


def format_compact_money(value: float | None, currency: str = "EUR", locale: str = "en-US") -> str:
    """An amount short enough for a tile: below 10,000 as format_amount, then thousands and
    millions ("€19.4K", "€853K", "€1.69M"; fr-FR "19,4 k€", "853 k€", "1,69 M€")."""
    if is_missing(value):
        return NA
    size = abs(value)
    if size < 10_000:
        return format_amount(value, currency, locale)
    if size < 1_000_000:
        scaled, decimals, en, fr = value / 1_000, 1 if size < 100_000 else 0, "K", "k"
    elif size < 1_000_000_000:
        scaled, decimals, en, fr = value / 1_000_000, 2, "M", "M"
    else:
        scaled, decimals, en, fr = value / 1_000_000_000, 2, "B", "Md"
    text = format_money(scaled, currency, locale, decimals=decimals)
    if locale == "fr-FR":  # "1,69 €" -> "1,69 M€"
        body, _sep, symbol = text.rpartition(NBSP)
        return f"{body}{NBSP}{fr}{symbol}"
    return text + en


def format_percent(value: float | None, locale: str = "en-US") -> str:
    """A 0-1 ratio at the one precision every page uses, halves rounded up as people do
    (0.5555 -> "55.6%", "55,6 %"; binary floats alone would give "55.5%")."""
    if is_missing(value):
        return NA
    return format_ratio(percent_number(value) / 100, locale, decimals=PERCENT_DECIMALS)


def percent_number(value: float) -> float:
    """A 0-1 ratio as the number of percent every page shows (0.5555 -> 55.6, for CSV cells)."""
    step = Decimal(1).scaleb(-PERCENT_DECIMALS)
    return float(Decimal(repr(round(float(value) * 100, 9))).quantize(step, rounding=ROUND_HALF_UP))


def format_cell(value, unit: str | None, locale: str = "en-US", currency: str = "EUR", cents: bool = False) -> str:
    """One table cell on screen: missing values blank ("—"), amounts without cents from €1,000,
    percentages at one decimal, days at one decimal, counts grouped; other values as text."""
    if is_missing(value):
        return BLANK
    if unit == "money":
        return format_amount(float(value), currency, locale, cents)
    if unit == "ratio":
        return format_percent(float(value), locale)
    if unit == "count":
        return format_count(float(value), locale)
    if unit == "ratio_x":  # a coverage: 3.2x
        return format_ratio_x(float(value), locale)
    if unit in ("days", "hours"):
        return _group(float(value), 1, locale)
    if unit == "number":  # an amount in a currency given beside it
        return _group(float(value), 2 if cents else money_decimals(float(value)), locale)
    if unit == "month":
        return format_month(value, locale)
    if unit == "date":
        return format_day(value, locale)
    if unit == "datetime":
        stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return f"{format_day(stamp, locale)} {stamp:%H:%M}" if isinstance(stamp, dt.datetime) else str(value)
    return str(value)


XLSX_FORMATS = {  # Excel number formats: the cell keeps its number, Excel shows it like this
    "ratio": "0." + "0" * PERCENT_DECIMALS + "%", "count": "#,##0", "number": "#,##0.00", "days": "#,##0.0",
    "hours": "#,##0.0", "month": "mmm yyyy", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm",
    "ratio_x": "0.0\"x\"",
}
MONEY_XLSX = {"EUR": '#,##0.00 "€";-#,##0.00 "€"', "USD": '"$"#,##0.00;-"$"#,##0.00',
              "GBP": '"£"#,##0.00;-"£"#,##0.00'}


def xlsx_format(unit: str | None, currency: str = "EUR") -> str | None:
    """The Excel number format of a unit (money in the reporting currency, 0.5555 as 55.6 %)."""
    if unit == "money":
        return MONEY_XLSX.get(currency.upper(), f'#,##0.00 "{currency.upper()}"')
    return XLSX_FORMATS.get(unit or "")


# --- distance to a target: one sign convention everywhere -------------------------------------
# A gap is never shown as a signed number (a "-€24,783" gap read as short by some and ahead by
# others): it is written as how far the value is from its target and on which side. The stored
# value keeps its sign (gap_to_target = target - revenue; vs_target = value - target).
SHORT, AHEAD, ON_TARGET = "short of target", "ahead of target", "on target"
OVER, UNDER = "over target", "under target"  # metrics where less is better (spend, cost per lead)
GAP_METRICS = ("gap_to_target",)  # metrics whose value is a distance to a target (target - value)


def _distance(size: float, unit: str, locale: str, currency: str, compact: bool) -> str:
    if unit == "money":
        return (format_compact_money if compact else format_amount)(size, currency, locale)
    if unit == "share":  # a difference as a share of the target (vs target %)
        return format_percent(size, locale)
    if unit == "ratio":  # a difference of two percentages, in points
        return format_percent(size, locale).replace("%", "").replace(NBSP, "").strip() + " pts"
    return format_value(size, unit, locale=locale, currency=currency)


def vs_target_text(difference: float | None, unit: str = "money", locale: str = "en-US", currency: str = "EUR",
                   *, down_is_good: bool = False, compact: bool = False) -> str:
    """`difference` = value - target, written as a distance to the target: "€832K short of
    target", "€12K ahead of target", "on target"; for a metric where less is better, "over
    target" / "under target". `compact` as on a tile (format_compact_money), else as in tables."""
    if is_missing(difference):
        return NA
    diff = float(difference)
    shown = _distance(abs(diff), unit, locale, currency, compact)
    if round(abs(diff), 2 if unit == "money" else 4) == 0:
        return ON_TARGET
    if down_is_good:
        return f"{shown} {OVER if diff > 0 else UNDER}"
    return f"{shown} {AHEAD if diff > 0 else SHORT}"


def gap_text(gap: float | None, locale: str = "en-US", currency: str = "EUR", *, compact: bool = False) -> str:
    """gap_to_target (target - revenue; positive while short) in the one convention:
    832105 -> "€832,105 short of target"; -12000 -> "€12,000 ahead of target"."""
    return NA if is_missing(gap) else vs_target_text(-float(gap), "money", locale, currency, compact=compact)


def vs_target_xlsx_format(unit: str | None, currency: str = "EUR", *, down_is_good: bool = False,
                          gap: bool = False) -> str | None:
    """An Excel format writing a signed distance to target in the same words (the cell keeps its
    number): positive;negative;zero sections. `gap`: the number is target - value (gap_to_target)."""
    base = xlsx_format(unit, currency)
    if base is None:
        return None
    body = base.split(";")[0]
    above, below = (OVER, UNDER) if down_is_good else (AHEAD, SHORT)
    if gap:
        above, below = below, above
    def words(text: str) -> str:
        return body[:-1] + f' {text}"' if body.endswith('"') else body + f'" {text}"'
    return f'{words(above)};{words(below)};"{ON_TARGET}"'


def tile_value_text(value: float | None, unit: str, locale: str = "en-US", currency: str = "EUR",
                    metric_id: str | None = None) -> str:
    """A value short enough for a tile (every page's tiles and the meeting pack's headline): money
    compact ("€19.4K", "€853K", "€1.69M" / "1,69 M€"; cents only below €1,000), percentages at the
    one precision, a gap to target as its distance and side ("€832K short of target"), everything
    else as format_value."""
    if is_missing(value):
        return NA
    if metric_id in GAP_METRICS:
        return gap_text(value, locale, currency, compact=True)
    if unit == "money":
        return format_compact_money(value, currency, locale)
    if unit == "ratio":
        return format_percent(value, locale)
    return format_value(value, unit, locale=locale, currency=currency)


def format_change_money(value: float | None, currency: str = "EUR", locale: str = "en-US") -> str:
    """A change of an amount as the meeting's explanations write it: compact, always signed
    ("+€95K", "-€1.2K", "+€0"; fr-FR "+95 k€")."""
    if is_missing(value):
        return NA
    text = format_compact_money(value, currency, locale)
    return text if text.startswith("-") else "+" + text
