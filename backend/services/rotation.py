"""Key rotation: every encrypted column is walked and moved to the current key, batch by batch."""

from __future__ import annotations

from sqlalchemy import Column, select, update
from sqlalchemy.orm import Session

from backend.db import Base
from backend.protection import Protector


def encrypted_columns() -> list[Column[str]]:
    """Every column declared with `encrypted_info`, across the schema."""
    return [column for table in Base.metadata.sorted_tables for column in table.columns
            if column.info.get("encrypted")]


def reencrypt_all(session: Session, protector: Protector, *, batch: int = 500) -> dict[str, int]:
    """Re-encrypt under the current key; safe to stop and run again (each batch commits)."""
    counts: dict[str, int] = {}
    current = f"{protector.current_key_id}$%"
    for column in encrypted_columns():
        table = column.table
        context = column.info["encrypted"]
        (pk,) = table.primary_key.columns
        done, last = 0, None
        while True:
            query = select(pk, column).where(column.is_not(None), ~column.like(current)).order_by(pk).limit(batch)
            if last is not None:
                query = query.where(pk > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for key, value in rows:
                fresh = protector.reencrypt(value, context=context)
                if fresh is not None:
                    session.execute(update(table).where(pk == key).values({column.name: fresh}))
                    done += 1
            last = rows[-1][0]
            session.commit()
        counts[context] = done
    return counts
