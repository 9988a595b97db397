"""Every failure answers the one JSON error shape; health, logs and the API document."""

from __future__ import annotations

import json

import pytest
from flask import Blueprint

from backend import create_app
from backend.openapi import undocumented_routes
from tests.conftest import settings_for
from tests.factories import PASSWORD, bearer, login_staff, make_staff


def _is_error(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_unknown_path_is_a_json_404(client):
    _is_error(client.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.delete("/healthz")
    _is_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_a_json_413(client):
    response = client.post("/api/staff/login", data="x" * (9 * 1024 * 1024), content_type="application/json")
    _is_error(response, 413, "request_entity_too_large")


def test_malformed_json_is_a_400(client):
    _is_error(client.post("/api/staff/login", data="{not json", content_type="application/json"), 400,
              "malformed_json")
    _is_error(client.post("/api/staff/login", json=["a", "list"]), 400, "malformed_json")


def test_unknown_and_missing_fields_are_named(client):
    error = _is_error(client.post("/api/staff/login", json={"username": "a", "pasword": "x"}), 422,
                      "validation_failed")
    assert error["fields"] == {"password": "is required", "pasword": "is not a known field"}


def test_missing_bearer_is_a_json_401(client):
    _is_error(client.get("/api/staff/me"), 401, "unauthorized")
    _is_error(client.get("/api/staff/me", headers={"Authorization": "Bearer nonsense"}), 401, "invalid_token")


def test_unexpected_exception_is_a_json_500_without_a_stack_trace(tmp_path, clock, capsys):
    app = create_app(settings_for(tmp_path), clock=clock)
    boom = Blueprint("boom", __name__)

    @boom.get("/boom")
    def explode():
        raise RuntimeError("secret internals 440304199003072638")

    app.register_blueprint(boom)
    response = app.test_client().get("/boom")
    error = _is_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] in error["message"]
    logged = capsys.readouterr().out
    assert "RuntimeError" in logged and "440304199003072638" not in logged


def test_healthz_round_trips_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_503_when_the_database_is_gone(tmp_path, clock):
    app = create_app(settings_for(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"),
                     clock=clock)
    _is_error(app.test_client().get("/healthz"), 503, "database_unavailable")


def test_logs_are_json_with_request_ids_and_no_personal_data(client, session, clock, capsys):
    make_staff(session, clock, username="zhang.san")
    capsys.readouterr()
    tokens = login_staff(client, "zhang.san")
    client.get("/api/staff/me", headers={**bearer(tokens), "X-Request-ID": "trace-abc-123"})
    client.post("/api/staff/login", json={"username": "zhang.san", "password": "440304199003072638"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines, "requests are logged"
    assert all(line["request_id"] for line in lines)
    assert any(line["request_id"] == "trace-abc-123" and line["path"] == "/api/staff/me" for line in lines)
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (tokens["access_token"], tokens["refresh_token"], PASSWORD, "440304199003072638"):
        assert secret not in text


def test_every_route_is_in_the_openapi_document(app, client):
    assert undocumented_routes(app) == []
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "docs.asset"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<path:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {rule.rule} missing from the document"
    login = document["paths"]["/api/staff/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["required"] == ["username", "password"]
    assert "access_token" in login["responses"]["200"]["content"]["application/json"]["schema"]["properties"]


def test_the_openapi_document_is_valid_openapi(client):
    from openapi_spec_validator import validate

    validate(client.get("/api/openapi.json").get_json())


def test_an_undocumented_route_is_caught(tmp_path, clock):
    app = create_app(settings_for(tmp_path), clock=clock)
    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/api/secret", "secret", lambda: "x", methods=["POST"])
    app.register_blueprint(extra)
    assert undocumented_routes(app) == ["POST /api/secret"]


@pytest.mark.parametrize("asset", ["swagger-ui.css", "swagger-ui-bundle.js"])
def test_docs_page_is_served_locally(client, asset):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html and "http://" not in html and "https://" not in html
    assert client.get(f"/api/docs/{asset}").status_code == 200
