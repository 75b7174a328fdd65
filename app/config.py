"""Every setting the app reads, its default, and why.

Settings come from the environment (12-factor); `create_app(overrides)` lets tests replace any of them.
`load_config()` fails fast when a production deployment is missing something it cannot run without.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Good enough for a laptop, refused in production.
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105


class ConfigError(RuntimeError):
    """The configuration cannot run: raised at start-up, never at request time."""


def database_url(raw: str | None, instance_path: Path) -> str:
    """Normalise DATABASE_URL: default to SQLite under instance/, and use psycopg 3 for PostgreSQL."""
    if not raw:
        return f"sqlite:///{instance_path / 'ias.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def _float(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


def load_config(env: dict[str, str] | None = None, instance_path: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ if env is None else env)
    instance_path = instance_path or ROOT / "instance"
    ias_env = env.get("IAS_ENV", "development")  # development | production | testing
    if ias_env not in {"development", "production", "testing"}:
        raise ConfigError(f"IAS_ENV must be development, production or testing, got {ias_env!r}")
    production = ias_env == "production"

    config: dict[str, Any] = {
        "IAS_ENV": ias_env,
        # Signs session cookies and CSRF tokens. `make run` keeps a random one in instance/secret_key.
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL"), instance_path),
        # Detect connections the database dropped (PostgreSQL restarts, idle timeouts).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Largest request body; photos are the biggest thing a client sends.
        "MAX_CONTENT_LENGTH": _int(env, "IAS_MAX_UPLOAD_MB", 25) * 1024 * 1024,
        # Data rows one upload of a legacy census may hold. An upload is imported while its request waits
        # (about 5 ms a row on 2 cores, so 3 000 rows take some 15 s, inside gunicorn's 30 s timeout);
        # larger workbooks go through `flask imports census FILE`, which has no limit.
        "IAS_IMPORT_MAX_ROWS": _int(env, "IAS_IMPORT_MAX_ROWS", 3000),
        # What one uploaded workbook may hold, checked before it is parsed, so a small hostile .xlsx (a zip
        # bomb, a huge shared-string table, millions of cells) cannot take the web process's memory:
        # together they keep an import within ~200 MB. A 3 000-row census sheet has ~100 000 cells.
        "IAS_IMPORT_MAX_CELLS": _int(env, "IAS_IMPORT_MAX_CELLS", 500_000),
        "IAS_IMPORT_MAX_SHARED_STRINGS": _int(env, "IAS_IMPORT_MAX_SHARED_STRINGS", 200_000),
        "IAS_IMPORT_MAX_TEXT_CHARS": _int(env, "IAS_IMPORT_MAX_TEXT_CHARS", 10_000_000),
        "IAS_IMPORT_MAX_INFLATED_MB": _int(env, "IAS_IMPORT_MAX_INFLATED_MB", 100),
        # Where the district's own data lives (name, bounds, townships, bureaus).
        "IAS_DISTRICT_DIR": env.get("IAS_DISTRICT_DIR", str(ROOT / "districts" / "liangping")),
        # Boundary files (docs/contract.md §2): the largest file read (a district's villages as a
        # Shapefile are a few MB), how far outside the loaded outline a point still counts as inside (GPS
        # error, edges drawn at map scale), and how wide an overlap or gap between neighbours must be to
        # be reported.
        "IAS_BOUNDARY_MAX_MB": _int(env, "IAS_BOUNDARY_MAX_MB", 50),
        "IAS_BOUNDARY_TOLERANCE_M": _float(env, "IAS_BOUNDARY_TOLERANCE_M", 50.0),
        "IAS_BOUNDARY_CHECK_TOLERANCE_M": _float(env, "IAS_BOUNDARY_CHECK_TOLERANCE_M", 10.0),
        # The species registry: lists, species, defaults and control methods.
        "IAS_SPECIES_DIR": env.get("IAS_SPECIES_DIR", str(ROOT / "species_lists")),
        # Lifetime of an API bearer token; field phones stay signed in through a season's work week.
        "IAS_TOKEN_TTL_HOURS": _int(env, "IAS_TOKEN_TTL_HOURS", 24 * 14),
        # Sign-in throttling (app/accounts/throttle.py): a username may fail this many times from one
        # address (or known browser) at once, then waits 30 s, 60 s, … up to the window; one address may
        # fail the budget's number of times (any usernames) before it waits the window out (an IPv6
        # address counts as its /64 network). Counts are forgotten a window after the last attempt.
        "IAS_SIGNIN_MAX_FAILURES": _int(env, "IAS_SIGNIN_MAX_FAILURES", 5),
        "IAS_SIGNIN_ADDRESS_BUDGET": _int(env, "IAS_SIGNIN_ADDRESS_BUDGET", 100),
        "IAS_SIGNIN_WINDOW_MINUTES": _int(env, "IAS_SIGNIN_WINDOW_MINUTES", 15),
        # Reverse proxies in front of the app (0: none). With N, the client's address is the Nth from
        # the right in X-Forwarded-For (and the scheme from X-Forwarded-Proto): the audit log and the
        # sign-in throttle then see the client, not the proxy. Never more than the proxies you run.
        "IAS_PROXY_COUNT": _int(env, "IAS_PROXY_COUNT", 0),
        # Where photos (originals and derivatives) and export files are kept.
        "IAS_STORAGE_DIR": env.get("IAS_STORAGE_DIR", str(instance_path / "storage")),
        # Largest photo accepted, in pixels (decompression bombs stop here, before decoding); 50 MP
        # covers every phone camera in use, including 48 MP sensors.
        "IAS_PHOTO_MAX_PIXELS": _int(env, "IAS_PHOTO_MAX_PIXELS", 50_000_000),
        # Observations with a GPS accuracy worse than this (metres) are flagged `low_accuracy`.
        "IAS_GPS_ACCURACY_LIMIT_M": _float(env, "IAS_GPS_ACCURACY_LIMIT_M", 30.0),
        # A photo whose own GPS is further than this (metres) from the record is flagged `photo_gps_far`.
        "IAS_PHOTO_GPS_MAX_DISTANCE_M": _float(env, "IAS_PHOTO_GPS_MAX_DISTANCE_M", 200.0),
        # A presence record joins the nearest open site of its species within this radius (metres).
        "IAS_SITE_RADIUS_M": _float(env, "IAS_SITE_RADIUS_M", 30.0),
        # Same species within this many metres and hours of another record: flagged `possible_duplicate`.
        "IAS_DUPLICATE_RADIUS_M": _float(env, "IAS_DUPLICATE_RADIUS_M", 10.0),
        "IAS_DUPLICATE_HOURS": _float(env, "IAS_DUPLICATE_HOURS", 6.0),
        # A presence record at a treated site that follows this many absence records in a row clears it.
        "IAS_CLEARED_AFTER_ABSENCES": _int(env, "IAS_CLEARED_AFTER_ABSENCES", 3),
        # A follow-up this many days overdue is escalated to the supervisor.
        "IAS_ESCALATE_AFTER_DAYS": _int(env, "IAS_ESCALATE_AFTER_DAYS", 3),
        # Survey units (docs/surveys.md, Reminders): an assignee is reminded of a unit not started from this
        # many days before its due day; an overdue unit is reported to the campaign's supervisors on each of
        # its first this-many days overdue.
        "IAS_SURVEY_REMIND_DAYS_BEFORE": _int(env, "IAS_SURVEY_REMIND_DAYS_BEFORE", 3),
        "IAS_SURVEY_OVERDUE_REMINDER_DAYS": _int(env, "IAS_SURVEY_OVERDUE_REMINDER_DAYS", 14),
        # The address people reach the app at, for links in e-mails and webhooks.
        "IAS_BASE_URL": env.get("IAS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Outbox delivery (docs/contract.md §2 Notification): a sender's claim lasts this long, renewed just
        # before each message is sent. A transient failure (a mail server or receiver down, a timeout, SMTP
        # 4xx, HTTP 5xx/408/429) is retried for a time, not a number of attempts: an outage of hours must
        # lose no reminder, however many sweeps it spans. Waits double from the first and stop growing at
        # the cap; a delivery still failing this many hours after its first attempt is failed for good.
        # Permanent failures (SMTP 5xx for the address, a webhook's 3xx/4xx answer) fail at once.
        "IAS_DELIVERY_LEASE_SECONDS": _int(env, "IAS_DELIVERY_LEASE_SECONDS", 300),
        "IAS_DELIVERY_RETRY_HOURS": _float(env, "IAS_DELIVERY_RETRY_HOURS", 24.0),
        "IAS_DELIVERY_BACKOFF_SECONDS": _int(env, "IAS_DELIVERY_BACKOFF_SECONDS", 60),
        "IAS_DELIVERY_MAX_BACKOFF_SECONDS": _int(env, "IAS_DELIVERY_MAX_BACKOFF_SECONDS", 3600),
        # The whole of one delivery, connecting to the answer (a receiver may answer slowly forever).
        "IAS_DELIVERY_DEADLINE_SECONDS": _float(env, "IAS_DELIVERY_DEADLINE_SECONDS", 60.0),
        # Webhooks go to public Internet addresses only; these host names (comma-separated, as written in
        # the webhook URLs) are exempt, e.g. a robot gateway inside the bureau's network.
        "IAS_WEBHOOK_ALLOWED_HOSTS": [
            host.strip().lower()
            for host in env.get("IAS_WEBHOOK_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ],
        # How long one webhook request may take (connect, and each read) before it is retried later.
        "IAS_WEBHOOK_TIMEOUT_SECONDS": _float(env, "IAS_WEBHOOK_TIMEOUT_SECONDS", 5.0),
        # How often the scheduler sweeps the outbox and due follow-ups (seconds).
        "IAS_SWEEP_SECONDS": _int(env, "IAS_SWEEP_SECONDS", 60),
        # The daily digest, local time (HH:MM).
        "IAS_DIGEST_AT": env.get("IAS_DIGEST_AT", "08:00"),
        # Outgoing mail. Without MAIL_SERVER, messages are written to the log instead of sent.
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int(env, "MAIL_PORT", 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "") in {"1", "true", "yes"},
        "MAIL_USE_SSL": env.get("MAIL_USE_SSL", "") in {"1", "true", "yes"},
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "ias-tracker@localhost"),
        # Census exports: how long a finished workbook can be downloaded, and how long a running export's
        # claim lasts without progress before another scheduler may take it over.
        "IAS_EXPORT_TTL_HOURS": _int(env, "IAS_EXPORT_TTL_HOURS", 72),
        "IAS_EXPORT_LEASE_SECONDS": _int(env, "IAS_EXPORT_LEASE_SECONDS", 600),
        # The maps' basemap: "osm" (OpenStreetMap), "tianditu" (天地图, needs IAS_TIANDITU_KEY), "none", or
        # the URL template of the bureau's own tile server (https://tiles.example.cn/{z}/{x}/{y}.png).
        # Points and sites are drawn from our own API either way; with "none" the maps need no internet.
        # Offline basemaps (docs/maps.md "Offline basemap"): see check_basemap below.
        "IAS_BASEMAP": env.get("IAS_BASEMAP", "osm"),
        "IAS_TIANDITU_KEY": env.get("IAS_TIANDITU_KEY", ""),
        # For a URL template: its attribution, highest zoom, subdomains ({s}) and typical tile size (KB,
        # for the size estimate shown before tiles are saved for offline use).
        "IAS_BASEMAP_ATTRIBUTION": env.get("IAS_BASEMAP_ATTRIBUTION", ""),
        "IAS_BASEMAP_MAX_ZOOM": _int(env, "IAS_BASEMAP_MAX_ZOOM", 18),
        "IAS_BASEMAP_SUBDOMAINS": env.get("IAS_BASEMAP_SUBDOMAINS", "abc"),
        "IAS_BASEMAP_TILE_KB": _float(env, "IAS_BASEMAP_TILE_KB", 15.0),
        # A URL template must be https:// on a public host name; these hosts (comma-separated, host[:port]
        # as written in the template) are exempt: a tile server inside the bureau's network over http, or
        # the tests' loopback tile server. Empty in production unless the operator names one.
        "IAS_BASEMAP_ALLOWED_HOSTS": [
            host.strip().lower()
            for host in env.get("IAS_BASEMAP_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ],
        # The most tile images one "save this area for offline use" may fetch (each layer's tile counts);
        # 0 turns saving off. Refused above it, before anything is downloaded.
        "IAS_OFFLINE_TILES_MAX": _int(env, "IAS_OFFLINE_TILES_MAX", 5000),
        # Largest page a list endpoint returns (docs/contract.md §3.2).
        "IAS_MAX_PER_PAGE": 500,
        # The time zone people work in; everything is stored in UTC.
        "IAS_TIMEZONE": env.get("IAS_TIMEZONE", "Asia/Shanghai"),
        # Chinese first; English on request.
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": env.get("IAS_TIMEZONE", "Asia/Shanghai"),
        "IAS_LOCALES": ["zh", "en"],
        # Cookies: never readable by scripts; only over HTTPS in production.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # How long a phone stays signed in after the browser is closed (the outbox sends in the background).
        # The remember-me cookie is the app's own (app/accounts/sessions.py); Flask-Login's, which is the
        # user id and an HMAC of it, is switched off by giving it a name nothing ever sets.
        "REMEMBER_COOKIE_DURATION": timedelta(days=_int(env, "IAS_REMEMBER_DAYS", 14)),
        # However often it is renewed, a browser's sign-in ends this many days after the password was
        # typed (ASVS 5.0 7.3.2: an absolute lifetime); then the password is asked for again.
        "IAS_SESSION_MAX_DAYS": _int(env, "IAS_SESSION_MAX_DAYS", 30),
        "REMEMBER_COOKIE_NAME": "flask_login_remember_unused",
        # CSRF is checked by app.accounts.auth for cookie sessions only; bearer-token calls are exempt.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,  # a form left open in the field all morning still submits
        # OpenAPI document at /api/v1/openapi.json.
        "API_TITLE": "IAS Tracker API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }

    check_basemap(config)
    check_delivery(config, env)

    if production:
        check_production(config, env)
    return config


def check_delivery(config: dict[str, Any], env: dict[str, str]) -> None:
    """The outbox's retry settings make sense; the count of attempts they replaced is named, so that a
    deployment still setting it learns that retries are now a window of time, not silently ignored."""
    if env.get("IAS_DELIVERY_MAX_ATTEMPTS"):
        raise ConfigError(
            "IAS_DELIVERY_MAX_ATTEMPTS is no longer read: a failing delivery is retried for "
            "IAS_DELIVERY_RETRY_HOURS after its first attempt "
            "(waits capped at IAS_DELIVERY_MAX_BACKOFF_SECONDS)"
        )
    if config["IAS_DELIVERY_RETRY_HOURS"] < 0:
        raise ConfigError("IAS_DELIVERY_RETRY_HOURS must be 0 (no retry) or more")
    if not 0 < config["IAS_DELIVERY_BACKOFF_SECONDS"] <= config["IAS_DELIVERY_MAX_BACKOFF_SECONDS"]:
        raise ConfigError(
            "IAS_DELIVERY_BACKOFF_SECONDS must be more than 0 and at most IAS_DELIVERY_MAX_BACKOFF_SECONDS"
        )
    # A message is claimed for the lease (renewed just before it is sent): one that took longer could be
    # taken over and sent a second time by another sender.
    if not 0 < config["IAS_DELIVERY_DEADLINE_SECONDS"] < config["IAS_DELIVERY_LEASE_SECONDS"]:
        raise ConfigError(
            "IAS_DELIVERY_DEADLINE_SECONDS must be more than 0 and less than IAS_DELIVERY_LEASE_SECONDS"
        )


BASEMAP_KINDS = ("osm", "tianditu", "none")


def _private_host(host: str) -> bool:
    """A host name no phone reaches on the Internet: loopback, private, link-local, or a bare name."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "." not in name  # "tileserver": only an intranet resolves it
    return not address.is_global


