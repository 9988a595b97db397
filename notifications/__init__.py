"""In-app inbox, outbox, WeChat subscribe messages, approval-system webhooks and their worker.

The senders (`wechat.py`, `webhooks.py`, `wechat_token.py`) import nothing of ours: they take plain values
and answer a `Result`. `outbox.py` (claiming and recording rows) and `worker.py` (the loop that composes
them) are the only modules that touch the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SENT = "sent"  # the other side took it: never send again
    SKIPPED = "skipped"  # nothing to send to (no subscription, no URL, 43101): recorded, not retried
    RETRY = "retry"  # a failure that may pass: try again after the backoff, dead after the last attempt
    DEAD = "dead"  # a failure that will not pass by retrying (a refused argument): dead now


@dataclass(frozen=True)
class Result:
    """What one delivery attempt came to; `detail` names the reason, never a personal value or a secret."""

    outcome: Outcome
    detail: str | None = None

    @classmethod
    def sent(cls) -> Result:
        return cls(Outcome.SENT)

    @classmethod
    def skipped(cls, detail: str) -> Result:
        return cls(Outcome.SKIPPED, detail)

    @classmethod
    def retry(cls, detail: str) -> Result:
        return cls(Outcome.RETRY, detail)

    @classmethod
    def dead(cls, detail: str) -> Result:
        return cls(Outcome.DEAD, detail)
