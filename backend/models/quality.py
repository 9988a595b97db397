from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime


class QualityDaily(Base):
    """What one department pushed for one catalog item on one Asia/Shanghai day, counted by `quality refresh`.

    Rebuilt whole for every day the refresh touches, from `record_versions` and `record_rejections`;
    `catalog_item_id` is None for rejections that named no known item (they count for the department only).
    """

    __tablename__ = "quality_daily"
    __table_args__ = (Index("ix_quality_daily_day_department", "day", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    versions: Mapped[int] = mapped_column(Integer)  # accepted pushes that added a version (new, change, revoke)
    new: Mapped[int] = mapped_column(Integer)
    change: Mapped[int] = mapped_column(Integer)
    revoke: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)
    timeliness_unknown: Mapped[int] = mapped_column(Integer)  # the calendar of the deadline's year was unknown
    rejected: Mapped[int] = mapped_column(Integer)
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QualityItemSnapshot(Base):
    """Per catalog item, the records held and the completeness of their latest versions, at `computed_at`."""

    __tablename__ = "quality_item_snapshots"

    catalog_item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"), primary_key=True,
                                                 autoincrement=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    records_held: Mapped[int] = mapped_column(Integer)  # valid today: not revoked, within valid_from..valid_until
    optional_total: Mapped[int] = mapped_column(Integer)  # optional fields of their specs, summed over the records
    optional_filled: Mapped[int] = mapped_column(Integer)  # of those, the ones holding a value
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QualityRecordState(Base):
    """What one record adds to its item's snapshot, as of the last refresh that touched it.

    Kept so that a refresh updates the snapshots by the difference of the records that changed, instead of
    re-reading every record (and its latest version) of the items they belong to; once a day the snapshots
    are summed again from this narrow table, as validity begins and ends with the date.
    """

    __tablename__ = "quality_record_states"

    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), primary_key=True, autoincrement=False)
    catalog_item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    valid: Mapped[bool] = mapped_column(Boolean)  # not revoked
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    optional_total: Mapped[int] = mapped_column(Integer)  # optional fields in the spec of its latest version
    optional_filled: Mapped[int] = mapped_column(Integer)  # of those, the ones holding a value

    def is_held_on(self, day: date) -> bool:
        """Counted as held on `day`: not revoked, and `day` within its validity (both ends inclusive)."""
        return held_on(self.valid, self.valid_from, self.valid_until, day)


def held_on(valid: bool, valid_from: date | None, valid_until: date | None, day: date) -> bool:
    """The rule of `Record.is_valid_on`, on the values a state row keeps."""
    return bool(valid) and (valid_from is None or valid_from <= day) and (valid_until is None or day <= valid_until)


class QualityState(Base):
    """A single row: how far `quality refresh` has counted (ids of versions and rejections) and when.

    A refresh locks it first, so two refreshes never rebuild the same days at once.
    """

    __tablename__ = "quality_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version_id: Mapped[int] = mapped_column(BigInteger)
    rejection_id: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    snapshot_day: Mapped[date | None] = mapped_column(Date)  # the Shanghai day every item snapshot was last rebuilt
