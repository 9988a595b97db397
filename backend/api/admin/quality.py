"""Quality per department and catalog item, and the annual KPI sheet: JSON, or CSV that Excel opens as it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from flask import Response
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import staff_required
from auth.schemas import DepartmentRef
from backend.api.admin import bp
from backend.api.catalog import department_ref
from backend.clock import iso
from backend.db import db
from backend.models import CatalogItem, Department, Role
from backend.openapi import documented
from backend.services import quality
from backend.services.quality import Figures, KpiSheet, QualityReport
from backend.web import Body, now, parse_query

T = TypeVar("T")

# A cell Excel would run as a formula starts with one of these; a leading apostrophe keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class QualityQuery(Body):
    start: date | None = Field(None, alias="from", description="first day (Asia/Shanghai); default 30 days before `to`")
    end: date | None = Field(None, alias="to", description="the day after the last (Asia/Shanghai); default tomorrow")
    format: Literal["json", "csv"] = "json"


class QualityCsvQuery(Body):
    start: date | None = Field(None, alias="from", description="first day (Asia/Shanghai); default 30 days before `to`")
    end: date | None = Field(None, alias="to", description="the day after the last (Asia/Shanghai); default tomorrow")


class KpiQuery(Body):
    year: int = Field(description="the calendar year assessed")
    format: Literal["json", "csv"] = "json"


class KpiCsvQuery(Body):
    year: int = Field(description="the calendar year assessed")


class PushesJSON(TypedDict):
    total: int
    new: int
    change: int
    revoke: int
    on_time: int
    late: int
    unknown: int
    on_time_rate: float | None


class RejectionsJSON(TypedDict):
    rejected: int
    rate: float | None


class CompletenessJSON(TypedDict):
    optional_fields: int
    filled: int
    rate: float | None


class ObjectionsJSON(TypedDict):
    filed: int
    upheld: int
    rejected: int
    overdue: int
    decision_overdue: int
    correction_overdue: int
    per_10k_records: float | None
    upheld_per_10k_records: float | None
    median_hours_to_decide: float | None
    median_hours_to_correct: float | None


class FiguresJSON(TypedDict):
    records_held: int
    pushes: PushesJSON
    rejections: RejectionsJSON
    completeness: CompletenessJSON
    objections: ObjectionsJSON
    last_push_at: str | None
    last_push_age_hours: float | None


class ItemRef(TypedDict):
    code: str
    name: str


class DepartmentQualityJSON(TypedDict):
    department: DepartmentRef
    figures: FiguresJSON


class ItemQualityJSON(TypedDict):
    catalog_item: ItemRef
    department: DepartmentRef
    figures: FiguresJSON


# `from` is a Python keyword: the functional form names it.
PeriodJSON = TypedDict("PeriodJSON", {"from": str, "to": str, "start": "str | None", "end": "str | None"})


class QualityJSON(TypedDict):
    period: PeriodJSON
    generated_at: str | None
    refreshed_at: str | None
    departments: list[DepartmentQualityJSON]
    items: list[ItemQualityJSON]


class KpiRowJSON(TypedDict):
    department: DepartmentRef
    records_held: int
    objections_filed: int
    objections_upheld: int
    objection_rate: float | None
    upheld_rate: float | None
    objections_per_10k_records: float | None
    upheld_per_10k_records: float | None
    objections_overdue: int
    pushes: int
    on_time: int
    late: int
    timeliness_unknown: int
    on_time_rate: float | None
    rejection_rate: float | None
    completeness: float | None


class KpiJSON(TypedDict):
    year: int
    period: PeriodJSON
    generated_at: str | None
    refreshed_at: str | None
    departments: list[KpiRowJSON]


# --- JSON ------------------------------------------------------------------------------------------------

def _age_hours(figures: Figures, at: datetime) -> float | None:
    if figures.last_push_at is None:
        return None
    return round((at - figures.last_push_at).total_seconds() / 3600, 1)


def figures_to_json(figures: Figures, at: datetime) -> FiguresJSON:
    return {
        "records_held": figures.records_held,
        "pushes": {"total": figures.pushes, "new": figures.new, "change": figures.change, "revoke": figures.revoke,
                   "on_time": figures.on_time, "late": figures.late, "unknown": figures.timeliness_unknown,
                   "on_time_rate": figures.on_time_rate},
        "rejections": {"rejected": figures.rejected, "rate": figures.rejection_rate},
        "completeness": {"optional_fields": figures.optional_total, "filled": figures.optional_filled,
                         "rate": figures.completeness},
        "objections": {
            "filed": figures.objections_filed, "upheld": figures.objections_upheld,
            "rejected": figures.objections_rejected, "overdue": figures.objections_overdue,
            "decision_overdue": figures.decision_overdue, "correction_overdue": figures.correction_overdue,
            "per_10k_records": figures.objections_per_10k, "upheld_per_10k_records": figures.upheld_per_10k,
            "median_hours_to_decide": figures.median_hours_to_decide,
            "median_hours_to_correct": figures.median_hours_to_correct,
        },
        "last_push_at": iso(figures.last_push_at),
        "last_push_age_hours": _age_hours(figures, at),
    }


def _item_ref(item: CatalogItem) -> ItemRef:
    return {"code": item.code, "name": item.name}


def _period_to_json(report: QualityReport) -> PeriodJSON:
    return {"from": report.first_day.isoformat(), "to": report.end_day.isoformat(), "start": iso(report.start),
            "end": iso(report.end)}


def quality_to_json(report: QualityReport) -> QualityJSON:
    return {
        "period": _period_to_json(report),
        "generated_at": iso(report.now),
        "refreshed_at": iso(report.refreshed_at),
        "departments": [{"department": department_ref(row.department), "figures": figures_to_json(row.figures,
                                                                                                  report.now)}
                        for row in report.departments],
        "items": [{"catalog_item": _item_ref(row.item), "department": department_ref(row.item.source_department),
                   "figures": figures_to_json(row.figures, report.now)} for row in report.items],
    }


def kpi_row_to_json(department: Department, figures: Figures) -> KpiRowJSON:
    return {
        "department": department_ref(department),
        "records_held": figures.records_held,
        "objections_filed": figures.objections_filed,
        "objections_upheld": figures.objections_upheld,
        "objection_rate": figures.objection_rate,
        "upheld_rate": figures.upheld_rate,
        "objections_per_10k_records": figures.objections_per_10k,
        "upheld_per_10k_records": figures.upheld_per_10k,
        "objections_overdue": figures.objections_overdue,
        "pushes": figures.pushes,
        "on_time": figures.on_time,
        "late": figures.late,
        "timeliness_unknown": figures.timeliness_unknown,
        "on_time_rate": figures.on_time_rate,
        "rejection_rate": figures.rejection_rate,
        "completeness": figures.completeness,
    }


def kpi_to_json(sheet: KpiSheet) -> KpiJSON:
    report = sheet.report
    return {
        "year": sheet.year,
        "period": _period_to_json(report),
        "generated_at": iso(report.now),
        "refreshed_at": iso(report.refreshed_at),
        "departments": [kpi_row_to_json(row.department, row.figures) for row in sheet.departments],
    }


# --- CSV -------------------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def _percent(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value * 100:.{digits}f}%"


def csv_response(columns: Sequence[tuple[str, Callable[[T], Any]]], rows: Iterable[T], filename: str) -> Response:
    """A CSV download Excel opens correctly: UTF-8 with a BOM, CRLF line ends, the headers as given (Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([label for label, _ in columns])
    for row in rows:
        writer.writerow([_cell(value(row)) for _, value in columns])
    response = Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


QualityRow = tuple[str, Department, CatalogItem | None, Figures]

_FIGURE_COLUMNS: list[tuple[str, Callable[[Figures], Any]]] = [
    ("在库有效记录数", lambda f: f.records_held),
    ("推送数", lambda f: f.pushes),
    ("按时推送数", lambda f: f.on_time),
    ("迟报推送数", lambda f: f.late),
    ("时效未知推送数", lambda f: f.timeliness_unknown),
    ("推送及时率", lambda f: _percent(f.on_time_rate)),
    ("被拒记录数", lambda f: f.rejected),
    ("推送拒绝率", lambda f: _percent(f.rejection_rate)),
    ("可选字段数", lambda f: f.optional_total),
    ("已填可选字段数", lambda f: f.optional_filled),
    ("数据完整率", lambda f: _percent(f.completeness)),
    ("异议数", lambda f: f.objections_filed),
    ("异议成立数", lambda f: f.objections_upheld),
    ("异议驳回数", lambda f: f.objections_rejected),
    ("逾期异议数", lambda f: f.objections_overdue),
    ("每万条记录异议数", lambda f: f.objections_per_10k),
    ("每万条记录异议成立数", lambda f: f.upheld_per_10k),
    ("异议决定用时中位数（小时）", lambda f: f.median_hours_to_decide),
    ("异议更正用时中位数（小时）", lambda f: f.median_hours_to_correct),
]


def _quality_csv(report: QualityReport) -> Response:
    def figure(get: Callable[[Figures], Any]) -> Callable[[QualityRow], Any]:
        return lambda row: get(row[3])

    columns: list[tuple[str, Callable[[QualityRow], Any]]] = [
        ("层级", lambda row: row[0]),
        ("部门代码", lambda row: row[1].code),
        ("部门名称", lambda row: row[1].name),
        ("目录项编码", lambda row: row[2].code if row[2] else None),
        ("目录项名称", lambda row: row[2].name if row[2] else None),
        *[(label, figure(get)) for label, get in _FIGURE_COLUMNS],
        ("最近推送时间", lambda row: iso(row[3].last_push_at)),
        ("距最近推送（小时）", lambda row: _age_hours(row[3], report.now)),
    ]
    rows: list[QualityRow] = [("部门", d.department, None, d.figures) for d in report.departments]
    rows += [("目录项", i.item.source_department, i.item, i.figures) for i in report.items]
    return csv_response(columns, rows, f"quality-{report.first_day.isoformat()}-{report.end_day.isoformat()}.csv")


_KPI_COLUMNS: list[tuple[str, Callable[[KpiRowJSON], Any]]] = [
    ("部门代码", lambda r: r["department"]["code"]),
    ("部门名称", lambda r: r["department"]["name"]),
    ("在库有效记录数", lambda r: r["records_held"]),
    ("异议数", lambda r: r["objections_filed"]),
    ("异议成立数", lambda r: r["objections_upheld"]),
    ("数据异议率（异议数/记录数）", lambda r: _percent(r["objection_rate"], 4)),
    ("异议成立率（异议成立数/记录数）", lambda r: _percent(r["upheld_rate"], 4)),
    ("每万条记录异议数", lambda r: r["objections_per_10k_records"]),
    ("每万条记录异议成立数", lambda r: r["upheld_per_10k_records"]),
    ("逾期异议数", lambda r: r["objections_overdue"]),
    ("推送数", lambda r: r["pushes"]),
    ("按时推送数", lambda r: r["on_time"]),
    ("迟报推送数", lambda r: r["late"]),
    ("时效未知推送数", lambda r: r["timeliness_unknown"]),
    ("推送及时率", lambda r: _percent(r["on_time_rate"])),
    ("推送拒绝率", lambda r: _percent(r["rejection_rate"])),
    ("数据完整率", lambda r: _percent(r["completeness"])),
]


def _kpi_csv(sheet: KpiSheet) -> Response:
    rows = [kpi_row_to_json(row.department, row.figures) for row in sheet.departments]
    return csv_response(_KPI_COLUMNS, rows, f"kpi-{sheet.year}.csv")


# --- views -----------------------------------------------------------------------------------------------

@bp.get("/quality")
@staff_required(Role.DATA_ADMIN)
@documented("Quality per department and catalog item: timeliness, rejections, completeness, objections "
            "(`format=csv` for Excel)", auth="staff", query=QualityQuery, response=QualityJSON, errors=(403,))
def quality_report() -> QualityJSON | Response:
    query = parse_query(QualityQuery)
    report = quality.quality_report(db.session(), start=query.start, end=query.end, now=now())
    return _quality_csv(report) if query.format == "csv" else quality_to_json(report)


@bp.get("/quality.csv")
@staff_required(Role.DATA_ADMIN)
@documented("Quality per department and catalog item as CSV (UTF-8 with BOM, Chinese headers)", auth="staff",
            query=QualityCsvQuery, content_type="text/csv", errors=(403,))
def quality_report_csv() -> Response:
    query = parse_query(QualityCsvQuery)
    return _quality_csv(quality.quality_report(db.session(), start=query.start, end=query.end, now=now()))


@bp.get("/kpi")
@staff_required(Role.DATA_ADMIN)
@documented("The annual KPI sheet per source department: 数据异议率 and timeliness (`format=csv` for Excel)",
            auth="staff", query=KpiQuery, response=KpiJSON, errors=(403,))
def kpi_sheet() -> KpiJSON | Response:
    query = parse_query(KpiQuery)
    sheet = quality.kpi_sheet(db.session(), year=query.year, now=now())
    return _kpi_csv(sheet) if query.format == "csv" else kpi_to_json(sheet)


@bp.get("/kpi.csv")
@staff_required(Role.DATA_ADMIN)
@documented("The annual KPI sheet as CSV (UTF-8 with BOM, Chinese headers)", auth="staff", query=KpiCsvQuery,
            content_type="text/csv", errors=(403,))
def kpi_sheet_csv() -> Response:
    query = parse_query(KpiCsvQuery)
    return _kpi_csv(quality.kpi_sheet(db.session(), year=query.year, now=now()))
