"""The outbox worker: claim due messages, deliver each outside any database transaction, record the result.

`flask --app backend notifications worker` runs `Worker.run` until SIGTERM (or Ctrl-C): it finishes the
message in hand, gives the rest of its claim back, and exits. `flask --app backend notifications deliver
--once` runs `Worker.drain`: claim and deliver until nothing is due, then exit (for cron or a test). Any
number of workers may run at once, on any hosts (see notifications/outbox.py for why that is safe and for the
one window where a message can be delivered twice).

Per message: renew the lease (skip it if it is no longer ours), read what the delivery needs in a short
transaction that ends before the network call, deliver, then record the result, `sent` first and by
itself. Everything else that follows a success (the audit event) comes after and may fail harmlessly.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Config
from backend.db import db
from backend.models import (
    Applicant,
    Department,
    DepartmentWebhook,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Subscription,
)
from backend.protection import Protector
from backend.services import audit
from backend.services.audit import Actor
from backend.services.notifications import outbox_payload
from notifications import Outcome, Result, outbox, webhooks
from notifications.outbox import Backoff, Claim
from notifications.wechat import SubscribeSender, build_message
from notifications.wechat_token import AccessTokenCache, WeChatAPI

log = logging.getLogger("eshare.notifications")

WEBHOOK_SECRET_CONTEXT = "department_webhooks.secret_enc"
DELIVERER = Actor("system", "notifications.worker")
LOST = "lost"  # the claim was no longer ours when we came to send: someone else has the row


@dataclass(frozen=True)
class WorkerSettings:
    lease: timedelta
    batch: int
    poll_seconds: float
    backoff: Backoff
    production: bool
    allowed_hosts: tuple[str, ...]
    templates: dict[str, str]
    webhook_timeout: float

    @classmethod
    def from_config(cls, config: Config) -> WorkerSettings:
        return cls(lease=timedelta(seconds=config.outbox_lease_seconds), batch=config.outbox_batch,
                   poll_seconds=config.worker_poll_seconds,
                   backoff=Backoff(config.outbox_max_attempts, config.outbox_backoff_seconds,
                                   config.outbox_backoff_max_seconds),
                   production=config.production, allowed_hosts=config.webhook_allowed_hosts,
                   templates=config.wechat_template_ids(), webhook_timeout=float(config.webhook_timeout_seconds))


@dataclass
class Report:
    """How many messages came to what, in one batch or one drain."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Report) -> None:
        self.claimed += other.claimed
        self.outcomes.update(other.outcomes)

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {self.outcomes[name]}" for name in ("sent", "skipped", "retry", "dead", LOST)
                          if self.outcomes[name])
        return f"{self.claimed} claimed" + (f": {parts}" if parts else "")