def check_basemap(config: dict[str, Any]) -> None:
    """IAS_BASEMAP is osm, tianditu (with its key), none, or a tile URL template that phones can reach
    over https; an http or intranet/loopback tile server only when its host is in
    IAS_BASEMAP_ALLOWED_HOSTS (the operator says it is meant, as for webhooks)."""
    basemap = config["IAS_BASEMAP"]
    if basemap == "tianditu" and not config["IAS_TIANDITU_KEY"]:
        raise ConfigError("IAS_BASEMAP=tianditu needs IAS_TIANDITU_KEY (a 天地图 browser key)")
    if config["IAS_OFFLINE_TILES_MAX"] < 0:
        raise ConfigError("IAS_OFFLINE_TILES_MAX must be 0 (no saving) or more")
    if not 1 <= config["IAS_BASEMAP_MAX_ZOOM"] <= 22:
        raise ConfigError("IAS_BASEMAP_MAX_ZOOM must be between 1 and 22")
    if config["IAS_BASEMAP_TILE_KB"] <= 0:
        raise ConfigError("IAS_BASEMAP_TILE_KB must be more than 0")
    if basemap in BASEMAP_KINDS:
        return
    parts = urlsplit(basemap)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(
            f"IAS_BASEMAP must be osm, tianditu, none or a tile URL template "
            f"(https://…/{{z}}/{{x}}/{{y}}.png), got {basemap!r}"
        )
    missing = [part for part in ("{z}", "{x}", "{y}") if part not in basemap]
    if missing:
        raise ConfigError(f"IAS_BASEMAP's URL template lacks {', '.join(missing)}: {basemap!r}")
    unknown = sorted(set(re.findall(r"\{([^}]*)\}", basemap)) - {"s", "z", "x", "y", "-y", "r"})
    if unknown:
        raise ConfigError(
            f"IAS_BASEMAP's URL template may use {{s}}, {{z}}, {{x}}, {{y}}, {{-y}} and {{r}} only, "
            f"not {', '.join('{' + name + '}' for name in unknown)}"
        )
    if "{s}" in basemap and not config["IAS_BASEMAP_SUBDOMAINS"]:
        raise ConfigError("IAS_BASEMAP has {s} but IAS_BASEMAP_SUBDOMAINS is empty")
    host = parts.netloc.lower()
    exempt = host in config["IAS_BASEMAP_ALLOWED_HOSTS"]
    if parts.scheme != "https" and not exempt:
        raise ConfigError(
            f"IAS_BASEMAP must be an https:// URL (phones refuse http images on an https site); "
            f"name {host} in IAS_BASEMAP_ALLOWED_HOSTS to allow it anyway"
        )
    if _private_host(parts.hostname or "") and not exempt:
        raise ConfigError(
            f"IAS_BASEMAP points at {host}, which phones cannot reach on the Internet; "
            f"name it in IAS_BASEMAP_ALLOWED_HOSTS if it is the bureau's own tile server"
        )


