"""Commands under `flask --app backend`, each beside the service it drives."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend.db import db
from backend.services import audit
from backend.services.audit import SYSTEM


def register(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(keys_group)


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
