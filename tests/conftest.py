"""Test set-up: one migrated database per run, one rolled-back transaction per test.

The database is SQLite in a temporary folder, or PostgreSQL when TEST_DATABASE_URL is set (CI sets it;
`make test` runs the suite once on each). The schema comes from the Alembic migrations, never from
create_all, so the migrations are exercised by every run. Reference data (species registry, district)
is loaded once; each test runs inside a transaction that is rolled back afterwards, and commits inside
the app become savepoints.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession

from app import create_app, refdata
from app.accounts.models import Role, User
from app.accounts.sessions import SESSION_SECRET_KEY, new_session
from app.accounts.tokens import issue_token
from app.district.loading import load_district
from app.extensions import db
from app.species.sync import sync_registry
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def _database_url(tmp_dir: Path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
    return f"sqlite:///{tmp_dir / 'test.db'}"


def _reset_postgres(url: str) -> None:
    """TEST_DATABASE_URL names a throw-away database: start it empty."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def _worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist (`-n 2`, docs/testing.md) each worker needs a database of its own: the first
    (gw0) takes TEST_DATABASE_URL's, the others a sibling named after them (`<name>_gw1`), made empty
    here and dropped when the worker ends."""
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str, name: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = url = _database_url(tmp_path_factory.mktemp("db"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    sibling = given.startswith("postgresql") and worker != "gw0"
    if sibling:
        url = _worker_database(given, worker)
    if url.startswith("postgresql"):
        _reset_postgres(url)
    yield url
    if sibling:
        _drop_database(given, sa.make_url(url).database or "")


# Not traced by coverage (pytest-cov's `no_cover`: tracing pauses for the test's call, not its fixtures): the
# tests `make test-fast` leaves out (Makefile FAST). The floor of pyproject.toml is measured without them,
# and tracing them costs CPU for nothing the floor counts (one fuzzing role: 40-50 CPU-s traced, 35-40
# untraced; docs/testing.md). Every test still runs and asserts the same; only the tracer is off.
UNTRACED = ("tests/browser/", "tests/api/test_fuzz.py", "tests/exports/test_import_limits.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(UNTRACED):
            item.add_marker(pytest.mark.no_cover)


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "IAS_TOKEN_TTL_HOURS": 24,
}


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in production.

    The test itself holds an app context; without this, requests would share its `g` (and so the
    signed-in user Flask-Login caches there) and its database session.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "IAS_MIGRATIONS_DIR": str(ROOT / "migrations"),
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_registry(Path(app.config["IAS_SPECIES_DIR"]))
        load_district(Path(app.config["IAS_DISTRICT_DIR"]))
        db.session.commit()
        from app.species.models import Species

        SPECIES_IDS.update({key: id_ for key, id_ in db.session.execute(sa.select(Species.key, Species.id))})
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session ignores `bind=`; tests need it to use the test's connection."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        if self.bind is not None:
            return self.bind
        return super().get_bind(*args, **kwargs)


@pytest.fixture(autouse=True)
def db_session(app: Flask, request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.node.get_closest_marker("real_commits"):
        yield from _committing_session(app)
        return
    with app.app_context():
        # Deferred: a test that only reads must not hold SQLite's write lock against other connections.
        connection = db.engine.connect().execution_options(sqlite_deferred_begin=True)
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": ConnectionBoundSession,
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


def _committing_session(app: Flask) -> Iterator[Any]:
    """For tests of concurrency (marker `real_commits`): requests commit for real, on their own
    connections. Afterwards every row the test added is deleted (ids above those before it)."""
    with app.app_context():
        tables = [t for t in db.metadata.sorted_tables if "id" in t.c]
        with db.engine.connect() as conn:
            before = {
                t.name: conn.scalar(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0))) for t in tables
            }
        try:
            yield db.session
        finally:
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(tables):
                    conn.execute(sa.delete(table).where(table.c.id > before[table.name]))
                # These deletes go round the ORM, so they do not change the reference data version by
                # themselves: a new one makes every process read its copy again (boundaries a test loaded
                # and left are not kept as if they were still there; app/refdata.py).
                conn.execute(sa.update(refdata.reference_version).values(version=refdata.new_version()))


@pytest.fixture
def storage_dir(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Photos and workbooks stored in a folder of the test's own, not the app's; its path. Modules that
    store files use it for every test: `pytestmark = pytest.mark.usefixtures("storage_dir")`."""
    saved = app.config["IAS_STORAGE_DIR"]
    app.config["IAS_STORAGE_DIR"] = str(tmp_path / "storage")
    yield tmp_path / "storage"
    app.config["IAS_STORAGE_DIR"] = saved


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ApiClient:
    """A test client that sends a bearer token and JSON; `as_user(user)` switches who is calling."""

    def __init__(self, client: FlaskClient, token: str | None = None):
        self.client = client
        self.token = token

    def _headers(self, kwargs: dict[str, Any]) -> dict[str, str]:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def open(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open(path, method=method, headers=self._headers(kwargs), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.open("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def make_user(db_session: Any) -> Any:
    def make(role: Role | str = Role.SURVEYOR, organization: str = "forestry", **kwargs: Any) -> User:
        return UserFactory(role=Role(role), organization_code=organization, **kwargs)

    return make


@pytest.fixture
def api_as(client: FlaskClient, make_user: Any) -> Any:
    """`api_as("surveyor")` or `api_as(user)`: an API client signed in with a bearer token."""

    def as_(who: Role | str | User, organization: str = "forestry") -> ApiClient:
        user = who if isinstance(who, User) else make_user(who, organization)
        token, _ = issue_token(user)
        db.session.commit()
        api = ApiClient(client, token)
        api.user = user  # type: ignore[attr-defined]
        return api

    return as_


class WebClient:
    """A browser session: signed in by cookie, with the CSRF token a page would carry added to posts.

    `web.get(path)`, `web.post(path, data={...})` (form) or `web.post(path, json=..., headers=...)`.
    """

    def __init__(self, client: FlaskClient, user: User, user_id: int, session_secret: str):
        self.client = client
        self.user = user
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
            session[SESSION_SECRET_KEY] = session_secret  # a row in user_sessions, as a sign-in makes
        self._csrf: str | None = None

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            import re

            html = self.client.get("/").get_data(as_text=True)
            match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
            assert match, "the home page carries no CSRF token"
            self._csrf = match.group(1)
        return self._csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if "json" in kwargs:
            headers = dict(kwargs.pop("headers", {}) or {})
            headers.setdefault("X-CSRFToken", self.csrf)
            return self.client.post(path, headers=headers, **kwargs)
        form = dict(data or {})
        form.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=form, **kwargs)


@pytest.fixture
def web_as(app: Flask, make_user: Any) -> Any:
    """`web_as("supervisor")` or `web_as(user)`: a browser session signed in as that user (own client)."""

    def as_(who: Role | str | User, organization: str = "forestry", **user_fields: Any) -> WebClient:
        user = who if isinstance(who, User) else make_user(who, organization, **user_fields)
        user_id = user.id  # read before the commit expires it: a read after it would open a transaction
        _row, secret, _remember = new_session(user)
        db.session.commit()
        return WebClient(app.test_client(), user, user_id, secret)

    return as_


@pytest.fixture
def anonymous_api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def count_queries(app: Flask) -> Any:
    """Use as a context manager: `with count_queries() as queries: ...; len(queries)`."""
    from contextlib import contextmanager

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                statements.append(statement)

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)

    return counting


# ---------------------------------------------------------------------------------------------
# Observations

# A point in a Liangping paddy (WGS-84), well inside the district.
PADDY = (30.6712, 107.8003)


# Species ids by registry key, read once after the registry is loaded (no query inside a test, which
# on SQLite would hold a read transaction beside the requests of a `real_commits` test).
SPECIES_IDS: dict[str, int] = {}


@pytest.fixture
def species_id(app: Flask) -> Any:
    """`species_id("pomacea-canaliculata")`: a species' id by its registry key."""
    return SPECIES_IDS.__getitem__


@pytest.fixture
def observation_payload(species_id: Any) -> Any:
    """A valid 福寿螺 presence record, with any field replaced (None removes a field)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    def build(**changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_uuid": str(uuid.uuid4()),
            "species_id": species_id("pomacea-canaliculata"),
            "observed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "latitude": PADDY[0],
            "longitude": PADDY[1],
            "accuracy_m": 6.5,
            "township_code": "500155001",
            "habitat": "paddy",
            "density_per_m2": 12.0,
            "egg_masses_per_m2": 3.0,
            "area_m2": 1333.4,
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not None}

    return build


@pytest.fixture
def make_observation(observation_payload: Any) -> Any:
    """`make_observation(api, **changes)`: POST a record through the API and return its JSON."""

    def make(api: ApiClient, **changes: Any) -> dict[str, Any]:
        response = api.post("/api/v1/observations", json=observation_payload(**changes))
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    return make


@pytest.fixture
def treat(make_observation: Any) -> Any:
    """`treat(api, method="chemical", days_ago=10, **fields)`: a recorded 福寿螺 site, then a control
    operation on it through the API; returns (operation JSON, baseline observation JSON)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    def run(api: ApiClient, method: str = "chemical", days_ago: float = 10, **fields: Any) -> Any:
        performed = datetime.now(UTC) - timedelta(days=days_ago)
        baseline = fields.pop("baseline", None) or make_observation(
            api,
            observed_at=(performed - timedelta(hours=2)).isoformat(),
            density_per_m2=20.0,
            egg_masses_per_m2=6.0,
        )
        details = {
            "chemical": {"product": "四聚乙醛", "registration_no": "PD20101234", "dose_g_per_mu": 500},
            "hand_collection": {"kg_removed": 12.5},
        }.get(method, {})
        body = {
            "client_uuid": str(uuid.uuid4()),
            "observation_id": baseline["id"],
            "method": method,
            "performed_at": performed.isoformat(),
            "area_m2": 2000,
            "details": details,
            "labour_person_days": 1.5,
            "cost_yuan": 320,
            "team": "梁山街道农技站",
            **fields,
        }
        response = api.post("/api/v1/control-operations", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json(), baseline

    return run
