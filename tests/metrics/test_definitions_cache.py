"""definitions.yaml is parsed once per file version: an edit of the file is seen at once, and a
caller changing the mapping it got does not change what the next caller gets."""
from __future__ import annotations

import os

from metrics.definitions import load_file


def test_load_file_sees_an_edit_of_the_file(tmp_path):
    path = tmp_path / "definitions.yaml"
    path.write_text("locale: en-US\n", encoding="utf-8")
    assert load_file(path) == {"locale": "en-US"}
    path.write_text("locale: fr-FR\n", encoding="utf-8")
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp + 1_000_000_000, stamp + 1_000_000_000))  # same size: the mtime tells
    assert load_file(path) == {"locale": "fr-FR"}


def test_load_file_hands_out_a_fresh_mapping_each_time(tmp_path):
    path = tmp_path / "definitions.yaml"
    path.write_text("currency:\n  reporting: EUR\n", encoding="utf-8")
    first = load_file(path)
    first["currency"]["reporting"] = "USD"
    assert load_file(path) == {"currency": {"reporting": "EUR"}}
