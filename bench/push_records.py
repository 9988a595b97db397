"""Benchmark: records pushed through the signed HTTP API versus a raw `executemany` of the same rows.

Run by hand from the repository root (it prints figures; it is not a test):

    .venv/bin/python bench/push_records.py                      # 100k records, MariaDB and SQLite
    .venv/bin/python bench/push_records.py --records 20000 --db sqlite
    .venv/bin/python bench/push_records.py --records 1000 --db mariadb --profile

Per database it creates a fresh database (MariaDB `eshare_bench_<pid>` on 127.0.0.1:3306 as root without a
password, or a temporary SQLite file), builds the schema with `flask --app backend db upgrade`, sets up a
source department, a published person item (the demo 居民身份证 spec) and a department key through the
services, starts gunicorn on 127.0.0.1, and sends the records in signed batches of 1000 (`PUT
/api/dept/records`, each with its Idempotency-Key) from a few threads. Then it inserts the same rows, in
the same batches, with the driver's `executemany` into a scratch table of 10 columns and 2 indexes, one
commit per batch. It prints records/s of both and their ratio (target on MariaDB: HTTP ≥ 0.5 × raw).
Everything it made (databases, temporary files, the gunicorn process) is removed at the end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import json
import math
import os
import pstats
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth.signatures import sign_request  # noqa: E402
from backend.clock import SHANGHAI  # noqa: E402

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
BATCH = 1000
DEPARTMENT = "BENCH-GAJ"
ITEM = "bench-id-card"
PATH = "/api/dept/records"
REQUEST_TIMEOUT = 300

RAW_TABLE = {
    "mariadb": """CREATE TABLE bench_raw_records (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        catalog_item VARCHAR(64) NOT NULL, record_no VARCHAR(100) NOT NULL, subject_id VARCHAR(18) NOT NULL,
        subject_name VARCHAR(100) NOT NULL, fields TEXT NOT NULL, produced_at DATETIME(6) NOT NULL,
        valid_from DATE NULL, valid_until DATE NULL, status VARCHAR(12) NOT NULL, received_at DATETIME(6) NOT NULL,
        UNIQUE KEY uq_bench_item_no (catalog_item, record_no), KEY ix_bench_subject (subject_id)
    ) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci""",
    "sqlite": """CREATE TABLE bench_raw_records (
        id INTEGER PRIMARY KEY,
        catalog_item VARCHAR(64) NOT NULL, record_no VARCHAR(100) NOT NULL, subject_id VARCHAR(18) NOT NULL,
        subject_name VARCHAR(100) NOT NULL, fields TEXT NOT NULL, produced_at DATETIME NOT NULL,
        valid_from DATE NULL, valid_until DATE NULL, status VARCHAR(12) NOT NULL, received_at DATETIME NOT NULL,
        UNIQUE (catalog_item, record_no))""",
}
RAW_INDEX_SQLITE = "CREATE INDEX ix_bench_subject ON bench_raw_records (subject_id)"
RAW_INSERT = ("INSERT INTO bench_raw_records (catalog_item, record_no, subject_id, subject_name, fields, produced_at, "
              "valid_from, valid_until, status, received_at) VALUES ({})")


class Stop(Exception):
    """SIGTERM, handled like Ctrl-C: clean up and leave."""


# --- the records ------------------------------------------------------------------------------------------

SURNAMES = "陈黄梁李何罗张林刘周吴郭谢冯潘邓麦叶王关钟卢伍杜杨朱曾苏蔡"
GIVEN = ["志明", "丽华", "伟强", "嘉欣", "俊杰", "慧敏", "家豪", "咏诗", "浩然", "梓涵", "宇航", "诗琪", "国强", "秀英"]
TOWNS = ["桂城街道", "大沥镇", "里水镇", "狮山镇", "西樵镇", "九江镇", "丹灶镇"]


def _id_number(i: int) -> tuple[str, date, str]:
    """The i-th of distinct valid Nanhai ID numbers (area 440605 exists from 2002: births 2002-2023)."""
    birth = date(2002, 1, 1) + timedelta(days=i % 8000)
    order = (i // 8000) % 1000
    gender = "男" if order % 2 else "女"
    body = f"440605{birth:%Y%m%d}{order:03d}"
    check = (1 - 2 * int(body, 13)) % 11  # GB 11643, as stdnum.cn.ric.calc_check_digit
    return body + ("X" if check == 10 else str(check)), birth, gender


def make_records(count: int, produced_at: datetime) -> list[dict[str, Any]]:
    """`count` valid records of the bench item (the fields of the demo 居民身份证)."""
    records = []
    produced = produced_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    for i in range(count):
        id_number, birth, gender = _id_number(i)
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)]
        issued = date(2020, 1, 1) + timedelta(days=i % 2000)
        records.append({
            "catalog_item": ITEM, "record_no": f"SFZ{i:010d}", "subject_id": id_number, "subject_name": name,
            "fields": {
                "name": name, "gender": gender, "ethnicity": "汉族", "birth_date": birth.isoformat(),
                "address": f"广东省佛山市南海区{TOWNS[i % 7]}南海大道北{i % 300 + 1}号{i % 18 + 1}座{i % 30 + 2}01房",
                "id_number": id_number, "issuing_authority": "佛山市公安局南海分局",
            },
            "produced_at": produced, "valid_from": issued.isoformat(),
            "valid_until": issued.replace(year=issued.year + 10).isoformat() if (issued.month, issued.day) != (2, 29)
            else date(issued.year + 10, 2, 28).isoformat(),
        })
    return records


def raw_rows(records: list[dict[str, Any]], received_at: datetime) -> list[tuple[Any, ...]]:
    """The same records as plain rows of the scratch table (no encryption, no validation)."""
    received = received_at.replace(tzinfo=None)
    return [(r["catalog_item"], r["record_no"], r["subject_id"], r["subject_name"],
             json.dumps(r["fields"], ensure_ascii=False, sort_keys=True, separators=(",", ":")),
             datetime.fromisoformat(r["produced_at"]).astimezone(UTC).replace(tzinfo=None),
             date.fromisoformat(r["valid_from"]), date.fromisoformat(r["valid_until"]), "valid", received)
            for r in records]


# --- databases --------------------------------------------------------------------------------------------

@dataclass
class Database:
    kind: str  # mariadb | sqlite
    url: str
    name: str = ""
    path: Path | None = None

    def connect(self) -> Any:
        if self.kind == "mariadb":
            return pymysql.connect(**MARIADB, database=self.name, charset="utf8mb4", autocommit=False)
        return sqlite3.connect(str(self.path), timeout=60)


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[Database]:
    """A new empty database, dropped (or deleted) on the way out whatever happens."""
    if kind == "sqlite":
        path = workdir / "bench.sqlite3"
        yield Database(kind, f"sqlite:///{path}", path=path)
        return  # the work directory goes as a whole
    name = f"eshare_bench_{os.getpid()}"
    server = pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=True)
    try:
        with server.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        server.close()
    try:
        yield Database(kind, f"mysql+pymysql://{MARIADB['user']}@{MARIADB['host']}:{MARIADB['port']}/{name}",
                       name=name)
    finally:
        server = pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=True)
        try:
            with server.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            server.close()


def app_env(database: Database, workdir: Path) -> dict[str, str]:
    """The settings of every process of one run: its database, its own keys and instance folder."""
    def key(size: int = 32) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode()

    return {
        **os.environ,
        "ESHARE_ENV": "development",
        "DATABASE_URL": database.url,
        "INSTANCE_PATH": str(workdir / "instance"),
        "SECRET_KEY": secrets.token_hex(32),
        "ESHARE_FIELD_KEYS": f"bench1:aes-256-gcm:{key()}",
        "ESHARE_BLIND_INDEX_KEY": key(),
        "ESHARE_TOKEN_KEY": key(),
        "ESHARE_RECEIPT_KEY": key(),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "db", "upgrade"], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stderr[-3000:]}")


@dataclass(frozen=True)
class Setup:
    key_id: str
    secret: str


def set_up(env: dict[str, str]) -> Setup:
    """Department, published item and key, through the services (not HTTP), as an administrator would."""
    from backend import create_app
    from backend.db import db
    from backend.demo_catalog import CATALOG
    from backend.models import ItemKind, SubjectType
    from backend.services import catalog
    from backend.services.audit import SYSTEM
    from backend.services.departments import create_department
    from backend.services.dept_keys import issue_key

    app = create_app({name: value for name, value in env.items() if name.isupper()})
    spec = next(s for s in CATALOG if s["code"] == "id-card")
    with app.app_context():
        session = db.session()
        now = datetime.now(UTC)
        create_department(session, actor=SYSTEM, code=DEPARTMENT, name="基准测试数据源部门", is_source=True,
                          is_approval=False, webhook_url=None, now=now)
        catalog.create_item(session, actor=SYSTEM, now=now, code=ITEM, name="居民身份证（基准测试）",
                            kind=ItemKind.LICENSE, subject_type=SubjectType.PERSON, source_department=DEPARTMENT,
                            batch="bench", subject_name_field="name", fields=spec["fields"])
        catalog.publish_item(session, actor=SYSTEM, code=ITEM, now=now)
        issued = issue_key(session, app.extensions["protector"], actor=SYSTEM, department_code=DEPARTMENT, now=now)
        setup = Setup(issued.key.key_id, issued.secret)
        db.session.remove()
        db.engine.dispose()
    return setup


def profile_service(env: dict[str, str], setup: Setup, produced_at: datetime) -> None:
    """Where a batch of 1000 spends its time, warm: the service alone, then the whole signed request (in-process)."""
    from backend import create_app
    from backend.db import db
    from backend.services import records as records_service
    from backend.services.audit import SYSTEM
    from backend.services.departments import get_department

    def batch(prefix: str) -> list[dict[str, Any]]:
        fresh = make_records(BATCH, produced_at)
        for record in fresh:
            record["record_no"] = prefix + record["record_no"]
        return fresh

    def report(title: str, profiler: cProfile.Profile, elapsed: float) -> None:
        print(f"\n  profile of {title}: {BATCH} records in {elapsed:.3f} s ({BATCH / elapsed:,.0f}/s)")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(30)

    app = create_app({name: value for name, value in env.items() if name.isupper()})
    with app.app_context():
        session = db.session()
        department = get_department(session, DEPARTMENT)
        for prefix in ("W", "P"):  # the first batch warms caches (stdnum's data, compiled statements)
            profiler = cProfile.Profile()
            started = time.perf_counter()
            with profiler:
                records_service.push_records(
                    session, app.extensions["protector"], actor=SYSTEM, department=department,
                    records=batch(prefix), idempotency_key=f"profile-{prefix}",
                    request_digest=secrets.token_hex(32), now=datetime.now(UTC))
            elapsed = time.perf_counter() - started
        report("records.push_records (service only)", profiler, elapsed)
        db.session.remove()
    client = app.test_client()
    body = json.dumps({"records": batch("H")}, ensure_ascii=False).encode("utf-8")
    headers = sign_request(setup.key_id, setup.secret, "PUT", PATH, body, timestamp=int(time.time()))
    headers["Idempotency-Key"] = "profile-http"
    profiler = cProfile.Profile()
    started = time.perf_counter()
    with profiler:
        response = client.put(PATH, data=body, headers=headers, content_type="application/json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    report("PUT /api/dept/records (whole request, Flask test client)", profiler, elapsed)
    with app.app_context():
        db.engine.dispose()


def logged_errors(log: Path, limit: int = 2) -> list[str]:
    """The exceptions the app logged (JSON lines), last lines of each."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        with suppress(ValueError, AttributeError):
            entry = json.loads(line)
            if entry.get("exception"):
                found.append("\n".join(entry["exception"].splitlines()[-6:]))
    return found[:limit]


