"""Request models of the mini-program API and one `*_to_json` per resource.

Lists show identifiers and names masked, also to their owner; only a record's detail shows full values.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field
from typing_extensions import TypedDict

from auth.schemas import DepartmentRef
from backend.clock import iso
from backend.models import Applicant, Department
from backend.services.enterprises import AuthorizationEntry, Enterprise
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
