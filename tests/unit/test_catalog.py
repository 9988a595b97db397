"""Catalog items: the field spec rules, draft → published → next version → retired, and the public figures."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from backend.db import db
from backend.demo import seed
from backend.demo_catalog import CATALOG, SERVICE_ITEMS
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import (
    AuditEvent,
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    Department,
    ItemKind,
    Material,
    RecordStatus,
    ServiceItem,
    StaffAccount,
    SubjectType,
)
from backend.services import catalog
from backend.services.audit import SYSTEM
from tests.factories import (
    catalog_item_spec,
    insert_record_row,
    make_catalog_item,
    make_department,
    make_service_item,
)


@pytest.fixture
def scj(session, clock):
    return make_department(session, clock)


def _create(session, clock, **overrides: Any) -> CatalogItem:
    return catalog.create_item(session, actor=SYSTEM, now=clock(), **catalog_item_spec(**overrides))


def _edit(session, clock, item: CatalogItem, **overrides: Any) -> CatalogItem:
    spec = catalog_item_spec(**overrides)
    spec["code"] = item.code
    return catalog.update_item(session, actor=SYSTEM, now=clock(), **spec)


def _fields_with(index: int, **changes: Any) -> list[dict[str, Any]]:
    fields = copy.deepcopy(catalog_item_spec()["fields"])
    for attribute, value in changes.items():
        if value is ...:
            fields[index].pop(attribute, None)
        else:
            fields[index][attribute] = value
    return fields


def test_create_item_makes_a_draft_with_the_spec_in_stored_form(session, clock, scj):
    item = _create(session, clock)
    assert item.status is CatalogStatus.DRAFT and item.current_version is None and item.versions == []
    assert item.source_department.code == "NH-SCJ"
    first = item.draft_fields[0]
    assert first == {"key": "enterprise_name", "label": "名称", "type": "string", "required": True,
                     "sensitive": False, "max_length": 200, "enum": None, "common": "name"}
    assert item.draft_subject_name_field == "enterprise_name"
    event_ = session.scalar(select(AuditEvent).where(AuditEvent.action == "catalog.created"))
    assert event_.target_id == "business-license"


def test_required_and_sensitive_default_to_false(session, clock, scj):
    item = _create(session, clock, fields=[{"key": "name", "label": "姓名", "type": "string"}],
                   subject_name_field=None)
    assert item.draft_fields[0]["required"] is False and item.draft_fields[0]["sensitive"] is False


def test_a_taken_code_is_a_conflict(session, clock, scj):
    _create(session, clock)
    with pytest.raises(Conflict) as caught:
        _create(session, clock, name="另一个")
    assert caught.value.code == "catalog_item_exists"


def test_the_source_department_must_exist_and_be_a_source(session, clock, scj):
    make_department(session, clock, code="NH-ZSJ", name="数据局", is_source=False, is_approval=False)
    with pytest.raises(ValidationError) as unknown:
        _create(session, clock, source_department="NH-XXX")
    assert unknown.value.fields == {"source_department": "no department has this code"}
    with pytest.raises(ValidationError) as not_source:
        _create(session, clock, source_department="NH-ZSJ")
    assert not_source.value.fields == {"source_department": "is not a source department"}
    assert session.scalar(select(func.count(CatalogItem.id))) == 0


INVALID_SPECS = [
    ("key_with_capitals", _fields_with(0, key="Name"), "fields.0.key"),
    ("key_starting_with_digit", _fields_with(1, key="1name"), "fields.1.key"),
    ("key_with_hyphen", _fields_with(1, key="legal-rep"), "fields.1.key"),
    ("key_too_long", _fields_with(0, key="a" * 65), "fields.0.key"),
    ("key_missing", _fields_with(2, key=...), "fields.2.key"),
    ("duplicate_key", _fields_with(1, key="enterprise_name"), "fields.1.key"),
    ("label_missing", _fields_with(0, label=...), "fields.0.label"),
    ("label_blank", _fields_with(0, label="  "), "fields.0.label"),
    ("duplicate_label", _fields_with(1, label="名称"), "fields.1.label"),
    ("unknown_type", _fields_with(2, type="text"), "fields.2.type"),
    ("type_missing", _fields_with(2, type=...), "fields.2.type"),
    ("required_not_boolean", _fields_with(0, required="yes"), "fields.0.required"),
    ("sensitive_not_boolean", _fields_with(0, sensitive=1), "fields.0.sensitive"),
    ("enum_missing_for_enum", _fields_with(3, enum=...), "fields.3.enum"),
    ("enum_empty", _fields_with(3, enum=[]), "fields.3.enum"),
    ("enum_repeated_value", _fields_with(3, enum=["其他", "其他"]), "fields.3.enum"),
    ("enum_not_strings", _fields_with(3, enum=[1, 2]), "fields.3.enum"),
    ("enum_blank_value", _fields_with(3, enum=["有限责任公司", " "]), "fields.3.enum"),
    ("enum_on_a_string", _fields_with(0, enum=["a", "b"]), "fields.0.enum"),
    ("max_length_on_a_date", _fields_with(4, max_length=10), "fields.4.max_length"),
    ("max_length_on_an_enum", _fields_with(3, max_length=10), "fields.3.max_length"),
    ("max_length_zero", _fields_with(0, max_length=0), "fields.0.max_length"),
    ("max_length_above_2000", _fields_with(0, max_length=2001), "fields.0.max_length"),
    ("max_length_not_integer", _fields_with(0, max_length="20"), "fields.0.max_length"),
    ("max_length_boolean", _fields_with(0, max_length=True), "fields.0.max_length"),
    ("common_bad_pattern", _fields_with(0, common="Name"), "fields.0.common"),
    ("duplicate_common", _fields_with(5, common="name"), "fields.5.common"),
    ("unknown_attribute", _fields_with(0, colour="red"), "fields.0.colour"),
    ("field_not_an_object", ["name"], "fields.0"),
    ("no_fields", [], "fields"),
]


@pytest.mark.parametrize(("fields", "key"), [(f, k) for _, f, k in INVALID_SPECS],
                         ids=[name for name, _, _ in INVALID_SPECS])
def test_an_invalid_field_spec_is_refused_naming_the_attribute(session, clock, scj, fields, key):
    with pytest.raises(ValidationError) as caught:
        _create(session, clock, fields=fields, subject_name_field=None)
    assert key in caught.value.fields, caught.value.fields
    assert session.scalar(select(func.count(CatalogItem.id))) == 0


def test_the_subject_name_field_must_name_a_string_field(session, clock, scj):
    with pytest.raises(ValidationError) as unknown:
        _create(session, clock, subject_name_field="nickname")
    assert unknown.value.fields == {"subject_name_field": "names no field of this item"}
    with pytest.raises(ValidationError) as not_string:
        _create(session, clock, subject_name_field="established_on")
    assert not_string.value.fields == {"subject_name_field": "must name a field of type string"}


def test_every_problem_of_a_spec_is_reported_at_once(session, clock, scj):
    fields = _fields_with(0, type="text")
    fields[3]["enum"] = []
    fields[4]["max_length"] = 5
    with pytest.raises(ValidationError) as caught:
        _create(session, clock, fields=fields, subject_name_field="nickname")
    assert set(caught.value.fields) == {"fields.0.type", "fields.3.enum", "fields.4.max_length",
                                        "subject_name_field"}


def test_max_length_at_the_bounds_is_accepted(session, clock, scj):
    item = _create(session, clock, fields=_fields_with(0, max_length=2000) + [
        {"key": "short", "label": "简称", "type": "string", "max_length": 1}])
    assert [f["max_length"] for f in item.draft_fields if f["type"] == "string"][0] == 2000
    assert item.draft_fields[-1]["max_length"] == 1


def test_publishing_freezes_the_draft_as_version_1(session, clock, scj):
    item = _create(session, clock)
    clock.advance(hours=1)
    item = catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert item.status is CatalogStatus.PUBLISHED and item.current_version == 1
    version = catalog.published_version(session, item)
    assert version.version == 1 and version.fields == item.draft_fields
    assert version.subject_name_field == "enterprise_name" and version.published_at == clock()
    assert item.published_at == clock()
    assert not catalog.has_unpublished_changes(item)
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions[-1] == "catalog.published"


def test_publishing_an_unchanged_draft_is_a_conflict(session, clock, scj):
    item = make_catalog_item(session, clock)
    with pytest.raises(Conflict) as caught:
        catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert caught.value.code == "nothing_to_publish"
    assert session.scalar(select(func.count(CatalogVersion.id))) == 1


def test_a_published_spec_is_unchanged_by_later_draft_edits(session, clock, scj):
    item = make_catalog_item(session, clock)
    frozen = copy.deepcopy(catalog.published_version(session, item).fields)
    fields = _fields_with(1, label="法定代表人姓名") + [
        {"key": "registered_capital", "label": "注册资本（万元）", "type": "number"}]
    item = _edit(session, clock, item, fields=fields, name="营业执照（电子）")
    session.expire_all()
    item = catalog.get_item(session, "business-license")
    assert item.status is CatalogStatus.PUBLISHED and item.current_version == 1
    assert catalog.published_version(session, item).fields == frozen
    assert item.name == "营业执照（电子）"  # descriptive: takes effect at once
    assert catalog.has_unpublished_changes(item)
    assert len(item.draft_fields) == len(frozen) + 1

    clock.advance(days=1)
    item = catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert item.current_version == 2
    v1, v2 = item.versions
    assert v1.fields == frozen and v2.fields == item.draft_fields
    assert v2.published_at == clock() and v1.published_at == clock() - timedelta(days=1)
    assert item.published_at == v1.published_at  # first publication (公示) date stays


def test_changing_only_the_subject_name_field_makes_a_new_version(session, clock, scj):
    item = make_catalog_item(session, clock)
    _edit(session, clock, item, subject_name_field="legal_rep_name")
    item = catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert item.current_version == 2
    assert catalog.published_version(session, item).subject_name_field == "legal_rep_name"


def test_a_published_item_keeps_its_kind_subject_type_and_source(session, clock, scj):
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    item = make_catalog_item(session, clock)
    with pytest.raises(ValidationError) as caught:
        _edit(session, clock, item, kind=ItemKind.DATA, subject_type=SubjectType.PERSON, source_department="NH-GAJ")
    assert set(caught.value.fields) == {"kind", "subject_type", "source_department"}


def test_a_draft_may_change_its_source_department_and_kind(session, clock, scj):
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    item = _create(session, clock)
    item = _edit(session, clock, item, source_department="NH-GAJ", kind=ItemKind.DATA)
    assert item.source_department.code == "NH-GAJ" and item.kind is ItemKind.DATA
    assert item.status is CatalogStatus.DRAFT


def test_an_edit_is_checked_like_a_creation(session, clock, scj):
    item = make_catalog_item(session, clock)
    with pytest.raises(ValidationError) as caught:
        _edit(session, clock, item, fields=_fields_with(2, type="text"))
    assert "fields.2.type" in caught.value.fields
    session.expire_all()
    assert not catalog.has_unpublished_changes(catalog.get_item(session, "business-license"))


def test_retiring_keeps_versions_and_is_final(session, clock, scj):
    item = make_catalog_item(session, clock)
    clock.advance(days=3)
    item = catalog.retire_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert item.status is CatalogStatus.RETIRED and item.retired_at == clock()
    assert catalog.published_version(session, item).version == 1  # records keep their spec
    with pytest.raises(Conflict) as again:
        catalog.retire_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert again.value.code == "catalog_item_retired"
    with pytest.raises(Conflict) as publish:
        catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert publish.value.code == "catalog_item_retired"
    with pytest.raises(Conflict) as edit:
        _edit(session, clock, item, name="新名称")
    assert edit.value.code == "catalog_item_retired"


def test_a_draft_cannot_be_retired_and_has_no_published_version(session, clock, scj):
    item = _create(session, clock)
    with pytest.raises(Conflict) as retire:
        catalog.retire_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert retire.value.code == "catalog_item_draft"
    with pytest.raises(Conflict) as version:
        catalog.published_version(session, item)
    assert version.value.code == "catalog_item_not_published"


def test_an_unknown_code_is_not_found(session, clock, scj):
    with pytest.raises(NotFound):
        catalog.get_item(session, "nope")
    with pytest.raises(NotFound):
        catalog.publish_item(session, actor=SYSTEM, code="nope", now=clock())


def test_a_version_may_not_drop_a_field_a_service_item_shares(session, clock, scj):
    item = make_catalog_item(session, clock)
    make_service_item(session, clock)  # shares enterprise_name and legal_rep_name
    fields = [f for f in catalog_item_spec()["fields"] if f["key"] != "legal_rep_name"]
    _edit(session, clock, item, fields=fields)
    with pytest.raises(Conflict) as caught:
        catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    assert caught.value.code == "fields_in_use"
    assert "food-license-new" in caught.value.fields["legal_rep_name"]
    assert catalog.get_item(session, item.code).current_version == 1


def test_record_stats_count_valid_records_and_the_last_update(session, clock, scj):
    item = make_catalog_item(session, clock)
    other = make_catalog_item(session, clock, code="food-license", name="食品经营许可证")
    insert_record_row(session, clock, item, record_no="A1", updated_at=clock() - timedelta(days=2))
    insert_record_row(session, clock, item, record_no="A2", updated_at=clock() - timedelta(days=1))
    insert_record_row(session, clock, item, record_no="A3", status=RecordStatus.REVOKED, updated_at=clock())
    stats = catalog.record_stats(session, [item.id, other.id])
    assert stats[item.id] == catalog.RecordStats(2, clock())
    assert other.id not in stats
    assert catalog.record_stats(session, []) == {}


def test_the_public_list_costs_the_same_queries_for_any_page_size(session, clock, scj):
    def statements_for(count: int) -> int:
        for n in range(count):
            item = make_catalog_item(session, clock, code=f"item-{count}-{n}", name=f"目录{count}-{n}")
            insert_record_row(session, clock, item, record_no=f"R{count}-{n}")
        session.expire_all()
        seen: list[str] = []

        def count_statement(*args: Any) -> None:
            seen.append(args[2])

        engine = db.engine
        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            page = catalog.list_published(session, page=1, per_page=50, q=f"item-{count}-")
            assert page.total == count and all(e.stats.valid == 1 for e in page.items)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        return len(seen)

    assert statements_for(2) == statements_for(9)


def test_seed_demo_loads_a_published_catalog_and_a_second_run_changes_nothing(session, clock):
    seed(session, now=clock())
    items = list(session.scalars(select(CatalogItem)))
    assert len(items) == len(CATALOG) >= 12
    assert all(item.status is CatalogStatus.PUBLISHED and item.current_version == 1 for item in items)
    assert len({item.source_department.code for item in items}) >= 6
    license_ = catalog.get_item(session, "business-license")
    keys = {f["key"]: f for f in catalog.published_version(session, license_).fields}
    assert keys["legal_rep_id"]["sensitive"] and {"legal_rep_name", "address"} <= set(keys)
    services = list(session.scalars(select(ServiceItem)))
    assert len(services) == len(SERVICE_ITEMS) >= 6
    assert all(s.approval_department.is_approval for s in services)
    materials = list(session.scalars(select(Material)))
    assert any(m.catalog_item is None for m in materials) and any(m.field_keys for m in materials)

    models = (Department, StaffAccount, CatalogItem, CatalogVersion, ServiceItem, Material, AuditEvent)
    counts = [session.scalar(select(func.count()).select_from(model)) for model in models]
    clock.advance(days=1)
    assert seed(session, now=clock()) == ["demo district already loaded: nothing changed"]
    assert [session.scalar(select(func.count()).select_from(model)) for model in models] == counts


def test_seed_demo_publishes_a_draft_left_by_an_interrupted_run(session, clock):
    for code, name, is_source, is_approval in [("NH-GAJ", "佛山市公安局南海分局", True, False)]:
        make_department(session, clock, code=code, name=name, is_source=is_source, is_approval=is_approval)
    spec = next(s for s in CATALOG if s["code"] == "id-card")
    catalog.create_item(session, actor=SYSTEM, now=clock(), **spec)
    lines = seed(session, now=clock())
    assert any(line.startswith("catalog item id-card") for line in lines)
    assert catalog.get_item(session, "id-card").status is CatalogStatus.PUBLISHED