# --- gunicorn ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[str]:
    """gunicorn on 127.0.0.1 in its own process group, stopped (and killed if need be) on the way out."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
             "--timeout", str(REQUEST_TIMEOUT), "backend:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            with suppress(requests.RequestException):
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- the two measurements ---------------------------------------------------------------------------------

@dataclass
class HttpResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)


RETRIED = {409, 500, 502, 503}  # concurrent_push, a locked SQLite, a restarting worker: retry as a department would
MAX_TRIES = 5


def push_over_http(base: str, setup: Setup, bodies: list[tuple[bytes, int]], threads: int) -> HttpResult:
    """Send every body, signed, from `threads` threads; a retry is signed anew under the same Idempotency-Key."""
    local = threading.local()
    result = HttpResult(0.0)
    stop = threading.Event()

    def send(index: int, body: bytes, count: int) -> None:
        http = getattr(local, "session", None)
        if http is None:
            http = local.session = requests.Session()
        for attempt in range(1, MAX_TRIES + 1):
            if stop.is_set():
                return
            headers = sign_request(setup.key_id, setup.secret, "PUT", PATH, body, timestamp=int(time.time()))
            headers["Idempotency-Key"] = f"bench-{os.getpid()}-{index}"
            headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            response = http.put(base + PATH, data=body, headers=headers, timeout=REQUEST_TIMEOUT)
            result.latencies.append(time.perf_counter() - started)
            if response.status_code in RETRIED and attempt < MAX_TRIES:
                result.retries.append(f"batch {index}: HTTP {response.status_code} {response.text[:160]}")
                time.sleep(0.2 * attempt)
                continue
            if response.status_code != 200:
                raise RuntimeError(f"batch {index}: HTTP {response.status_code}: {response.text[:500]}")
            answer = response.json()
            if answer["accepted"] != count:
                rejected = [r for r in answer["results"] if r["status"] == "rejected"]
                raise RuntimeError(f"batch {index}: {len(rejected)} rejected, e.g. {rejected[:1]}")
            return

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="push")
    started = time.perf_counter()
    try:
        futures = [pool.submit(send, index, body, count) for index, (body, count) in enumerate(bodies)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    result.seconds = time.perf_counter() - started
    return result


def insert_raw(database: Database, batches: list[list[tuple[Any, ...]]]) -> float:
    """The same rows with the driver's executemany into the scratch table, one commit per batch: seconds."""
    connection = database.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(RAW_TABLE[database.kind])
        if database.kind == "sqlite":
            cursor.execute(RAW_INDEX_SQLITE)
        connection.commit()
        marks = ", ".join(["%s" if database.kind == "mariadb" else "?"] * 10)
        statement = RAW_INSERT.format(marks)
        if database.kind == "sqlite":  # sqlite3 wants ISO strings, as SQLAlchemy stores them
            batches = [[tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
                              if isinstance(v, date) else v for v in row) for row in batch] for batch in batches]
        started = time.perf_counter()
        for batch in batches:
            cursor.executemany(statement, batch)
            connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def count_rows(database: Database, table: str) -> int:
    connection = database.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


