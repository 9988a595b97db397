"""Commands under `flask --app backend`."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.demo_people import DEMO_APPLICANTS
from backend.models import AuditEvent, Department, PushRequest, Record, RecordVersion, Role, StaffAccount
from tests.factories import login_staff


def test_create_admin_reads_the_password_from_stdin(app, client, session):
    result = app.test_cli_runner().invoke(args=["create-admin", "chief"], input="Str0ng-enough-pass\n")
    assert result.exit_code == 0, result.output
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == "chief"))
    assert account.role is Role.DATA_ADMIN and account.department is None
    assert "Str0ng-enough-pass" not in account.password_hash
    assert login_staff(client, "chief", "Str0ng-enough-pass")["account"]["role"] == "data_admin"


def test_create_admin_refuses_a_weak_password_or_a_taken_name(app, session):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-admin", "chief"], input="short\n")
    assert weak.exit_code != 0 and "too short" in weak.output
    assert session.scalar(select(func.count(StaffAccount.id))) == 0
    assert runner.invoke(args=["create-admin", "chief"], input="Str0ng-enough-pass\n").exit_code == 0
    again = runner.invoke(args=["create-admin", "chief"], input="Str0ng-enough-pass\n")
    assert again.exit_code != 0 and "taken" in again.output


def test_seed_demo_loads_the_district_and_a_second_run_changes_nothing(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    names = set(session.scalars(select(Department.name)))
    assert {"佛山市南海区市场监督管理局", "佛山市公安局南海分局", "佛山市南海区民政局", "佛山市南海区自然资源局",
            "佛山市南海区人力资源和社会保障局", "佛山市南海区政务服务数据管理局"} <= names
    roles = {a.role for a in session.scalars(select(StaffAccount))}
    assert roles == {Role.DATA_ADMIN, Role.DEPT_OPERATOR, Role.COUNTER_STAFF}
    assert all(f"{a.name} {a.id_number}" in first.output for a in DEMO_APPLICANTS)
    models = (Department, StaffAccount, AuditEvent, Record, RecordVersion, PushRequest)
    counts = [session.scalar(select(func.count()).select_from(model)) for model in models]
    assert counts[3] > 1000
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    assert [session.scalar(select(func.count()).select_from(model)) for model in models] == counts
