"""`flask keys reencrypt` moves every encrypted column to the current key; old data stays readable."""

from __future__ import annotations

import base64

from sqlalchemy import select

from backend import create_app
from backend.db import db
from backend.models import (
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    ChangeKind,
    ItemKind,
    Record,
    RecordStatus,
    RecordVersion,
    SubjectType,
)
from backend.services.rotation import encrypted_columns
from tests.conftest import TEST_KEYS, settings_for
from tests.factories import make_department

NEW_KEY = f"t2:sm4-gcm:{base64.b64encode(b'N' * 16).decode()}"


def _store_record(session, clock, protector):
    department = make_department(session, clock)
    item = CatalogItem(code="id_card", name="居民身份证", kind=ItemKind.LICENSE, subject_type=SubjectType.PERSON,
                       source_department_id=department.id, batch="2026-1", status=CatalogStatus.PUBLISHED,
                       draft_fields=[], current_version=1, created_at=clock(), updated_at=clock())
    version = CatalogVersion(item=item, version=1, fields=[], published_at=clock())
    record = Record(catalog_item=item, department=department, record_no="A1", subject_type=SubjectType.PERSON,
                    subject_index=protector.blind_index("id_number", "440304199003072638"),
                    subject_id_enc=protector.encrypt("440304199003072638", context="records.subject_id_enc"),
                    subject_masked="440304********2638", latest_version=1, status=RecordStatus.VALID,
                    created_at=clock(), updated_at=clock())
    record.versions.append(RecordVersion(
        version=1, change=ChangeKind.NEW, catalog_version=version,
        fields_enc=protector.encrypt('{"name": "张三"}', context="record_versions.fields_enc"),
        subject_name_enc=protector.encrypt("张三", context="record_versions.subject_name_enc"),
        filled_fields=["name"], status=RecordStatus.VALID, produced_at=clock(), received_at=clock()))
    session.add(record)
    session.commit()


def test_every_encrypted_column_is_known_to_rotation():
    contexts = {column.info["encrypted"] for column in encrypted_columns()}
    assert {"records.subject_id_enc", "record_versions.fields_enc", "record_versions.subject_name_enc"} <= contexts


def test_reencrypt_moves_old_values_to_the_new_key(committing_database, tmp_path, clock):
    old_app = committing_database.app(tmp_path, clock)
    with old_app.app_context():
        _store_record(db.session, clock, old_app.extensions["protector"])
        db.engine.dispose()
    rotated = create_app(settings_for(tmp_path, DATABASE_URL=committing_database.url, ESHARE_FIELD_CIPHER="sm4-gcm",
                                      ESHARE_FIELD_KEYS=f"{NEW_KEY},{TEST_KEYS['ESHARE_FIELD_KEYS']}"), clock=clock)
    result = rotated.test_cli_runner().invoke(args=["keys", "reencrypt"])
    assert result.exit_code == 0, result.output
    assert "3 values re-encrypted" in result.output
    with rotated.app_context():
        protector = rotated.extensions["protector"]
        record = db.session.scalar(select(Record))
        version = record.versions[0]
        assert record.subject_id_enc.startswith("t2$") and version.fields_enc.startswith("t2$")
        assert protector.decrypt(record.subject_id_enc, context="records.subject_id_enc") == "440304199003072638"
        assert protector.decrypt(version.subject_name_enc, context="record_versions.subject_name_enc") == "张三"
        db.session.remove()
        db.engine.dispose()
    again = rotated.test_cli_runner().invoke(args=["keys", "reencrypt"])
    assert "0 values re-encrypted" in again.output
