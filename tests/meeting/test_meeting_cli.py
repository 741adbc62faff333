"""`cli.py snapshot` and `cli.py meeting-pack` on a store given by NORTHSTAR_DB_URL."""
from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import load_workbook

import cli
from meeting.snapshots import list_snapshots
from meeting_crm import seed_crm
from store import StoreSettings, open_store


@pytest.fixture
def cli_store(store_url, monkeypatch):
    monkeypatch.setenv("NORTHSTAR_DB_URL", store_url)
    engine = open_store(StoreSettings(store_url, "test"))
    seed_crm(engine)
    return engine


def test_snapshot_cli_is_idempotent_per_week(cli_store, capsys):
    assert cli.main(["snapshot"]) == 0
    assert "taken" in capsys.readouterr().out
    assert cli.main(["snapshot"]) == 0
    assert "already taken, kept as it was" in capsys.readouterr().out
    assert cli.main(["snapshot", "--on-demand"]) == 0
    kinds = sorted(r["kind"] for r in list_snapshots(cli_store))
    assert kinds == ["on_demand", "weekly"]
    assert cli.main(["snapshot", "--list"]) == 0
    assert "on_demand" in capsys.readouterr().out


def test_snapshot_cli_refuses_a_future_week_without_traceback(cli_store, capsys):
    future = dt.date.today() + dt.timedelta(days=14)
    assert cli.main(["snapshot", "--week", future.isoformat()]) == 2
    err = capsys.readouterr().err
    assert "has not started yet" in err and "Traceback" not in err


def test_snapshot_cli_rejects_a_bad_date(cli_store, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["snapshot", "--week", "next monday"])
    assert exc.value.code == 2
    assert "is not a date like" in capsys.readouterr().err


def test_meeting_pack_cli_writes_both_files(cli_store, tmp_path, capsys):
    assert cli.main(["meeting-pack", "--out", str(tmp_path)]) == 2  # no snapshot yet: told what to do
    assert "python cli.py snapshot" in capsys.readouterr().err
    assert cli.main(["snapshot"]) == 0
    assert cli.main(["meeting-pack", "--out", str(tmp_path)]) == 0
    week = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    html = (tmp_path / f"northstar-meeting-{week}.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Pipeline waterfall" in html
    wb = load_workbook(tmp_path / f"northstar-meeting-{week}.xlsx")
    # #18: what changed and the decisions first, then the week's figures
    assert wb.sheetnames[:9] == ["Summary", "What changed", "Decisions followed", "Decisions", "Open items",
                                 "Change contributions", "Headline", "KPIs", "Pipeline waterfall"]


@pytest.mark.parametrize("args", [["snapshot", "--week", "0001-01-01"], ["meeting-pack", "--week", "9999-12-31"]])
def test_meeting_cli_refuses_weeks_out_of_range(cli_store, capsys, args):
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--week={args[2]} is" in err and "dates run from 1990-01-01 to 2100-12-31" in err
    assert "Traceback" not in err
    assert list_snapshots(cli_store) == []
