"""The data administrator loads a year's holiday schedule, corrects single days and sees what is missing."""

from __future__ import annotations

from backend.models import Role
from backend.openapi import build_document
from tests.factories import admin_headers, bearer, login_staff, make_department, make_staff

SCHEDULE_2027 = {  # test data in the shape of an official schedule; not the real 2027 one
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-02-06", "2027-02-07", "2027-02-08"],
    "workdays": ["2027-02-20"],
}


def test_calendar_needs_a_logged_in_data_admin(client, session, clock):
    assert client.get("/api/admin/calendar").status_code == 401
    assert client.put("/api/admin/calendar/2027", json=SCHEDULE_2027).status_code == 401
    make_department(session, clock)
    make_staff(session, clock, username="counter1", role=Role.COUNTER_STAFF, department="NH-SCJ")
    headers = bearer(login_staff(client, "counter1"))
    for response in (client.get("/api/admin/calendar", headers=headers),
                     client.get("/api/admin/calendar/2026", headers=headers),
                     client.put("/api/admin/calendar/2027", json=SCHEDULE_2027, headers=headers),
                     client.put("/api/admin/calendar/days/2026-03-03", json={"kind": "holiday"}, headers=headers)):
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"


def test_overview_lists_known_years_and_the_missing_ones(client, session, clock):
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/calendar", headers=headers).get_json()
    assert body["today"] == "2026-03-02"
    assert body["missing"] == [2027, 2028]
    assert {"year": 2026, "source": "bundled", "loaded_at": None, "loaded_by": None} in body["years"]
    assert client.get("/api/admin/calendar?ahead=0", headers=headers).get_json()["missing"] == []


def test_load_year_answers_the_year_and_fills_the_gap(client, session, clock):
    headers = admin_headers(client, session, clock)
    response = client.put("/api/admin/calendar/2027", json=SCHEDULE_2027, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["year"] == 2027 and body["source"] == "loaded"
    assert body["loaded_at"] == "2026-03-02T10:00:00+08:00"
    assert body["loaded_by"].startswith("staff:")
    assert [d["date"] for d in body["holidays"]] == SCHEDULE_2027["holidays"]
    assert body["workdays"] == [{"date": "2027-02-20", "name": None}]
    assert body["corrections"] == []
    assert client.get("/api/admin/calendar/2027", headers=headers).get_json() == body
    overview = client.get("/api/admin/calendar", headers=headers).get_json()
    assert overview["missing"] == [2028]
    assert {"year": 2027, "source": "loaded", "loaded_at": body["loaded_at"], "loaded_by": body["loaded_by"]} \
        in overview["years"]


def test_bundled_year_shows_the_package_schedule(client, session, clock):
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/calendar/2026", headers=headers).get_json()
    assert body["source"] == "bundled" and body["loaded_at"] is None
    assert {"date": "2026-10-01", "name": "国庆节"} in body["holidays"]
    assert {"date": "2026-10-10", "name": "国庆节"} in body["workdays"]
    assert [d["date"] for d in body["workdays"]] == ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09",
                                                      "2026-09-20", "2026-10-10"]


def test_unknown_year_answers_calendar_unknown(client, session, clock):
    headers = admin_headers(client, session, clock)
    response = client.get("/api/admin/calendar/2027", headers=headers)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "calendar_unknown"
    assert "PUT /api/admin/calendar/2027" in error["message"]
    response = client.put("/api/admin/calendar/days/2027-01-04", json={"kind": "holiday"}, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "calendar_unknown"


def test_load_year_errors_name_each_field(client, session, clock):
    headers = admin_headers(client, session, clock)
    response = client.put("/api/admin/calendar/2027", headers=headers, json={
        "holidays": ["2027-01-01", "2026-12-31"], "workdays": ["2027-01-04"]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"] == {
        "holidays.1": "2026-12-31 is not in 2027",
        "workdays.0": "2027-01-04 is a Monday; an adjusted working day is a Saturday or Sunday",
    }
    response = client.put("/api/admin/calendar/2027", headers=headers, json={"holidays": ["2027-13-01"]})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"holidays.0", "workdays"}
    assert client.get("/api/admin/calendar/2027", headers=headers).status_code == 409


def test_correct_day_and_remove_the_correction(client, session, clock):
    headers = admin_headers(client, session, clock)
    response = client.put("/api/admin/calendar/days/2026-03-03", headers=headers,
                          json={"kind": "holiday", "note": "台风停工"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"date": "2026-03-03", "is_workday": False, "source": "correction", "name": None,
                                   "note": "台风停工"}
    corrections = client.get("/api/admin/calendar/2026", headers=headers).get_json()["corrections"]
    assert [(c["date"], c["kind"], c["note"]) for c in corrections] == [("2026-03-03", "holiday", "台风停工")]
    assert corrections[0]["corrected_at"] == "2026-03-02T10:00:00+08:00"

    response = client.put("/api/admin/calendar/days/2026-03-03", headers=headers, json={"kind": "normal"})
    assert response.get_json() == {"date": "2026-03-03", "is_workday": True, "source": "week", "name": None,
                                   "note": None}
    assert client.get("/api/admin/calendar/days/2026-10-10", headers=headers).get_json() == {
        "date": "2026-10-10", "is_workday": True, "source": "bundled", "name": "国庆节", "note": None}


def test_correct_day_refuses_a_bad_date_or_kind(client, session, clock):
    headers = admin_headers(client, session, clock)
    for path in ("2026-02-30", "20260303", "today"):
        response = client.put(f"/api/admin/calendar/days/{path}", headers=headers, json={"kind": "holiday"})
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"] == {"day": "must be a date: YYYY-MM-DD"}
    response = client.put("/api/admin/calendar/days/2026-03-03", headers=headers, json={"kind": "off"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"kind"}


def test_calendar_routes_are_in_the_api_document(app):
    paths = build_document(app)["paths"]
    assert set(paths["/api/admin/calendar/{year}"]) == {"get", "put"}
    assert set(paths["/api/admin/calendar/days/{day}"]) == {"get", "put"}
    assert "ahead" in [p["name"] for p in paths["/api/admin/calendar"]["get"]["parameters"]]
