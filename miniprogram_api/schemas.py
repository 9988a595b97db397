"""Request models of the mini-program API and one `*_to_json` per resource.

Lists show identifiers and names masked, also to their owner; only a record's detail shows full values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import AwareDatetime, Field
from typing_extensions import TypedDict

from auth.schemas import DepartmentRef
from backend.clock import iso
from backend.models import (
    Applicant,
    CatalogItem,
    Department,
    Notification,
    ServiceItem,
    StaffNotification,
    Subscription,
)
from backend.services.access_log import AccessEntry
from backend.services.confirmations import ConfirmationView, IssuedCode, MaterialView, Readiness
from backend.services.enterprises import AuthorizationEntry, Enterprise
from backend.services.objections import ObjectionEntry
from backend.services.wallet import RecordDetail, WalletBinding, WalletRecord
from backend.web import Body, PageQuery

# --- requests ---------------------------------------------------------------------------------------------

class LoginRequest(Body):
    code: str = Field(min_length=1, max_length=128, description="the code of wx.login()")


class IdentityRequest(Body):
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=18, max_length=18, pattern=r"^[0-9]{17}[0-9Xx]$")


class PhoneRequest(Body):
    code: str = Field(min_length=1, max_length=128, description="the code of the getPhoneNumber button")


class RecordQuery(PageQuery):
    subject: str | None = Field(None, min_length=18, max_length=18, pattern=r"^[0-9A-Za-z]{18}$",
                                description="unified social credit code of an enterprise you act for")


class CreateBindingRequest(Body):
    record_id: int = Field(ge=1)


class CreateAuthorizationRequest(Body):
    uscc: str = Field(min_length=18, max_length=18, pattern=r"^[0-9A-Za-z]{18}$")
    agent_name: str = Field(min_length=1, max_length=50)
    agent_id_number: str = Field(min_length=18, max_length=18, pattern=r"^[0-9]{17}[0-9Xx]$")
    expires_at: AwareDatetime | None = Field(None, description="default 30 days from now; at most one year")
    service_items: list[str] | None = Field(None, max_length=100,
                                            description="service item codes the agent may act in; null: all")


# --- answers ----------------------------------------------------------------------------------------------

class ApplicantJSON(TypedDict):
    id: int
    verified: bool
    name_masked: str | None
    id_number_masked: str | None
    phone_masked: str | None
    verified_at: str | None
    created_at: str | None
    last_login_at: str | None


class TokenResponse(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    account: ApplicantJSON


class SubjectMaskedJSON(TypedDict):
    type: str
    id_masked: str
    name: str  # a person's name masked (张*丰); an enterprise's name in full (public registration data)


class RecordJSON(TypedDict):
    id: int
    catalog_item: str
    name: str
    kind: str
    subject: SubjectMaskedJSON
    source_department: DepartmentRef
    status: str
    valid_from: str | None
    valid_until: str | None
    version: int
    updated_at: str | None


class RecordPage(TypedDict):
    items: list[RecordJSON]
    total: int
    page: int
    per_page: int


class ProvenanceJSON(TypedDict):
    source_department: DepartmentRef
    version: int
    change: str
    produced_at: str | None
    received_at: str | None
    catalog_version: int


class FieldValueJSON(TypedDict):
    key: str
    label: str
    type: str
    sensitive: bool
    value: Any
    provenance: ProvenanceJSON


class SubjectJSON(TypedDict):
    type: str
    id: str
    name: str


class RecordDetailJSON(TypedDict):
    id: int
    catalog_item: str
    name: str
    kind: str
    subject: SubjectJSON
    source_department: DepartmentRef
    status: str
    valid_from: str | None
    valid_until: str | None
    version: int
    catalog_version: int
    produced_at: str | None
    received_at: str | None
    revoke_reason: str | None
    updated_at: str | None
    fields: list[FieldValueJSON]


class BindingJSON(TypedDict):
    id: int
    record: RecordJSON
    created_at: str | None


class BindingPage(TypedDict):
    items: list[BindingJSON]
    total: int
    page: int
    per_page: int


class EnterpriseRefJSON(TypedDict):
    uscc_masked: str
    name: str


class AgentJSON(TypedDict):
    name_masked: str
    id_number_masked: str


class AuthorizationJSON(TypedDict):
    id: int
    status: str
    role: str
    enterprise: EnterpriseRefJSON
    agent: AgentJSON
    service_items: list[str] | None
    expires_at: str | None
    created_at: str | None
    accepted_at: str | None
    revoked_at: str | None
    ended_at: str | None
    end_reason: str | None


class AuthorizationPage(TypedDict):
    items: list[AuthorizationJSON]
    total: int
    page: int
    per_page: int


class EnterpriseJSON(TypedDict):
    uscc_masked: str
    name: str
    role: str
    license_record_id: int
    authorization_id: int | None
    service_items: list[str] | None
    expires_at: str | None


class EnterpriseList(TypedDict):
    items: list[EnterpriseJSON]


def _department(department: Department) -> DepartmentRef:
    return {"code": department.code, "name": department.name}


def applicant_to_json(applicant: Applicant) -> ApplicantJSON:
    return {
        "id": applicant.id,
        "verified": applicant.is_verified,
        "name_masked": applicant.name_masked,
        "id_number_masked": applicant.id_number_masked,
        "phone_masked": applicant.phone_masked,
        "verified_at": iso(applicant.verified_at),
        "created_at": iso(applicant.created_at),
        "last_login_at": iso(applicant.last_login_at),
    }


def record_to_json(entry: WalletRecord) -> RecordJSON:
    record = entry.record
    return {
        "id": record.id,
        "catalog_item": record.catalog_item.code,
        "name": record.catalog_item.name,
        "kind": record.catalog_item.kind.value,
        "subject": {"type": record.subject_type.value, "id_masked": record.subject_masked,
                    "name": entry.subject_name_shown},
        "source_department": _department(record.department),
        "status": entry.status,
        "valid_from": record.valid_from.isoformat() if record.valid_from else None,
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
        "version": record.latest_version,
        "updated_at": iso(record.updated_at),
    }


def record_detail_to_json(detail: RecordDetail) -> RecordDetailJSON:
    record, latest = detail.record, detail.latest
    source = _department(record.department)
    return {
        "id": record.id,
        "catalog_item": record.catalog_item.code,
        "name": record.catalog_item.name,
        "kind": record.catalog_item.kind.value,
        "subject": {"type": record.subject_type.value, "id": detail.subject_id, "name": detail.subject_name},
        "source_department": source,
        "status": detail.status,
        "valid_from": record.valid_from.isoformat() if record.valid_from else None,
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
        "version": record.latest_version,
        "catalog_version": latest.catalog_version.version,
        "produced_at": iso(latest.produced_at),
        "received_at": iso(latest.received_at),
        "revoke_reason": latest.revoke_reason,
        "updated_at": iso(record.updated_at),
        "fields": [{
            "key": f.key, "label": f.label, "type": f.type, "sensitive": f.sensitive, "value": f.value,
            "provenance": {"source_department": source, "version": f.version, "change": f.change,
                           "produced_at": iso(f.produced_at), "received_at": iso(f.received_at),
                           "catalog_version": f.catalog_version},
        } for f in detail.fields],
    }


def binding_to_json(entry: WalletBinding) -> BindingJSON:
    return {"id": entry.binding.id, "record": record_to_json(entry.record), "created_at": iso(entry.binding.created_at)}


def authorization_to_json(entry: AuthorizationEntry) -> AuthorizationJSON:
    a = entry.authorization
    return {
        "id": a.id,
        "status": a.status.value,
        "role": entry.role,
        "enterprise": {"uscc_masked": a.uscc_masked, "name": a.enterprise_name},
        "agent": {"name_masked": a.agent_name_masked, "id_number_masked": a.agent_id_masked},
        "service_items": a.service_items,
        "expires_at": iso(a.expires_at),
        "created_at": iso(a.created_at),
        "accepted_at": iso(a.accepted_at),
        "revoked_at": iso(a.revoked_at),
        "ended_at": iso(a.ended_at),
        "end_reason": a.end_reason,
    }


def enterprise_to_json(enterprise: Enterprise) -> EnterpriseJSON:
    authorization = enterprise.authorization
    return {
        "uscc_masked": enterprise.uscc_masked,
        "name": enterprise.name,
        "role": enterprise.role,
        "license_record_id": enterprise.license_record_id,
        "authorization_id": authorization.id if authorization else None,
        "service_items": authorization.service_items if authorization else None,
        "expires_at": iso(authorization.expires_at) if authorization else None,
    }


# --- material exemption: readiness, confirmations, counter codes, access log ------------------------------

SERVICE_ITEM_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class ReadinessQuery(Body):
    subject: str | None = Field(None, min_length=18, max_length=18, pattern=r"^[0-9A-Za-z]{18}$",
                                description="unified social credit code of the enterprise you apply for")


class CreateConfirmationRequest(Body):
    service_item: str = Field(min_length=1, max_length=64, pattern=SERVICE_ITEM_CODE)
    subject: str | None = Field(None, min_length=18, max_length=18, pattern=r"^[0-9A-Za-z]{18}$",
                                description="unified social credit code, for an enterprise's service item")
    record_ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=50,
                                                           description="the records that replace materials")


class ServiceItemRefJSON(TypedDict):
    code: str
    name: str
    approval_department: DepartmentRef


class CatalogRefJSON(TypedDict):
    code: str
    name: str
    kind: str


class FieldRefJSON(TypedDict):
    key: str
    label: str


class ReadyRecordJSON(TypedDict):
    id: int
    catalog_item: str
    name: str
    status: str
    version: int
    valid_until: str | None
    source_department: DepartmentRef


class MaterialReadinessJSON(TypedDict):
    position: int
    name: str
    catalog_item: CatalogRefJSON | None
    fields: list[FieldRefJSON]
    replaceable: bool
    paper_reason: str | None
    record: ReadyRecordJSON | None


class ReadinessJSON(TypedDict):
    service_item: ServiceItemRefJSON
    subject: SubjectMaskedJSON
    acting_as: str
    ready: bool
    materials: list[MaterialReadinessJSON]


class ConfirmedFieldJSON(TypedDict):
    key: str
    label: str
    type: str
    sensitive: bool
    value: NotRequired[Any]
    provenance: ProvenanceJSON


class ConfirmationMaterialJSON(TypedDict):
    position: int
    name: str
    catalog_item: CatalogRefJSON | None
    source_department: DepartmentRef | None
    record_id: int | None
    record_version: int | None
    digest: str | None
    paper: bool
    paper_reason: str | None
    fields: list[ConfirmedFieldJSON]


class HoldJSON(TypedDict):
    record_id: int
    material: str
    field: str
    filed_at: str | None


class ConfirmationJSON(TypedDict):
    id: int
    status: str
    service_item: ServiceItemRefJSON
    subject: SubjectMaskedJSON
    acting_as: str
    values_shown: bool
    materials: list[ConfirmationMaterialJSON]
    holds: list[HoldJSON]
    snapshot_digest: str | None
    created_at: str | None
    confirmed_at: str | None
    expires_at: str | None
    stale_at: str | None
    voided_at: str | None
    void_reason: str | None
    accepted_at: str | None
    receipt_no: str | None


class ConfirmationPage(TypedDict):
    items: list[ConfirmationJSON]
    total: int
    page: int
    per_page: int


class CounterCodeJSON(TypedDict):
    confirmation_id: int
    token: str
    expires_at: str | None
    png_base64: str


class AccessMaterialJSON(TypedDict):
    material: str
    catalog_item: str | None
    fields: list[str]


class AccessEntryJSON(TypedDict):
    at: str | None
    use: str
    subject: dict[str, str | None]
    department: DepartmentRef | None
    staff: str | None
    service_item: FieldRefJSON | None
    confirmation_id: int | None
    materials: list[AccessMaterialJSON]


class AccessLogPage(TypedDict):
    items: list[AccessEntryJSON]
    total: int
    page: int
    per_page: int


def service_item_ref_to_json(item: ServiceItem) -> ServiceItemRefJSON:
    return {"code": item.code, "name": item.name, "approval_department": _department(item.approval_department)}


def _catalog_ref(item: CatalogItem | None) -> CatalogRefJSON | None:
    if item is None:
        return None
    return {"code": item.code, "name": item.name, "kind": item.kind.value}


def readiness_to_json(readiness: Readiness) -> ReadinessJSON:
    subject = readiness.subject
    materials: list[MaterialReadinessJSON] = []
    for entry in readiness.materials:
        item, record = entry.material.catalog_item, entry.record
        version = item.version_in_force() if item is not None else None
        labels = {f["key"]: f.get("label", f["key"]) for f in (version.fields if version else [])}
        keys = list(entry.material.field_keys) or list(labels)
        materials.append({
            "position": entry.material.position,
            "name": entry.material.name,
            "catalog_item": _catalog_ref(item),
            "fields": [{"key": key, "label": labels.get(key, key)} for key in keys] if item is not None else [],
            "replaceable": entry.reason is None,
            "paper_reason": entry.reason,
            "record": None if record is None else {
                "id": record.id, "catalog_item": record.catalog_item.code, "name": record.catalog_item.name,
                "status": entry.record_status or "", "version": record.latest_version,
                "valid_until": record.valid_until.isoformat() if record.valid_until else None,
                "source_department": _department(record.department)},
        })
    return {
        "service_item": service_item_ref_to_json(readiness.service_item),
        "subject": {"type": subject.type.value, "id_masked": subject.masked, "name": subject.name},
        "acting_as": subject.acting_as,
        "ready": readiness.ready,
        "materials": materials,
    }


def _confirmation_material(entry: MaterialView) -> ConfirmationMaterialJSON:
    item = entry.item
    source = _department(item.source_department) if item.source_department else None
    fields: list[ConfirmedFieldJSON] = []
    for spec in item.fields:
        field: ConfirmedFieldJSON = {
            "key": spec["key"], "label": spec["label"], "type": spec["type"], "sensitive": spec["sensitive"],
            "provenance": {"source_department": source or {"code": "", "name": ""}, "version": spec["version"],
                           "change": spec["change"], "produced_at": spec["produced_at"],
                           "received_at": spec["received_at"], "catalog_version": spec["catalog_version"]},
        }
        if entry.values is not None:
            field["value"] = entry.values.get(spec["key"])
        fields.append(field)
    return {
        "position": item.position,
        "name": item.material_name,
        "catalog_item": _catalog_ref(item.catalog_item),
        "source_department": source,
        "record_id": item.record_id,
        "record_version": item.record_version,
        "digest": item.digest,
        "paper": item.is_paper,
        "paper_reason": item.paper_reason,
        "fields": fields,
    }


def confirmation_to_json(view: ConfirmationView) -> ConfirmationJSON:
    c = view.confirmation
    return {
        "id": c.id,
        "status": view.status,
        "service_item": service_item_ref_to_json(c.service_item),
        "subject": {"type": c.subject_type.value, "id_masked": c.subject_masked or "", "name": c.subject_name or ""},
        "acting_as": c.acting_as,
        "values_shown": view.values_shown,
        "materials": [_confirmation_material(m) for m in view.materials],
        "holds": [{"record_id": h.record_id, "material": h.material, "field": h.field, "filed_at": iso(h.filed_at)}
                  for h in view.holds],
        "snapshot_digest": c.snapshot_digest,
        "created_at": iso(c.created_at),
        "confirmed_at": iso(c.confirmed_at),
        "expires_at": iso(c.expires_at),
        "stale_at": iso(c.stale_at),
        "voided_at": iso(c.voided_at),
        "void_reason": c.void_reason,
        "accepted_at": iso(c.accepted_at),
        "receipt_no": c.receipt_no,
    }


def counter_code_to_json(issued: IssuedCode) -> CounterCodeJSON:
    return {"confirmation_id": issued.confirmation.id, "token": issued.token, "expires_at": iso(issued.expires_at),
            "png_base64": issued.png_base64}


def access_entry_to_json(entry: AccessEntry) -> AccessEntryJSON:
    details = entry.details
    return {
        "at": iso(entry.at),
        "use": entry.use,
        "subject": {"type": entry.subject_type, "name": entry.subject_name},
        "department": details.get("department"),
        "staff": details.get("staff"),
        "service_item": details.get("service_item"),
        "confirmation_id": details.get("confirmation") if entry.own_confirmation else None,
        "materials": [{"material": m.get("material", ""), "catalog_item": m.get("catalog_item"),
                       "fields": [f.get("label", f.get("key", "")) for f in m.get("fields", [])]}
                      for m in details.get("materials", [])],
    }


# --- objections, the inbox and subscribe-message consent --------------------------------------------------

ObjectionStatusName = Literal["open", "correcting", "corrected", "rejected", "withdrawn"]


class CreateObjectionRequest(Body):
    record_id: int = Field(ge=1)
    field: str = Field(min_length=1, max_length=64, description="the key of the field that is wrong")
    claimed_value: str | None = Field(None, max_length=500, description="what it should say, if known")
    reason: str = Field(min_length=1, max_length=500)


class ObjectionQuery(PageQuery):
    status: ObjectionStatusName | None = None


class NotificationQuery(PageQuery):
    unread: bool | None = Field(None, description="true: only unread messages")


class SubscriptionsRequest(Body):
    templates: list[str] = Field(max_length=20, description="events whose template the user accepted")
    rejected: list[str] = Field(default_factory=list, max_length=20,
                                description="events whose template the user rejected (forgotten here)")


class ObjectionRecordJSON(TypedDict):
    id: int
    catalog_item: str
    name: str
    source_department: DepartmentRef
    version: int
    record_no: NotRequired[str]  # staff views only
    subject_masked: NotRequired[str]  # staff views only


class ObjectionJSON(TypedDict):
    id: int
    status: str
    record: ObjectionRecordJSON
    field: str
    field_label: str
    filed_at: str | None
    decision_due_at: str | None
    deadline_unknown: bool
    overdue: bool
    decision: str | None
    decision_reason: str | None
    decided_at: str | None
    decision_late: bool | None
    correction_due_at: str | None
    corrected_at: str | None
    correction_version: int | None
    correction_late: bool | None
    withdrawn_at: str | None
    claimed_value: NotRequired[str | None]
    reason: NotRequired[str | None]


class ObjectionPage(TypedDict):
    items: list[ObjectionJSON]
    total: int
    page: int
    per_page: int


class NotificationJSON(TypedDict):
    id: int
    event: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: str | None
    read: bool
    read_at: str | None


class NotificationPage(TypedDict):
    items: list[NotificationJSON]
    total: int
    page: int
    per_page: int
    unread: int


class SubscriptionJSON(TypedDict):
    event: str
    template_id: str
    accepted_at: str | None


class SubscriptionList(TypedDict):
    items: list[SubscriptionJSON]


def objection_to_json(entry: ObjectionEntry) -> ObjectionJSON:
    """The applicant's objection; the claimed value and reason only in a detail."""
    o, record = entry.objection, entry.objection.record
    body: ObjectionJSON = {
        "id": o.id,
        "status": o.status.value,
        "record": {"id": record.id, "catalog_item": record.catalog_item.code, "name": record.catalog_item.name,
                   "source_department": _department(record.department), "version": o.record_version},
        "field": o.field,
        "field_label": entry.field_label,
        "filed_at": iso(o.filed_at),
        "decision_due_at": iso(o.decision_due_at),
        "deadline_unknown": entry.deadline_unknown,
        "overdue": entry.overdue,
        "decision": o.decision,
        "decision_reason": o.decision_reason,
        "decided_at": iso(o.decided_at),
        "decision_late": o.decision_late,
        "correction_due_at": iso(o.correction_due_at),
        "corrected_at": iso(o.corrected_at),
        "correction_version": o.correction_version,
        "correction_late": o.correction_late,
        "withdrawn_at": iso(o.withdrawn_at),
    }
    if entry.detailed:
        body["claimed_value"] = entry.claimed_value
        body["reason"] = entry.reason
    return body


def notification_to_json(notification: Notification | StaffNotification) -> NotificationJSON:
    """An inbox message, an applicant's or a staff member's (the two inboxes share one shape)."""
    return {
        "id": notification.id,
        "event": notification.event,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
        "read_at": iso(notification.read_at),
    }


def subscription_to_json(subscription: Subscription) -> SubscriptionJSON:
    return {"event": subscription.event, "template_id": subscription.template_id,
            "accepted_at": iso(subscription.accepted_at)}
