"""Commands under `flask --app backend`, each beside the service it drives."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from tqdm import tqdm

from backend.db import db
from backend.services import audit
from backend.services.audit import SYSTEM


def register(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(records_group)
    app.cli.add_command(objections_group)
    app.cli.add_command(notifications_group)
    app.cli.add_command(retention_group)
    app.cli.add_command(quality_group)
    app.cli.add_command(conflicts_group)


def _now():  # type: ignore[no-untyped-def]
    return current_app.extensions["clock"]()


@click.command("create-admin")
@click.argument("username")
@click.option("--display-name", default=None, help="Shown in the console; defaults to the username.")
def create_admin(username: str, display_name: str | None) -> None:
    """Create a data administrator; the password is read from stdin (one line when piped)."""
    from auth.staff import create_staff
    from backend.errors import AppError
    from backend.models import Role

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        account = create_staff(db.session(), actor=SYSTEM, username=username, password=password, role=Role.DATA_ADMIN,
                               display_name=display_name, department_code=None, now=_now())
    except AppError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message}{' (' + detail + ')' if detail else ''}") from exc
    click.echo(f"created data administrator {account.username} (id {account.id})")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load the demo district: catalog, staff, people, enterprises, their records; a re-run changes nothing."""
    from backend.demo import seed

    summary = seed(db.session(), now=_now(), protector=current_app.extensions["protector"])
    for line in summary:
        click.echo(line)


audit_group = AppGroup("audit", help="The audit chain.")


def _exported_checkpoints(path: Path) -> list[object]:
    """Checkpoints as exported: a JSON list, the `GET /api/admin/audit/checkpoints` page, or one per line."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path.name}: neither JSON nor JSON lines ({exc.msg})") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("items"), list):
        return list(loaded["items"])
    return loaded if isinstance(loaded, list) else [loaded]


@audit_group.command("verify")
@click.option("--checkpoints", "checkpoints_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Exported checkpoints to check the chain against (truncation, replacement).")
def audit_verify(checkpoints_file: Path | None) -> None:
    """Walk the chain; exit non-zero at the first edited, deleted, inserted or reordered event, or when the
    chain disagrees with exported checkpoints."""
    session = db.session()
    report = audit.verify_chain(session)
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events, head {report.head_seq}")
    else:
        click.echo(f"audit chain BROKEN at event {report.seq}: {report.problem}", err=True)
    checked_ok = True
    if checkpoints_file is not None:
        public_key = current_app.extensions["keys"].receipt_key.public_key()
        checked = audit.verify_checkpoints(session, public_key, _exported_checkpoints(checkpoints_file))
        checked_ok = checked.ok
        if checked.ok:
            click.echo(f"checkpoints agree: {checked.checked} checked against head {checked.head_seq}")
        for problem in checked.problems:
            click.echo(f"checkpoint FAILED: {problem.problem}", err=True)
    if not (report.ok and checked_ok):
        sys.exit(1)


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain head (run daily) and print the checkpoint as JSON: keep a copy outside this database."""
    signing_key = current_app.extensions["keys"].receipt_key
    checkpoint = audit.write_checkpoint(db.session(), signing_key, actor=SYSTEM, now=_now())
    click.echo(json.dumps(audit.checkpoint_to_json(checkpoint, signing_key.public_key()), ensure_ascii=False))


keys_group = AppGroup("keys", help="Field-encryption keys.")


@keys_group.command("new-field-key")
@click.option("--cipher", type=click.Choice(["aes-256-gcm", "sm4-gcm"]), default=None)
def keys_new(cipher: str | None) -> None:
    """Print a fresh key entry to put first in ESHARE_FIELD_KEYS."""
    from backend.keys import new_field_key

    click.echo(new_field_key(cipher or current_app.extensions["config"].field_cipher))


@keys_group.command("reencrypt")
@click.option("--batch", default=500, show_default=True)
def keys_reencrypt(batch: int) -> None:
    """Re-encrypt every stored value that is not under the current key."""
    from backend.services.rotation import reencrypt_all

    counts = reencrypt_all(db.session(), current_app.extensions["protector"], batch=batch)
    for column, count in counts.items():
        click.echo(f"{column}: {count} re-encrypted")
    key_id = current_app.extensions["protector"].current_key_id
    click.echo(f"done: {sum(counts.values())} values re-encrypted; all now under key {key_id}")


records_group = AppGroup("records", help="Records of the source departments.")

IMPORT_CHUNK = 1000
IMPORT_SHOWN_REJECTS = 5


