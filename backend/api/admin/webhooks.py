"""An approval department's webhook: its URL (checked against the SSRF rule) and its signing secret."""

from __future__ import annotations

from flask import current_app
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.clock import iso
from backend.config import Config
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.services import departments
from backend.services.departments import WebhookPolicy, WebhookSetting
from backend.web import Body, now, parse_json


class SetWebhookRequest(Body):
    url: str | None = Field(max_length=500, description="http(s) URL of the approval system; null clears it")
    rotate_secret: bool = Field(False, description="issue a new signing secret (the old one stops at once)")


class WebhookJSON(TypedDict):
    department: str
    url: str | None
    secret: str | None  # in clear in the answer that issued it, never again
    secret_created_at: str | None
    signature: str


SIGNATURE_HELP = ("X-Eshare-Signature: sha256=hex(HMAC-SHA256(secret, X-Eshare-Timestamp + '\\n' + body)); "
                  "X-Eshare-Delivery names the message (the same on retries)")


def webhook_policy() -> WebhookPolicy:
    """The webhook URL rule as this deployment configures it."""
    config: Config = current_app.extensions["config"]
    return WebhookPolicy(production=config.production, allowed_hosts=config.webhook_allowed_hosts)


def webhook_to_json(setting: WebhookSetting) -> WebhookJSON:
    return {
        "department": setting.department.code,
        "url": setting.department.webhook_url,
        "secret": setting.secret,
        "secret_created_at": iso(setting.secret_created_at),
        "signature": SIGNATURE_HELP,
    }


@bp.put("/departments/<code>/webhook")
@staff_required(Role.DATA_ADMIN)
@documented("Set an approval department's webhook URL; a new signing secret is shown in this answer only",
            auth="staff", body=SetWebhookRequest, response=WebhookJSON, errors=(403, 404))
def set_department_webhook(code: str) -> WebhookJSON:
    req = parse_json(SetWebhookRequest)
    setting = departments.set_webhook(db.session(), current_app.extensions["protector"], actor=current_actor(),
                                      code=code, url=req.url, rotate_secret=req.rotate_secret,
                                      policy=webhook_policy(), now=now())
    return webhook_to_json(setting)
