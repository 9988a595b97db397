"""Quality and KPI for the data administrator: JSON, CSV that Excel opens, admin only."""

from __future__ import annotations

import csv
import io

import pytest

from backend.models import Role
from backend.services import quality
from tests.factories import admin_headers, bearer, login_staff, make_staff
from tests.oversight import quality_world

BOM = b"\xef\xbb\xbf"


def _csv_rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(BOM)
    text = raw[len(BOM):].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("path", ["/api/admin/quality", "/api/admin/quality.csv", "/api/admin/kpi?year=2026",
                                  "/api/admin/kpi.csv?year=2026", "/api/admin/conflicts", "/api/admin/audit",
                                  "/api/admin/audit/verify", "/api/admin/audit/checkpoints"])
def test_oversight_is_for_the_data_administrator_only(client, session, clock, path):
    assert client.get(path).status_code == 401
    quality_world(session, clock)
    make_staff(session, clock, username="operator", role=Role.DEPT_OPERATOR, department="NH-GAJ")
    response = client.get(path, headers=bearer(login_staff(client, "operator")))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/admin/audit/search", json={}, headers=bearer(login_staff(client, "operator"))
                       ).status_code == 403


def test_quality_answers_per_department_and_item(client, session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/quality?from=2026-03-01&to=2026-04-01", headers=headers).get_json()
    assert body["period"]["from"] == "2026-03-01" and body["period"]["start"] == "2026-03-01T00:00:00+08:00"
    assert body["refreshed_at"] == "2026-03-13T10:00:00+08:00"
    card = next(i for i in body["items"] if i["catalog_item"]["code"] == "id-card")
    assert card["department"] == {"code": "NH-GAJ", "name": "公安分局"}
    figures = card["figures"]
    assert figures["records_held"] == 3
    assert figures["pushes"] == {"total": 5, "new": 4, "change": 0, "revoke": 1, "on_time": 4, "late": 1,
                                 "unknown": 0, "on_time_rate": 0.8}
    assert figures["rejections"] == {"rejected": 1, "rate": 0.1667}
    assert figures["completeness"] == {"optional_fields": 9, "filled": 4, "rate": 0.4444}
    assert figures["objections"]["filed"] == 3 and figures["objections"]["overdue"] == 1
    assert figures["last_push_at"] == "2026-03-10T09:00:00+08:00" and figures["last_push_age_hours"] == 73.0
    assert [d["department"]["code"] for d in body["departments"]] == ["NH-GAJ", "NH-SCJ"]


def test_quality_csv_opens_in_excel_with_chinese_headers(client, session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    headers = admin_headers(client, session, clock)
    for path in ("/api/admin/quality?from=2026-03-01&to=2026-04-01&format=csv",
                 "/api/admin/quality.csv?from=2026-03-01&to=2026-04-01"):
        rows = _csv_rows(client.get(path, headers=headers))
        header = rows[0]
        assert header[:5] == ["层级", "部门代码", "部门名称", "目录项编码", "目录项名称"]
        assert "推送及时率" in header and "数据完整率" in header and "每万条记录异议数" in header
        card = next(dict(zip(header, row, strict=True)) for row in rows[1:] if row[3] == "id-card")
        assert (card["层级"], card["部门名称"], card["目录项名称"]) == ("目录项", "公安分局", "居民身份证")
        assert (card["在库有效记录数"], card["迟报推送数"], card["推送及时率"], card["数据完整率"]) == (
            "3", "1", "80.00%", "44.44%")
        assert [row[0] for row in rows[1:]].count("部门") == 2


def test_kpi_sheet_gives_objection_rates_and_timeliness(client, session, clock):
    quality_world(session, clock)
    quality.refresh(session, now=clock())
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/kpi?year=2026", headers=headers).get_json()
    assert body["year"] == 2026 and body["period"] == {
        "from": "2026-01-01", "to": "2027-01-01", "start": "2026-01-01T00:00:00+08:00",
        "end": "2027-01-01T00:00:00+08:00"}
    gaj = next(row for row in body["departments"] if row["department"]["code"] == "NH-GAJ")
    assert (gaj["records_held"], gaj["objections_filed"], gaj["objections_upheld"]) == (3, 3, 1)
    assert gaj["objection_rate"] == 1.0 and gaj["upheld_rate"] == 0.333333
    assert (gaj["on_time"], gaj["late"], gaj["on_time_rate"]) == (4, 1, 0.8)
    scj = next(row for row in body["departments"] if row["department"]["code"] == "NH-SCJ")
    assert (scj["objection_rate"], scj["on_time_rate"]) == (0.0, 1.0)
    rows = _csv_rows(client.get("/api/admin/kpi.csv?year=2026", headers=headers))
    assert rows[0][:2] == ["部门代码", "部门名称"] and "数据异议率（异议数/记录数）" in rows[0]
    sheet = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert sheet["NH-GAJ"]["数据异议率（异议数/记录数）"] == "100.0000%"
    assert sheet["NH-GAJ"]["异议成立率（异议成立数/记录数）"] == "33.3333%"
    assert sheet["NH-GAJ"]["推送及时率"] == "80.00%"
    assert _csv_rows(client.get("/api/admin/kpi?year=2026&format=csv", headers=headers)) == rows


def test_kpi_of_a_future_year_is_refused(client, session, clock):
    headers = admin_headers(client, session, clock)
    response = client.get("/api/admin/kpi?year=2099", headers=headers)
    assert response.status_code == 422 and "year" in response.get_json()["error"]["fields"]


def test_csv_cells_never_run_as_formulas(client, session, clock):
    from backend.api.admin.quality import csv_response

    with client.application.test_request_context():
        response = csv_response([("名称", lambda row: row)], ["=HYPERLINK(\"x\")", "-1", "普通", -1], "x.csv")
    assert [row[0] for row in _csv_rows(response)[1:]] == ["'=HYPERLINK(\"x\")", "'-1", "普通", "-1"]


def test_before_any_refresh_pushes_count_live_and_refreshed_at_is_null(client, session, clock):
    quality_world(session, clock)
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/quality?from=2026-03-01&to=2026-04-01", headers=headers).get_json()
    assert body["refreshed_at"] is None
    card = next(i for i in body["items"] if i["catalog_item"]["code"] == "id-card")["figures"]
    assert (card["pushes"]["total"], card["pushes"]["late"], card["rejections"]["rejected"]) == (5, 1, 1)
    assert card["records_held"] == 0 and card["objections"]["per_10k_records"] is None