def secret_bits(secret: str) -> float:
    """An upper estimate of a secret's entropy: its length times the Shannon entropy of its characters.
    A random key scores about its true size (token_urlsafe(48): ~350); "a" * 32 scores 0, and a
    repeated pattern scores as the pattern once."""
    if not secret:
        return 0.0
    for period in range(1, len(secret) // 2 + 1):  # "password" * 5 is worth one "password"
        if secret == (secret[:period] * (len(secret) // period + 1))[: len(secret)]:
            secret = secret[:period]
            break
    counts = [secret.count(ch) for ch in set(secret)]
    per_char = -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts)
    return per_char * len(secret)


# 32 random hex digits (`secrets.token_hex(16)`, a common way to make a key) score 116 on average, but the
# score of a random draw varies: about 1 in 1,000 scored under 100 (the floor here was 100 until a random
# key was refused) and none of 100,000 under 88. 80 keeps every random hex key and still refuses a
# repeated pattern or a few characters repeated ("1" * 31 + "2": 6; "ab" * 15 + "cd": 43).
MIN_SECRET_BITS = 80


def check_production(config: dict[str, Any], env: dict[str, str]) -> None:
    """What a production start-up refuses, each naming the setting to change."""
    if env.get("FLASK_DEBUG", "").lower() in {"1", "true", "yes", "on"} or config.get("DEBUG"):
        raise ConfigError(
            "FLASK_DEBUG must be off in production (the debugger runs code typed into the browser)"
        )
    secret = str(config["SECRET_KEY"])
    if secret == DEV_SECRET_KEY or len(secret) < 32 or secret_bits(secret) < MIN_SECRET_BITS:
        raise ConfigError(
            "SECRET_KEY must be a random value of 32+ characters in production "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if not env.get("DATABASE_URL") or not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        raise ConfigError("DATABASE_URL must point at PostgreSQL in production (not SQLite)")
