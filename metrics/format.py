"""Writing numbers for people: money, counts, ratios and dates in en-US or fr-FR.

    format_value(1234.56, "money")                       -> "€1,234.56"
    format_value(1234.56, "money", "fr-FR")              -> "1 234,56 €"   (narrow no-break space)
    format_value(0.256, "ratio")                         -> "25.6%"
    format_value(None, "count")                          -> "n/a"
"""
from __future__ import annotations

import datetime as dt

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
    raise ValueError(f"unknown unit {unit!r}; use money, count, ratio, days, months or ratio_x")


def format_date(value: dt.date | dt.datetime | None, locale: str = "en-US") -> str:
    """2026-03-01 -> "Mar 1, 2026" (en-US) / "01/03/2026" (fr-FR)."""
    if value is None:
        return NA
    if locale == "fr-FR":
        return value.strftime("%d/%m/%Y")
    return f"{value.strftime('%b')} {value.day}, {value.year}"
