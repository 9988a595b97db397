"""Service items: an approval department, materials mapped to published catalog items or paper-only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from backend.errors import Conflict, NotFound, ValidationError
from backend.models import AuditEvent, Material, ServiceItem, SubjectType
from backend.services import catalog, service_items
from backend.services.audit import SYSTEM
from tests.factories import catalog_item_spec, make_catalog_item, make_department, make_service_item


@pytest.fixture
def published(session, clock):
    make_department(session, clock)
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_catalog_item(session, clock)
    make_catalog_item(session, clock, code="id-card", name="居民身份证", subject_type=SubjectType.PERSON,
                      source_department="NH-GAJ", subject_name_field="name",
                      fields=[{"key": "name", "label": "姓名", "type": "string", "required": True},
                              {"key": "id_number", "label": "公民身份号码", "type": "string", "sensitive": True},
                              {"key": "address", "label": "住址", "type": "string", "sensitive": True}])


def _update(session, clock, code: str = "food-license-new", **overrides: Any) -> ServiceItem:
    args: dict[str, Any] = {"name": "食品经营许可（新办）", "approval_department": "NH-SCJ",
                            "subject_type": SubjectType.ENTERPRISE,
                            "materials": [{"name": "营业执照", "catalog_item": "business-license"}]}
    args.update(overrides)
    return service_items.update_service_item(session, actor=SYSTEM, code=code, now=clock(), **args)


def test_create_service_item_keeps_materials_in_order(session, clock, published):
    item = make_service_item(session, clock, materials=[
        {"name": "营业执照", "catalog_item": "business-license", "fields": ["enterprise_name", "address"]},
        {"name": "法定代表人身份证", "catalog_item": "id-card", "fields": ["name", "id_number"]},
        {"name": "经营场所平面图"},
    ])
    assert item.approval_department.code == "NH-SCJ" and item.subject_type is SubjectType.ENTERPRISE
    assert [(m.position, m.name, m.catalog_item.code if m.catalog_item else None, m.field_keys)
            for m in item.materials] == [
        (0, "营业执照", "business-license", ["enterprise_name", "address"]),
        (1, "法定代表人身份证", "id-card", ["name", "id_number"]),
        (2, "经营场所平面图", None, []),
    ]
    assert session.scalar(select(AuditEvent.target_id).where(AuditEvent.action == "service_item.created")) \
        == "food-license-new"


def test_no_field_subset_means_all_fields(session, clock, published):
    item = make_service_item(session, clock, materials=[{"name": "营业执照", "catalog_item": "business-license"}])
    assert item.materials[0].field_keys == []


def test_a_taken_code_is_a_conflict(session, clock, published):
    make_service_item(session, clock)
    with pytest.raises(Conflict) as caught:
        make_service_item(session, clock)
    assert caught.value.code == "service_item_exists"


def test_the_approval_department_must_exist_and_approve(session, clock, published):
    with pytest.raises(ValidationError) as unknown:
        make_service_item(session, clock, approval_department="NH-XXX")
    assert unknown.value.fields == {"approval_department": "no department has this code"}
    with pytest.raises(ValidationError) as source_only:
        make_service_item(session, clock, approval_department="NH-GAJ")
    assert source_only.value.fields == {"approval_department": "is not an approval department"}


INVALID_MATERIALS = [
    ("no_materials", [], "materials"),
    ("unknown_catalog_item", [{"name": "证明", "catalog_item": "nope"}], "materials.0.catalog_item"),
    ("field_not_in_item", [{"name": "执照", "catalog_item": "business-license", "fields": ["colour"]}],
     "materials.0.fields"),
    ("repeated_field", [{"name": "执照", "catalog_item": "business-license",
                         "fields": ["address", "address"]}], "materials.0.fields"),
    ("fields_on_paper", [{"name": "平面图", "fields": ["address"]}], "materials.0.fields"),
    ("fields_not_strings", [{"name": "执照", "catalog_item": "business-license", "fields": [1]}],
     "materials.0.fields"),
    ("name_missing", [{"catalog_item": "business-license"}], "materials.0.name"),
    ("name_blank", [{"name": " "}], "materials.0.name"),
    ("repeated_name", [{"name": "执照", "catalog_item": "business-license"}, {"name": "执照"}], "materials.1.name"),
    ("unknown_attribute", [{"name": "执照", "copies": 2}], "materials.0.copies"),
    ("not_an_object", ["执照"], "materials.0"),
]


@pytest.mark.parametrize(("materials", "key"), [(m, k) for _, m, k in INVALID_MATERIALS],
                         ids=[name for name, _, _ in INVALID_MATERIALS])
def test_an_invalid_material_is_refused_naming_it(session, clock, published, materials, key):
    with pytest.raises(ValidationError) as caught:
        make_service_item(session, clock, materials=materials)
    assert key in caught.value.fields, caught.value.fields
    assert session.scalar(select(func.count(ServiceItem.id))) == 0


def test_a_material_needs_a_published_catalog_item(session, clock, published):
    catalog.create_item(session, actor=SYSTEM, now=clock(),
                        **catalog_item_spec(code="food-license", name="食品经营许可证"))
    catalog.retire_item(session, actor=SYSTEM, code="id-card", now=clock())
    with pytest.raises(ValidationError) as caught:
        make_service_item(session, clock, materials=[{"name": "许可证", "catalog_item": "food-license"},
                                                     {"name": "身份证", "catalog_item": "id-card"}])
    assert caught.value.fields == {"materials.0.catalog_item": "is draft, not published",
                                   "materials.1.catalog_item": "is retired, not published"}


def test_a_field_only_in_the_draft_cannot_be_shared_yet(session, clock, published):
    fields = catalog_item_spec()["fields"] + [{"key": "registered_capital", "label": "注册资本", "type": "number"}]
    catalog.update_item(session, actor=SYSTEM, now=clock(), **catalog_item_spec(fields=fields))
    with pytest.raises(ValidationError) as caught:
        make_service_item(session, clock, materials=[
            {"name": "执照", "catalog_item": "business-license", "fields": ["registered_capital"]}])
    assert caught.value.fields == {"materials.0.fields": "not fields of business-license: registered_capital"}


def test_update_replaces_materials_keeping_row_ids_by_position(session, clock, published):
    item = make_service_item(session, clock, materials=[
        {"name": "营业执照", "catalog_item": "business-license"},
        {"name": "法定代表人身份证", "catalog_item": "id-card"},
        {"name": "经营场所平面图"},
    ])
    ids = [m.id for m in item.materials]
    clock.advance(hours=2)
    item = _update(session, clock, name="食品经营许可（新办，告知承诺）", subject_type=SubjectType.PERSON, materials=[
        {"name": "营业执照（电子）", "catalog_item": "business-license", "fields": ["enterprise_name"]},
        {"name": "食品安全承诺书"},
    ])
    assert item.name == "食品经营许可（新办，告知承诺）" and item.subject_type is SubjectType.PERSON
    assert item.updated_at == clock()
    assert [(m.id, m.name, m.field_keys) for m in item.materials] == [
        (ids[0], "营业执照（电子）", ["enterprise_name"]), (ids[1], "食品安全承诺书", [])]
    assert item.materials[1].catalog_item is None
    assert session.scalar(select(func.count(Material.id))) == 2
    assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)) \
        == "service_item.updated"


def test_update_may_add_materials_and_move_departments(session, clock, published):
    make_department(session, clock, code="NH-WJJ", name="卫健局")
    make_service_item(session, clock, materials=[{"name": "营业执照", "catalog_item": "business-license"}])
    item = _update(session, clock, approval_department="NH-WJJ", materials=[
        {"name": "营业执照", "catalog_item": "business-license"}, {"name": "身份证", "catalog_item": "id-card"}])
    assert item.approval_department.code == "NH-WJJ"
    assert [m.position for m in item.materials] == [0, 1]


def test_updating_an_unknown_service_item_is_not_found(session, clock, published):
    with pytest.raises(NotFound):
        _update(session, clock, code="nope")


def test_an_invalid_update_leaves_the_item_as_it_was(session, clock, published):
    make_service_item(session, clock)
    with pytest.raises(ValidationError):
        _update(session, clock, materials=[{"name": "证明", "catalog_item": "nope"}])
    session.expire_all()
    item = service_items.get_service_item(session, "food-license-new")
    assert [m.name for m in item.materials] == ["营业执照", "经营场所平面图"]


def test_list_filters_by_department_subject_type_and_text(session, clock, published):
    make_department(session, clock, code="NH-WJJ", name="卫健局")
    make_service_item(session, clock)
    make_service_item(session, clock, code="birth-registration", name="生育登记", approval_department="NH-WJJ",
                      subject_type=SubjectType.PERSON, materials=[{"name": "身份证", "catalog_item": "id-card"}])

    def codes(**filters: Any) -> list[str]:
        return [i.code for i in service_items.list_service_items(session, page=1, per_page=20, **filters).items]

    assert codes() == ["birth-registration", "food-license-new"]
    assert codes(department="NH-WJJ") == ["birth-registration"]
    assert codes(subject_type=SubjectType.ENTERPRISE) == ["food-license-new"]
    assert codes(q="生育") == ["birth-registration"]
    assert codes(q="FOOD") == ["food-license-new"]
    assert codes(q="%") == []
