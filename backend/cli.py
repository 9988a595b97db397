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
    """Load the demo district; running it again changes nothing."""
    from backend.demo import seed

    summary = seed(db.session(), now=_now())
    for line in summary:
        click.echo(line)


audit_group = AppGroup("audit", help="The audit chain.")


@audit_group.command("verify")
def audit_verify() -> None:
    """Walk the chain; exit non-zero at the first edited, deleted, inserted or reordered event."""
    report = audit.verify_chain(db.session())
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events, head {report.head_seq}")
        return
    click.echo(f"audit chain BROKEN at event {report.seq}: {report.problem}", err=True)
    sys.exit(1)


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
