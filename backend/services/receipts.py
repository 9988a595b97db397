"""Receipts (确认回执, rule 10): signed proof of an accepted confirmation, its one-page PDF, public verification.

Decisions:
- The signed payload is canonical JSON (`audit.canonical_json`) that holds no personal values: service
  item, departments, acceptance, each material's source department, record version and salted digest, and
  `holder_digest`, a salted SHA-256 of the masked holder (applicant, enterprise). The masked holder is
  stored beside it while the record is retained; the signature still verifies after the retention run.
- Receipt numbers are `ES` + the Shanghai date + 8 random characters; the verification code printed with
  it is derived from the signature (16 base32 characters, 80 bits), so the PDF can be printed again and
  nobody holding only a receipt number can verify (or enumerate) receipts.
- Verification answers the same `genuine: false` for an unknown number and a wrong code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode, XPos, YPos
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clock import SHANGHAI, iso
from backend.errors import ServiceUnavailable
from backend.models import Acceptance, Confirmation, Department, Receipt, SubjectType
from backend.protection import mask_username
from backend.services import audit
from backend.services.audit import Actor, canonical_json
from backend.services.confirmations import qr_png

RECEIPT_NO = re.compile(r"^ES\d{8}[A-HJ-NP-Z2-9]{8}$")
VERIFY_CODE = re.compile(r"^[A-Z2-7]{16}$")
_NO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PAYLOAD_TYPE = "eshare.confirmation_receipt"
PAPER_REASONS = {
    "paper_only": "仅收纸质材料", "not_shared": "目录未发布", "none": "无可用数据", "not_chosen": "申请人未选用",
    "expired": "证照已过期", "revoked": "证照已注销", "under_objection": "数据异议处理中", "not_yet_valid": "尚未生效",
}


@dataclass(frozen=True)
class PublicKey:
    algorithm: str
    key_id: str
    pem: str
    raw_base64: str


def public_key(private_key: Ed25519PrivateKey) -> PublicKey:
    """The receipt signing key's public half: PEM, raw base64 and its fingerprint."""
    key = private_key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return PublicKey("Ed25519", key_fingerprint(key), pem, base64.b64encode(raw).decode("ascii"))


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key a receipt was signed with."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def verification_code(receipt: Receipt) -> str:
    """The code printed with the receipt (and in its QR link): derived from the signature, never stored."""
    digest = hashlib.sha256(b"eshare-receipt-verify\x00" + base64.b64decode(receipt.signature)).digest()
    return base64.b32encode(digest[:10]).decode("ascii")


def verify_url(public_base_url: str, receipt: Receipt) -> str:
    """The public verification link printed (and QR-coded) on the receipt."""
    return f"{public_base_url.rstrip('/')}/api/receipts/{receipt.receipt_no}/verify?code={verification_code(receipt)}"


def _holder_digest(holder: dict[str, Any], salt: str) -> str:
    return hashlib.sha256(canonical_json({"salt": salt, "holder": holder})).hexdigest()


def _new_number(now: datetime) -> str:
    return "ES" + now.astimezone(SHANGHAI).strftime("%Y%m%d") + "".join(secrets.choice(_NO_ALPHABET)
                                                                        for _ in range(8))


def issue_receipt(session: Session, *, signing_key: Ed25519PrivateKey, confirmation: Confirmation,
                  acceptance: Acceptance, now: datetime) -> Receipt:
    """Sign and store the receipt of an acceptance; sets `confirmation.receipt_no` (flushes)."""
    applicant = confirmation.applicant
    holder: dict[str, Any] = {
        "applicant": {"name_masked": applicant.name_masked if applicant else None,
                      "id_masked": applicant.id_number_masked if applicant else None},
        "subject": {"type": confirmation.subject_type.value, "name": confirmation.subject_name,
                    "id_masked": confirmation.subject_masked},
    }
    salt = secrets.token_hex(16)
    departments = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(
        {i.source_department_id for i in confirmation.items if i.source_department_id is not None})))}
    service_item = confirmation.service_item
    materials = []
    for item in confirmation.items:
        if item.is_paper:
            materials.append({"position": item.position, "name": item.material_name, "paper": item.paper_reason})
            continue
        source = departments.get(item.source_department_id or 0)
        materials.append({
            "position": item.position, "name": item.material_name,
            "catalog_item": item.catalog_item.code if item.catalog_item else None,
            "source_department": {"code": source.code, "name": source.name} if source else None,
            "record_version": item.record_version, "digest": item.digest})
    department = acceptance.department
    for _ in range(5):
        number = _new_number(now)
        payload = {
            "type": PAYLOAD_TYPE, "version": 1, "receipt_no": number,
            "service_item": {"code": service_item.code, "name": service_item.name},
            "approval_department": {"code": department.code, "name": department.name},
            "confirmation": {"id": confirmation.id, "confirmed_at": iso(confirmation.confirmed_at),
                             "snapshot_digest": confirmation.snapshot_digest},
            "acceptance": {"accepted_at": iso(acceptance.accepted_at), "window": acceptance.window,
                           "staff": mask_username(acceptance.staff.username)},
            "materials": materials,
            "holder_digest": _holder_digest(holder, salt),
        }
        message = canonical_json(payload)
        receipt = Receipt(
            receipt_no=number, confirmation_id=confirmation.id, payload=message.decode("utf-8"),
            signature=base64.b64encode(signing_key.sign(message)).decode("ascii"),
            key_id=key_fingerprint(signing_key.public_key()), holder=holder, holder_salt=salt, created_at=now)
        try:
            with session.begin_nested():
                session.add(receipt)
        except IntegrityError:
            continue  # the number was drawn before: draw another
        confirmation.receipt_no = number
        session.flush()
        return receipt
    raise RuntimeError("could not draw an unused receipt number")


