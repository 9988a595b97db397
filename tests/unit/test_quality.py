"""Quality figures (rule 11): timeliness across a weekend, rejections, completeness, objections; incremental."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from backend.errors import ValidationError
from backend.models import QualityDaily, QualityItemSnapshot
from backend.services import quality
from tests.factories import id_card_fields, push_record, revoke_record
from tests.oversight import PERSON, push_rejected, quality_world, shanghai

MARCH = {"start": date(2026, 3, 1), "end": date(2026, 4, 1)}


def _by_code(report):
    return ({row.department.code: row.figures for row in report.departments},
            {row.item.code: row.figures for row in report.items})


def test_quality_figures_of_a_hand_computed_scenario(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    departments, items = _by_code(quality.quality_report(session, **MARCH, now=clock()))
    card = items["id-card"]
    assert (card.new, card.change, card.revoke) == (4, 0, 1)
    # B arrived Monday evening for a Friday record: the weekend does not count, so it is on time; C is late.
    assert (card.on_time, card.late, card.timeliness_unknown) == (4, 1, 0)
    assert card.on_time_rate == 0.8
    assert card.rejected == 1 and card.rejection_rate == round(1 / 6, 4)
    # Held: A, B, C (D is revoked). Optional fields filled: 1 + 3 + 0 of 3 + 3 + 3.
    assert card.records_held == 3
    assert (card.optional_filled, card.optional_total, card.completeness) == (4, 9, 0.4444)
    assert (card.objections_filed, card.objections_upheld, card.objections_rejected) == (3, 1, 1)
    assert card.objections_overdue == 1 and card.decision_overdue == 1
    assert card.objections_per_10k == 10000.0 and card.upheld_per_10k == 3333.33
    assert card.median_hours_to_decide == 18.0 and card.median_hours_to_correct == 6.0
    assert card.last_push_at == shanghai("2026-03-10 09:00")
    license_ = items["business-license"]
    assert (license_.records_held, license_.on_time, license_.late, license_.completeness) == (1, 1, 0, 0.0)
    assert license_.objections_filed == 0 and license_.objections_per_10k == 0.0
    assert departments["NH-GAJ"].pushes == 5 and departments["NH-GAJ"].rejected == 1
    assert departments["NH-SCJ"].pushes == 1 and departments["NH-SCJ"].median_hours_to_decide is None


def test_the_period_selects_the_pushes_and_objections_it_covers(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    _, items = _by_code(quality.quality_report(session, start=date(2026, 3, 9), end=date(2026, 3, 10), now=clock()))
    card = items["id-card"]
    assert (card.new, card.on_time, card.late, card.rejected) == (2, 2, 0, 0)
    assert card.objections_filed == 0
    assert card.records_held == 3  # held records are as of now, whatever the period


def test_pushes_after_the_last_refresh_count_at_once(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    push_record(session, clock, item="id-card", record_no="F", subject_id=PERSON, subject_name="张三",
                fields=id_card_fields(name="张三"))
    push_rejected(session, clock, item="id-card", record_no="Y")
    _, items = _by_code(quality.quality_report(session, **MARCH, now=clock()))
    assert (items["id-card"].new, items["id-card"].on_time, items["id-card"].rejected) == (5, 5, 2)
    assert items["id-card"].last_push_at == clock()


def test_an_incremental_refresh_counts_as_a_full_one(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    clock.advance(hours=1)
    push_record(session, clock, item="id-card", record_no="F", subject_id=PERSON, subject_name="张三",
                fields=id_card_fields(name="张三"))
    clock.advance(days=1)
    push_rejected(session, clock, item="id-card", record_no="Y")
    report = quality.refresh(session, now=clock())
    assert (report.versions, report.rejections) == (1, 1)
    # Only the days of the new rows and of the last refresh are rebuilt, not the week before.
    assert report.first_day == date(2026, 3, 13) and report.last_day == date(2026, 3, 14)
    incremental = sorted(tuple(getattr(r, c) for c in ("day", "catalog_item_id", "versions", "on_time", "late",
                                                        "rejected")) for r in session.scalars(select(QualityDaily)))
    quality.refresh(session, now=clock(), full=True)
    full = sorted(tuple(getattr(r, c) for c in ("day", "catalog_item_id", "versions", "on_time", "late",
                                                 "rejected")) for r in session.scalars(select(QualityDaily)))
    assert incremental == full
    assert session.scalar(select(func.sum(QualityDaily.versions))) == 7


def _snapshots(session):
    return sorted((s.catalog_item_id, s.records_held, s.optional_total, s.optional_filled)
                  for s in session.scalars(select(QualityItemSnapshot)))


def test_held_records_and_completeness_follow_changes_by_difference(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    clock.advance(hours=2)
    push_record(session, clock, item="id-card", record_no="C", subject_id=PERSON, subject_name="张三",
                fields=id_card_fields(name="张三", height_cm=180))  # C now fills address and height: 2/3
    revoke_record(session, clock, item="id-card", record_no="A")  # A (1/3) no longer held
    push_record(session, clock, item="id-card", record_no="F", subject_id=PERSON, subject_name="张三",
                fields=id_card_fields(name="张三"))  # F new: 1/3
    report = quality.refresh(session, now=clock())
    assert (report.records, report.items) == (3, 1)
    _, items = _by_code(quality.quality_report(session, **MARCH, now=clock()))
    assert (items["id-card"].records_held, items["id-card"].optional_filled, items["id-card"].optional_total) == (
        3, 3 + 2 + 1, 9)
    incremental = _snapshots(session)
    quality.refresh(session, now=clock(), full=True)
    assert _snapshots(session) == incremental


def test_a_refresh_with_nothing_new_changes_nothing(session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    before = quality.quality_report(session, **MARCH, now=clock())
    report = quality.refresh(session, now=clock())
    assert (report.versions, report.rejections, report.items) == (0, 0, 0)
    after = quality.quality_report(session, **MARCH, now=clock())
    assert _by_code(before)[1]["id-card"] == _by_code(after)[1]["id-card"]


def test_a_new_day_rebuilds_every_snapshot_so_expired_records_drop_out(session, clock):
    quality_world(session, clock)
    push_record(session, clock, item="id-card", record_no="G", subject_id=PERSON, subject_name="张三",
                fields=id_card_fields(name="张三"), valid_until="2026-03-13")
    quality.refresh(session, now=clock())
    assert _by_code(quality.quality_report(session, **MARCH, now=clock()))[1]["id-card"].records_held == 4
    clock.advance(days=1)
    assert quality.refresh(session, now=clock()).items == 2
    assert _by_code(quality.quality_report(session, **MARCH, now=clock()))[1]["id-card"].records_held == 3


def test_an_empty_or_overlong_period_is_refused(session, clock):
    with pytest.raises(ValidationError):
        quality.quality_report(session, start=date(2026, 3, 2), end=date(2026, 3, 2), now=clock())
    with pytest.raises(ValidationError):
        quality.quality_report(session, start=date(2020, 1, 1), end=date(2026, 3, 2), now=clock())


def test_the_refresh_command_counts_and_says_what_it_did(app, session, clock):
    quality_world(session, clock)
    result = app.test_cli_runner().invoke(args=["quality", "refresh"])
    assert result.exit_code == 0, result.output
    assert "6 versions and 1 rejections counted" in result.output and "2 item snapshots rebuilt" in result.output
    again = app.test_cli_runner().invoke(args=["quality", "refresh", "--full"])
    assert again.exit_code == 0 and "days rebuilt 2026-03-06..2026-03-10 (3 with pushes)" in again.output