def worker_name() -> str:
    """Host, process and a random part: unique per worker, at most 64 characters."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _tokens_for(app: Flask, config: Config) -> AccessTokenCache:
    # The web app's WeChat client holds the process's token cache: one cache per process.
    shared = getattr(app.extensions.get("wechat"), "tokens", None)
    if isinstance(shared, AccessTokenCache):
        return shared
    return AccessTokenCache(WeChatAPI(config.wechat_api_base), config.wechat_appid or "",
                            config.wechat_secret or "", clock=app.extensions["clock"])


class Worker:
    """Delivers outbox messages; call its methods inside an app context (each thread its own)."""

    def __init__(self, app: Flask, *, name: str | None = None, sender: SubscribeSender | None = None) -> None:
        config: Config = app.extensions["config"]
        self.app = app
        self.name = name or worker_name()
        self.settings = WorkerSettings.from_config(config)
        self.sender = sender or SubscribeSender(_tokens_for(app, config))
        self._clock: Callable[[], datetime] = app.extensions["clock"]
        self._protector: Protector = app.extensions["protector"]

    # --- loops -------------------------------------------------------------------------------------------

    def run_batch(self, stop: threading.Event | None = None) -> Report:
        """Claim one batch and deliver it; with `stop` set midway, the rest of the claim is given back."""
        session = db.session()
        claims = outbox.claim(session, worker=self.name, now=self._clock(), lease=self.settings.lease,
                              limit=self.settings.batch)
        report = Report(claimed=len(claims))
        for index, claimed in enumerate(claims):
            if stop is not None and stop.is_set():
                for rest in claims[index:]:
                    outbox.release(session, rest)
                break
            report.outcomes[self.deliver(claimed)] += 1
        return report

    def drain(self) -> Report:
        """Deliver until nothing is due (what `deliver --once` does)."""
        total = Report()
        while True:
            report = self.run_batch()
            total.add(report)
            if report.claimed == 0:
                return total

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set, waiting `WORKER_POLL_SECONDS` whenever nothing is due."""
        log.info("notifications worker %s started", self.name, extra={"event": "worker_started"})
        while not stop.is_set():
            try:
                report = self.run_batch(stop)
            except Exception:  # the database went away, say: wait and try again, never die of it
                log.exception("notifications worker: a batch failed", extra={"event": "worker_error"})
                db.session.rollback()
                report = Report()
            finally:
                db.session.remove()
            if report.claimed == 0:
                stop.wait(self.settings.poll_seconds)
        log.info("notifications worker %s stopped", self.name, extra={"event": "worker_stopped"})

    # --- one message -------------------------------------------------------------------------------------

    def deliver(self, claimed: Claim) -> str:
        """Deliver one claimed message and record the result; the outcome's name."""
        session = db.session()
        if not outbox.renew(session, claimed, now=self._clock(), lease=self.settings.lease):
            log.warning("outbox message %s: claim lost before sending", claimed.id, extra={"event": "outbox_lost"})
            return LOST
        try:
            plan = self._plan(session, claimed)
            session.rollback()  # nothing was written: end the read transaction before the network call
            result = plan if isinstance(plan, Result) else plan()
        except Exception as exc:  # a bug or an undecryptable row must not stop the worker: retried, then dead
            session.rollback()
            log.exception("outbox message %s: delivery failed", claimed.id, extra={"event": "outbox_error"})
            result = Result.retry(f"internal error: {type(exc).__name__}")
        return self._record(session, claimed, result)

    def _record(self, session: Session, claimed: Claim, result: Result) -> str:
        now = self._clock()
        outcome = result.outcome
        if outcome is Outcome.SENT:
            if not outbox.mark_sent(session, claimed, now=now):
                log.warning("outbox message %s was already recorded sent", claimed.id,
                            extra={"event": "outbox_sent_twice"})
            self._after_sent(session, claimed, now)
        elif outcome is Outcome.SKIPPED:
            outbox.mark_skipped(session, claimed, reason=result.detail or "skipped", now=now)
        elif outcome is Outcome.DEAD:
            outbox.mark_dead(session, claimed, reason=result.detail or "refused", now=now)
            self._audit_dead(session, claimed, result, now)
        else:
            status = outbox.mark_failed(session, claimed, reason=result.detail or "failed", now=now,
                                        backoff=self.settings.backoff)
            if status is OutboxStatus.DEAD:
                outcome = Outcome.DEAD
                self._audit_dead(session, claimed, result, now)
        log.info("outbox message %s (%s %s, attempt %s): %s%s", claimed.id, claimed.kind.value, claimed.event,
                 claimed.attempts, outcome.value, f" ({result.detail})" if result.detail else "",
                 extra={"event": f"outbox_{outcome.value}"})
        return outcome.value

    def _after_sent(self, session: Session, claimed: Claim, now: datetime) -> None:
        if claimed.kind is not OutboxKind.WEBHOOK:
            return
        try:  # the personal data has left for the approval system: on the audit chain
            department_id = session.scalar(select(OutboxMessage.department_id).where(OutboxMessage.id == claimed.id))
            audit.record(session, actor=DELIVERER, action="outbox.webhook_delivered", now=now,
                         target_type="outbox_message", target_id=claimed.id,
                         details={"event": claimed.event, "department_id": department_id})
            session.commit()
        except Exception:
            session.rollback()
            log.exception("outbox message %s: sent, but its audit event failed", claimed.id,
                          extra={"event": "outbox_audit_failed"})

    def _audit_dead(self, session: Session, claimed: Claim, result: Result, now: datetime) -> None:
        try:
            audit.record(session, actor=DELIVERER, action="outbox.dead", now=now, target_type="outbox_message",
                         target_id=claimed.id, details={"kind": claimed.kind.value, "event": claimed.event,
                                                        "attempts": claimed.attempts, "reason": result.detail})
            session.commit()
        except Exception:
            session.rollback()
            log.exception("outbox message %s: dead, but its audit event failed", claimed.id,
                          extra={"event": "outbox_audit_failed"})

    # --- what to send ------------------------------------------------------------------------------------

    def _plan(self, session: Session, claimed: Claim) -> Result | Callable[[], Result]:
        """The delivery to make (a call that sends), or the result without sending."""
        message = session.get(OutboxMessage, claimed.id, populate_existing=True)
        if message is None:
            return Result.dead("the message is gone")
        if message.kind is OutboxKind.WECHAT_SUBSCRIBE:
            return self._plan_wechat(session, message)
        if message.kind is OutboxKind.WEBHOOK:
            return self._plan_webhook(session, message)
        return Result.skipped("staff alerts are shown in the staff inbox; there is no other channel")

    def _plan_wechat(self, session: Session, message: OutboxMessage) -> Result | Callable[[], Result]:
        applicant = session.get(Applicant, message.applicant_id) if message.applicant_id is not None else None
        if applicant is None:
            return Result.dead("the message names no applicant")
        template_id = self.settings.templates.get(message.event)
        if template_id is None:
            return Result.skipped(f"no WeChat template is configured for {message.event} (WECHAT_TEMPLATES)")
        subscription = session.scalar(select(Subscription).where(Subscription.applicant_id == applicant.id,
                                                                 Subscription.event == message.event))
        if subscription is None:
            return Result.skipped(f"the user has not accepted the {message.event} template")
        if subscription.template_id != template_id:
            return Result.skipped(f"the user accepted an earlier {message.event} template, not the current one")
        body = build_message(event=message.event, openid=applicant.openid, template_id=template_id,
                             payload=outbox_payload(self._protector, message), created_at=message.created_at)
        return lambda: self.sender.send(body)

    def _plan_webhook(self, session: Session, message: OutboxMessage) -> Result | Callable[[], Result]:
        department = session.get(Department, message.department_id) if message.department_id is not None else None
        if department is None:
            return Result.dead("the message names no department")
        if not department.webhook_url:
            return Result.skipped(f"department {department.code} has no webhook URL")
        secret_row = session.scalar(select(DepartmentWebhook).where(DepartmentWebhook.department_id == department.id))
        if secret_row is None:
            return Result.skipped(f"department {department.code} has no webhook secret; the data administrator "
                                  f"sets the webhook at PUT /api/admin/departments/{department.code}/webhook")
        url = department.webhook_url
        secret = self._protector.decrypt(secret_row.secret_enc, context=WEBHOOK_SECRET_CONTEXT)
        body = _json_bytes(outbox_payload(self._protector, message))
        event, delivery_id = message.event, str(message.id)

        def send() -> Result:
            try:  # again at delivery, after resolving the name (it may point elsewhere by now)
                target = webhooks.check_url(url, production=self.settings.production,
                                            allowed_hosts=self.settings.allowed_hosts)
            except webhooks.WebhookURLRefused as exc:
                return Result.retry(f"webhook URL refused: {exc}")
            return webhooks.deliver(target, secret=secret, body=body, event=event, delivery_id=delivery_id,
                                    timestamp=int(self._clock().timestamp()), timeout=self.settings.webhook_timeout)

        return send


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
