"""`cli.py import`: exit codes, the printed report, dry runs and mappings."""
from __future__ import annotations

import json

import cli
from fileimport_helpers import FIXTURES, SHARED_FEC, fec_line, small_fec


def test_cli_import_fec_then_skip(tmp_path, capsys):
    path = SHARED_FEC / "111111111FEC20221231.TXT"
    assert cli.main(["import", "fec", str(path), "--as", "cfo"]) == 0
    out = capsys.readouterr().out
    assert "934 rows read, 934 accepted, 0 rejected" in out and "success" in out
    assert cli.main(["import", "fec", str(path)]) == 0
    assert "already imported as import #1" in capsys.readouterr().out


def test_cli_import_rejected_file_exit_1_with_report(tmp_path, capsys):
    bad = tmp_path / "123456789FEC20241231.txt"
    bad.write_bytes(small_fec([fec_line("VE", "9", "20240131", "7X6", "0,00", "1,00")]))
    assert cli.main(["import", "fec", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "123456789FEC20241231.txt:7 [CompteNum] '7X6': unknown account" in out
    assert "rejected: nothing was written." in out and "--valid-only" in out
    assert cli.main(["import", "fec", str(bad), "--valid-only"]) == 0
    assert "imported 5 rows" in capsys.readouterr().out


def test_cli_import_dry_run_json_and_preset(capsys):
    path = FIXTURES / "invoices_stripe.csv"
    assert cli.main(["import", "invoices", str(path), "--mapping", "stripe", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["rows_accepted"], report["import_id"]) == ("validated", 3, None)
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables"]["invoices"] == 0  # the dry run wrote nothing


def test_cli_import_user_errors_exit_2(tmp_path, capsys):
    assert cli.main(["import", "fec", str(tmp_path / "missing.txt")]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert cli.main(["import", "spend", str(FIXTURES / "spend_generic.csv"), "--mapping", "nope"]) == 2
    err = capsys.readouterr().err
    assert "neither a preset" in err and "Traceback" not in err


def test_cli_forced_reading_options(tmp_path, capsys):
    data = "invoice number;issue date;amount excl tax\nZ-1;02/03/2024;1.234,50\n".encode("cp1252")
    path = tmp_path / "inv.csv"
    path.write_bytes(data)
    assert cli.main(["import", "invoices", str(path), "--dry-run", "--json", "--date-format", "%m/%d/%Y",
                     "--decimal", ",", "--thousands", ".", "--delimiter", "semicolon"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["period"] == ["2024-02-03", "2024-02-03"] and report["detected"]["date_format"] == "%m/%d/%Y"


def test_cli_replace_list_and_undo(tmp_path, capsys):
    a, b = tmp_path / "ledger_companyA.txt", tmp_path / "ledger_companyB.txt"
    a.write_bytes(small_fec(sale="1000,00"))
    b.write_bytes(small_fec(sale="50,00"))
    assert cli.main(["import", "fec", str(a)]) == 0
    assert cli.main(["import", "fec", str(b)]) == 0
    assert "replacing" not in capsys.readouterr().out  # another company's file replaces nothing
    fixed = tmp_path / "ledger_companyA_v2.txt"
    fixed.write_bytes(small_fec(sale="1200,00"))
    assert cli.main(["import", "fec", str(fixed), "--company", "A", "--replace"]) == 0
    assert "replacing" not in capsys.readouterr().out  # company "A" never imported before
    again = tmp_path / "ledger_companyA_v3.txt"
    again.write_bytes(small_fec(sale="1300,00"))
    assert cli.main(["import", "fec", str(again), "--company", "A", "--replace"]) == 0
    assert "replacing 5 rows (asked to replace: same company 'A' and period): 5 from import #3 " \
           "(ledger_companyA_v2.txt)" in capsys.readouterr().out
    assert cli.main(["imports", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split()[:5] == ["4", listing[1].split()[1], listing[1].split()[2], "fec", "success"]
    assert listing[1].split()[6] == "5" and listing[1].endswith("[A]")
    assert cli.main(["imports", "undo", "4", "--as", "cfo"]) == 0
    assert "undid import #4 (ledger_companyA_v3.txt): removed 5 rows, restored 5 rows" in capsys.readouterr().out
    assert cli.main(["imports", "undo", "4"]) == 2
    assert "undone already" in capsys.readouterr().err
    assert cli.main(["imports", "list", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["import_id"], r["status"]) for r in runs] == [(4, "undone"), (3, "success"), (2, "success"),
                                                             (1, "success")]