@dataclass(frozen=True)
class Verification:
    receipt_no: str
    genuine: bool
    certifies: dict[str, Any] | None = None  # the signed payload
    holder: dict[str, Any] | None = None  # masked; None once anonymized
    status: str | None = None  # the confirmation's status now; `archived` once deleted after retention
    key_id: str | None = None


def verify_receipt(session: Session, *, private_key: Ed25519PrivateKey, actor: Actor, receipt_no: str, code: str,
                   now: datetime) -> Verification:
    """Is this receipt genuine (number + code + signature), and what it certifies; only masked values."""
    receipt = session.scalar(select(Receipt).where(Receipt.receipt_no == receipt_no))
    if receipt is None or not hmac.compare_digest(verification_code(receipt), code):
        return Verification(receipt_no, False)
    key = private_key.public_key()
    try:
        key.verify(base64.b64decode(receipt.signature), receipt.payload.encode("utf-8"))
    except InvalidSignature:
        return Verification(receipt_no, False)
    payload: dict[str, Any] = json.loads(receipt.payload)
    holder = None
    if receipt.holder is not None and receipt.holder_salt is not None:
        if _holder_digest(receipt.holder, receipt.holder_salt) != payload.get("holder_digest"):
            return Verification(receipt_no, False)
        holder = receipt.holder
    confirmation = receipt.confirmation
    audit.record(session, actor=actor, action="receipt.verified", now=now, target_type="receipt",
                 target_id=receipt.receipt_no, subject_index=confirmation.subject_index if confirmation else None)
    session.commit()
    return Verification(receipt_no, True, payload, holder,
                        confirmation.status.value if confirmation else "archived", receipt.key_id)


# --- the PDF ----------------------------------------------------------------------------------------------

def _local(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M:%S")


def render_pdf(receipt: Receipt, *, font_path: str, public_base_url: str) -> bytes:
    """One A4 page in Chinese: number, holder, service item, materials (source, digest), acceptance, signature, QR."""
    if not Path(font_path).is_file():
        raise ServiceUnavailable(f"the receipt font is missing: set RECEIPT_FONT to a CJK TrueType font "
                                 f"(now {font_path!r}; Debian: fonts-wqy-microhei)", code="receipt_font_missing")
    payload: dict[str, Any] = json.loads(receipt.payload)
    holder = receipt.holder or {}
    applicant = holder.get("applicant") or {}
    subject = holder.get("subject") or {}
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"确认回执 {receipt.receipt_no}")
    pdf.add_page()
    pdf.add_font("cjk", fname=font_path, collection_font_number=0)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: float = 10, height: float = 6) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(width, height, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font("cjk", size=18)
    pdf.cell(width, 12, "政务数据共享互认确认回执", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    line(f"回执编号：{receipt.receipt_no}", size=11)
    service_item, department = payload["service_item"], payload["approval_department"]
    line(f"办理事项：{service_item['name']}（{service_item['code']}）")
    line(f"受理部门：{department['name']}")
    if applicant:
        line(f"申请人：{applicant.get('name_masked') or '—'}（身份证号 {applicant.get('id_masked') or '—'}）")
    else:
        line("申请人：已按保存期限匿名化")
    if subject.get("type") == SubjectType.ENTERPRISE.value:
        line(f"办事企业：{subject.get('name') or '—'}（统一社会信用代码 {subject.get('id_masked') or '—'}）")
    pdf.ln(2)
    line("共享互认材料（以下材料以政务数据/电子证照代替纸质材料）：", size=11)
    pdf.set_font("cjk", size=8)
    with pdf.table(col_widths=(8, 38, 38, 12, 94), text_align="LEFT", line_height=5,
                   headings_style=FontFace(emphasis="")) as table:
        head = table.row()
        for title in ("序号", "材料名称", "数源部门", "版本", "数据摘要（SHA-256）"):
            head.cell(title)
        for material in payload["materials"]:
            row = table.row()
            row.cell(str(material["position"] + 1))
            row.cell(material["name"])
            if material.get("paper"):
                row.cell("—")
                row.cell("—")
                row.cell(f"纸质材料：{PAPER_REASONS.get(material['paper'], material['paper'])}")
            else:
                source = material.get("source_department") or {}
                row.cell(source.get("name", "—"))
                row.cell(str(material.get("record_version")))
                row.cell(material.get("digest") or "—")
    pdf.ln(3)
    acceptance, confirmation = payload["acceptance"], payload["confirmation"]
    line(f"申请人确认时间：{_local(confirmation.get('confirmed_at'))}")
    line(f"受理时间：{_local(acceptance.get('accepted_at'))}　受理窗口：{acceptance.get('window') or '—'}"
         f"　受理人员：{acceptance.get('staff')}")
    line(f"快照摘要：{confirmation.get('snapshot_digest')}", size=8, height=5)
    pdf.ln(2)
    line(f"数字签名（Ed25519，公钥指纹 {receipt.key_id}）：", size=9)
    line(receipt.signature, size=8, height=5)
    code = verification_code(receipt)
    url = verify_url(public_base_url, receipt)
    line(f"核验码：{code}", size=11)
    line(f"核验地址：{url}", size=8, height=5)
    line("本回执经数字签名，与纸质材料具有同等效力。扫描下方二维码或访问核验地址，输入回执编号和核验码即可核验真伪。"
         "公钥见 /api/receipts/public-key。", size=9)
    pdf.image(io.BytesIO(qr_png(url)), x=pdf.w - pdf.r_margin - 45, y=min(pdf.get_y() + 4, pdf.h - 55), w=45, h=45)
    return bytes(pdf.output())
