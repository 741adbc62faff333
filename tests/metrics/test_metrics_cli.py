"""`cli.py metrics`: dates out of range or a period too long end with exit code 2 and one line
saying which value is wrong, before the store is opened (no traceback, no server time spent)."""
from __future__ import annotations

import json

import pytest

import cli


@pytest.mark.parametrize("start, end, message", [
    ("9999-12-01", "9999-12-31", "error: --from=9999-12-01 is after 2100-12-31 (dates run from 1990-01-01 to 2100-12-31)"),
    ("0001-01-01", "0001-01-31", "error: --from=0001-01-01 is before 1990-01-01 (dates run from 1990-01-01 to 2100-12-31)"),
    ("2026-01-01", "2101-01-01", "error: --to=2101-01-01 is after 2100-12-31 (dates run from 1990-01-01 to 2100-12-31)"),
    ("1990-01-01", "2010-01-01", "error: --from=1990-01-01 to --to=2010-01-01 is longer than 20 years, the longest "
                                 "period served"),
    ("2026-03-31", "2026-01-01", "error: --to=2026-01-01 is before --from=2026-03-31"),
])
def test_metrics_cli_refuses_dates_out_of_range(monkeypatch, tmp_path, capsys, start, end, message):
    url = f"sqlite:///{tmp_path / 'never.db'}"
    monkeypatch.setenv("NORTHSTAR_DB_URL", url)
    assert cli.main(["metrics", "--from", start, "--to", end]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [message] and captured.out == ""
    assert not (tmp_path / "never.db").exists()  # refused before the store was opened


def test_metrics_cli_serves_twenty_years_less_a_day(engine, monkeypatch, capsys):
    monkeypatch.setenv("NORTHSTAR_DB_URL", str(engine.url.render_as_string(hide_password=False)))
    assert cli.main(["metrics", "--from", "1990-01-01", "--to", "2009-12-31", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["filters"]["end"] == "2009-12-31"
