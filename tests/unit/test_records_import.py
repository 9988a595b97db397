"""`flask records import FILE --department CODE`: a department's initial load, safe to run twice."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.models import PushRequest, Record, RecordRejection, RecordVersion
from backend.services import records
from tests.factories import make_catalog_item, make_department, make_id_card_item
from tests.unit.test_records import id_card, license_


@pytest.fixture
def departments(session, clock):
    make_department(session, clock, code="NH-SCJ", name="区市场监督管理局")
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_id_card_item(session, clock)
    make_catalog_item(session, clock)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def write_jsonl(path, rows, blank_every: int = 0):
    lines = []
    for n, row in enumerate(rows):
        lines.append(json.dumps(row, ensure_ascii=False))
        if blank_every and n % blank_every == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_import_runs_twice_and_the_second_run_adds_nothing(app, session, clock, departments, tmp_path,
                                                              monkeypatch):
    monkeypatch.setattr("backend.cli.IMPORT_CHUNK", 40)
    rows = [id_card(f"GA-{n:04d}", produced_at="2026-02-27T09:00:00+08:00") for n in range(95)]
    rows[10]["subject_id"] = "11010519491231002Y"
    rows[50]["fields"] = {"sex": "?"}
    path = write_jsonl(tmp_path / "initial.jsonl", rows, blank_every=30)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["records", "import", str(path), "--department", "NH-GAJ"])
    assert first.exit_code == 0, first.output
    assert "95 records for NH-GAJ: accepted 93 (new 93, changed 0, unchanged 0), rejected 2" in first.output
    assert "first 2 of 2 rejects:" in first.output
    assert "(record_no GA-0010): subject_id: the check digit" in first.output
    assert "line 12 " in first.output  # one blank line came before it
    assert "11010519491231002Y" not in first.output
    counts = [count(session, m) for m in (Record, RecordVersion, RecordRejection, PushRequest)]
    assert counts == [93, 93, 2, 3]

    second = runner.invoke(args=["records", "import", str(path), "--department", "NH-GAJ"])
    assert second.exit_code == 0, second.output
    assert "3 chunk(s) were imported before" in second.output
    assert [count(session, m) for m in (Record, RecordVersion, RecordRejection, PushRequest)] == counts


def test_a_changed_file_adds_only_what_changed(app, session, clock, departments, tmp_path):
    rows = [id_card(f"GA-{n}") for n in range(5)]
    runner = app.test_cli_runner()
    runner.invoke(args=["records", "import", str(write_jsonl(tmp_path / "a.jsonl", rows)), "--department", "NH-GAJ"])
    rows[2]["fields"] = {**rows[2]["fields"], "address": "新址"}
    result = runner.invoke(args=["records", "import", str(write_jsonl(tmp_path / "b.jsonl", rows)),
                                 "--department", "NH-GAJ"])
    assert "accepted 5 (new 0, changed 1, unchanged 4), rejected 0" in result.output
    assert count(session, RecordVersion) == 6


def test_a_malformed_file_is_refused_before_anything_is_written(app, session, clock, departments, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(id_card()) + "\n{broken\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--department", "NH-GAJ"])
    assert result.exit_code != 0
    assert "line 2: not valid JSON" in result.output
    assert count(session, Record) == 0

    path.write_text(json.dumps([id_card()]) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--department", "NH-GAJ"])
    assert result.exit_code != 0 and "line 1: each line must be one JSON object" in result.output


def test_an_unknown_department_is_refused(app, session, clock, departments, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [id_card()])
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--department", "NH-XXX"])
    assert result.exit_code != 0 and "no department has code NH-XXX" in result.output


def test_another_sources_item_stops_the_import(app, session, clock, departments, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [id_card(), license_()])
    result = app.test_cli_runner().invoke(args=["records", "import", str(path), "--department", "NH-GAJ"])
    assert result.exit_code != 0 and "one data, one source" in result.output
    assert count(session, Record) == 0


def test_chunks_are_the_size_of_a_push_batch():
    from backend import cli

    assert cli.IMPORT_CHUNK == records.MAX_BATCH