def _jsonl_records(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of records; a line that is not a JSON object stops everything."""
    digest, count = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            digest.update(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path.name} line {number}: not valid JSON ({exc.msg})") from exc
            except UnicodeDecodeError as exc:
                raise click.ClickException(f"{path.name} line {number}: not UTF-8 text") from exc
            if not isinstance(record, dict):
                raise click.ClickException(f"{path.name} line {number}: each line must be one JSON object")
            count += 1
    return digest.hexdigest(), count


def _chunks(path: Path) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                chunk.append((number, line.strip()))
            if len(chunk) == IMPORT_CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


@records_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", "department_code", required=True, help="The source department's code.")
def records_import(file: Path, department_code: str) -> None:
    """A department's initial load from JSON lines, through the push validation; running it again adds nothing."""
    from backend.errors import AppError
    from backend.services.departments import get_department
    from backend.services.records import push_records

    session = db.session()
    try:
        department = get_department(session, department_code)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    file_digest, total = _jsonl_records(file)
    if total == 0:
        click.echo(f"{file.name}: no records to import")
        return
    counts = {"new": 0, "change": 0, "unchanged": 0, "rejected": 0, "replayed_chunks": 0}
    rejects: list[str] = []
    with tqdm(total=total, unit="record", desc=f"import {department.code}", file=sys.stderr) as progress:
        for index, chunk in enumerate(_chunks(file)):
            raw = b"\n".join(line for _, line in chunk)
            # The key names the file and the chunk: a second run replays each chunk and writes nothing.
            key = f"import-{file_digest[:40]}-{index}"
            try:
                outcome = push_records(session, current_app.extensions["protector"], actor=SYSTEM,
                                       department=department, records=[json.loads(line) for _, line in chunk],
                                       idempotency_key=key, request_digest=hashlib.sha256(raw).hexdigest(),
                                       now=_now())
            except AppError as exc:
                detail = "; ".join(f"{k}: {v}" for k, v in list(exc.fields.items())[:3])
                raise click.ClickException(f"chunk {index + 1} (from line {chunk[0][0]}): {exc.message}"
                                           f"{' (' + detail + ')' if detail else ''}") from exc
            counts["replayed_chunks"] += outcome.replayed
            for result in outcome.body["results"]:
                if result["status"] == "rejected":
                    counts["rejected"] += 1
                    if len(rejects) < IMPORT_SHOWN_REJECTS:
                        reasons = "; ".join(f"{k}: {v}" for k, v in (result.get("errors") or {}).items())
                        rejects.append(f"  line {chunk[result['index']][0]} (record_no {result['record_no']}): "
                                       f"{reasons}")
                else:
                    counts[result.get("change") or "unchanged"] += 1
            progress.update(len(chunk))
    accepted = counts["new"] + counts["change"] + counts["unchanged"]
    click.echo(f"{file.name}: {total} records for {department.code}: accepted {accepted} (new {counts['new']}, "
               f"changed {counts['change']}, unchanged {counts['unchanged']}), rejected {counts['rejected']}")
    if counts["replayed_chunks"]:
        click.echo(f"{counts['replayed_chunks']} chunk(s) were imported before: answered from the first run, "
                   "nothing written again")
    if rejects:
        click.echo(f"first {len(rejects)} of {counts['rejected']} rejects:")
        for line in rejects:
            click.echo(line)


quality_group = AppGroup("quality", help="Quality figures of the source departments.")


@quality_group.command("refresh")
@click.option("--full", is_flag=True, help="Recount everything from the start instead of what is new.")
def quality_refresh(full: bool) -> None:
    """Count new pushes into the daily quality aggregates and rebuild changed item snapshots (cron)."""
    from backend.services import quality

    report = quality.refresh(db.session(), now=_now(), full=full)
    days = f"{report.first_day}..{report.last_day}" if report.first_day else "none"
    click.echo(f"quality refreshed: {report.versions} versions and {report.rejections} rejections counted; "
               f"days rebuilt {days} ({report.days} with pushes); {report.items} item snapshots rebuilt")


conflicts_group = AppGroup("conflicts", help="Multi-source verification (多源校核).")


@conflicts_group.command("scan")
@click.option("--full", is_flag=True, help="Compare every subject held by two departments, not only changed ones.")
def conflicts_scan(full: bool) -> None:
    """Compare common attributes across source departments; open, update and resolve conflicts (cron)."""
    from backend.services import conflicts

    report = conflicts.scan(db.session(), current_app.extensions["protector"], now=_now(), full=full)
    click.echo(f"conflicts scanned: {report.subjects} subjects compared; {report.opened} opened, "
               f"{report.updated} updated, {report.resolved} resolved")


retention_group = AppGroup("retention", help="Retention of confirmation records (3 years) and drafts (7 days).")


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Report what would be removed or anonymized; change nothing.")
def retention_run(dry_run: bool) -> None:
    """Delete drafts older than 7 days, mark lapsed confirmations expired, anonymize records past 3 years."""
    from backend.services.retention import run_retention

    report = run_retention(db.session(), actor=SYSTEM, now=_now(), dry_run=dry_run)
    click.echo("retention dry run: nothing was changed" if dry_run else "retention run:")
    for line in report.lines():
        click.echo(f"  {line}")


objections_group = AppGroup("objections", help="Data objections (数据异议).")


@objections_group.command("sweep")
def objections_sweep() -> None:
    """Flag overdue decisions and corrections, remind before deadlines; idempotent, safe every minute."""
    from backend.services.objections import sweep

    report = sweep(db.session(), now=_now())
    click.echo(f"objections sweep: {report.decision_overdue} decision(s) and {report.correction_overdue} "
               f"correction(s) newly overdue, {report.decision_reminders + report.correction_reminders} reminder(s), "
               f"{report.deadlines_computed} deadline(s) computed, {report.calendar_alerts} unknown-calendar alert(s)")


notifications_group = AppGroup("notifications", help="The outbox: WeChat subscribe messages and webhooks.")


@notifications_group.command("worker")
def notifications_worker() -> None:
    """Deliver outbox messages until SIGTERM or Ctrl-C; run as many at once as you like."""
    import signal
    import threading

    from notifications.worker import Worker

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"notifications worker {worker.name}: delivering until SIGTERM")
    worker.run(stop)


@notifications_group.command("deliver")
@click.option("--once", is_flag=True, required=True, help="Deliver everything due, then exit.")
def notifications_deliver(once: bool) -> None:
    """Deliver everything due now, then exit (cron, or by hand after an outage)."""
    from notifications.worker import Worker

    report = Worker(current_app._get_current_object()).drain()  # type: ignore[attr-defined]
    click.echo(f"notifications delivered: {report}")