@dataclass
class Figures:
    kind: str
    records: int
    http_seconds: float
    raw_seconds: float
    p50: float
    p95: float

    @property
    def http_rate(self) -> float:
        return self.records / self.http_seconds

    @property
    def raw_rate(self) -> float:
        return self.records / self.raw_seconds


def run_one(kind: str, count: int, *, workers: int, threads: int, profile: bool) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="eshare-bench-"))
    try:
        with fresh_database(kind, workdir) as database:
            env = app_env(database, workdir)
            print(f"[{kind}] migrating a fresh database ({database.name or database.path})", flush=True)
            migrate(env)
            setup = set_up(env)
            produced_at = datetime.now(UTC) - timedelta(minutes=30)
            records = make_records(count, produced_at)
            batches = [records[i:i + BATCH] for i in range(0, count, BATCH)]
            bodies = [(json.dumps({"records": batch}, ensure_ascii=False).encode("utf-8"), len(batch))
                      for batch in batches]
            print(f"[{kind}] {count} records in {len(bodies)} batches of ≤{BATCH}, "
                  f"{sum(len(b) for b, _ in bodies) / 1e6:.1f} MB of JSON; gunicorn {workers} workers, "
                  f"{threads} client threads", flush=True)
            # The raw inserts first: InnoDB's background flushing after the larger HTTP load would slow them.
            rows = raw_rows(records, datetime.now(UTC))
            raw_seconds = insert_raw(database, [rows[i:i + BATCH] for i in range(0, count, BATCH)])
            print(f"[{kind}] raw executemany: {raw_seconds:.1f} s, {count / raw_seconds:,.0f} rows/s", flush=True)
            try:
                with gunicorn(env, workers, workdir / "gunicorn.log") as base:
                    http = push_over_http(base, setup, bodies, threads)
            finally:
                for error in logged_errors(workdir / "gunicorn.log"):
                    print(f"  logged by the app:\n{error}", flush=True)
            stored = count_rows(database, "records")
            if stored != count:
                raise RuntimeError(f"[{kind}] {stored} records stored, {count} expected")
            print(f"[{kind}] HTTP: {http.seconds:.1f} s, {count / http.seconds:,.0f} records/s "
                  f"(checked: {stored} records, {count_rows(database, 'record_versions')} versions; "
                  f"{len(http.retries)} retried requests)", flush=True)
            for line in http.retries[:5]:
                print(f"  retried: {line}")
            if profile:
                profile_service(env, setup, produced_at)
            ordered = sorted(http.latencies)
            return Figures(kind, count, http.seconds, raw_seconds, statistics.median(ordered),
                           ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def code_version() -> str:
    """Which code was measured: the commit and whether the tree had changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return commit + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records to push (default 100000)")
    parser.add_argument("--db", choices=["mariadb", "sqlite", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=3, help="client threads sending batches (default 3)")
    parser.add_argument("--profile", action="store_true",
                        help="also push one batch in-process under cProfile and print where the time goes")
    args = parser.parse_args()
    if args.records < 1:
        parser.error("--records must be at least 1")

    def terminate(signum: int, frame: Any) -> None:
        raise Stop()

    signal.signal(signal.SIGTERM, terminate)
    # Also when started in the background, where the shell made us ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kinds = ["mariadb", "sqlite"] if args.db == "both" else [args.db]
    print(f"eshare push benchmark: code {code_version()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    results: list[Figures] = []
    try:
        for kind in kinds:
            results.append(run_one(kind, args.records, workers=args.workers, threads=args.threads,
                                   profile=args.profile))
    except (KeyboardInterrupt, Stop):
        print("\ninterrupted: cleaned up (database dropped, temporary files and gunicorn gone)", file=sys.stderr)
        return 130
    print()
    print(f"{'database':<9} {'records':>8} {'HTTP rec/s':>11} {'raw rows/s':>11} {'HTTP/raw':>9} "
          f"{'batch p50':>10} {'batch p95':>10}")
    for f in results:
        print(f"{f.kind:<9} {f.records:>8} {f.http_rate:>11,.0f} {f.raw_rate:>11,.0f} {f.http_rate / f.raw_rate:>9.2f} "
              f"{f.p50:>9.2f}s {f.p95:>9.2f}s")
    mariadb = next((f for f in results if f.kind == "mariadb"), None)
    if mariadb is not None:
        verdict = "meets" if mariadb.http_rate >= 0.5 * mariadb.raw_rate else "misses"
        print(f"MariaDB: HTTP is {mariadb.http_rate / mariadb.raw_rate:.2f} × raw: {verdict} the target of 0.5 ×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
