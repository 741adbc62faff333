"""The Definitions and Data pages: catalog and shared definitions shown, an edit is saved, audited,
listed in the history, and changes the numbers on the other pages at once."""
from __future__ import annotations

from metrics import REGISTRY
from store.schema import SCHEMA_VERSION
from tests.pages.conftest import Q1, run_app, tiles


def _tables(at) -> list:
    return [df.value for df in at.dataframe]


def test_catalog_lists_every_metric(tiny_store):
    at = run_app("pages/definitions.py", Q1)
    catalog = next(t for t in _tables(at) if "formula" in t.columns)
    assert set(catalog["id"]) == set(REGISTRY)


def test_meeting_rules_are_written_in_the_definitions(tiny_store):
    """#18: the volume/size convention and the verdict rule, in words, on the Definitions page."""
    at = run_app("pages/definitions.py", Q1)
    rules = next(t for t in _tables(at) if "rule" in t.columns).set_index("rule")
    assert "volume effect = (N this week - N last week) x A last week" in rules.loc[
        "Volume and size (Won this week)", "definition"]
    assert "moved the other way" in rules.loc["Decisions followed: verdict", "definition"]


def test_catalog_search_narrows_the_list(tiny_store):
    at = run_app("pages/definitions.py", Q1)
    at.text_input(key="defs_search").set_value("velocity").run()
    catalog = next(t for t in _tables(at) if "formula" in t.columns)
    assert "sales_velocity" in set(catalog["id"])
    assert len(catalog) < len(REGISTRY)


def test_editing_the_north_star_basis_is_saved_audited_and_used_everywhere(tiny_store):
    at = run_app("pages/ceo.py", Q1)
    assert tiles(at)[REGISTRY["north_star"].label] == "€1,500"  # booked: the two Q1 won deals
    run_app("pages/definitions.py", at=at)
    at.selectbox(key="defs_basis").set_value("invoiced")
    at.button(key="defs_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved" in s.value for s in at.success)
    history = next(t for t in _tables(at) if "changed_by" in t.columns)
    assert list(history["key"]) == ["north_star.basis"]
    assert list(history["new"]) == ['"invoiced"']

    run_app("pages/ceo.py", at=at)  # no invoices in the tiny store: invoiced North Star is not available
    assert tiles(at)[REGISTRY["north_star"].label] == "n/a"


def test_data_page_shows_row_counts_and_the_audit_tab(tiny_store):
    at = run_app("pages/data.py", Q1)
    counts = next(t for t in _tables(at) if list(t.columns) == ["table", "rows"])
    assert dict(zip(counts["table"], counts["rows"]))["deals"] == 5
    assert tiles(at)["Schema version"] == str(SCHEMA_VERSION)



def test_data_page_draws_the_hubspot_import_and_audit_panels(tiny_store):
    at = run_app("pages/data.py", Q1)
    assert [t.label for t in at.tabs] == ["Status", "HubSpot", "Import files", "Audit"]
    audit_tab = next(t for t in at.tabs if t.label == "Audit")
    assert any("No audited change yet" in i.value for i in audit_tab.info)
