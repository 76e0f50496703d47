import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import REPO

PRODUCTION = {
    "DJANGO_ENV": "production",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.internal:5432/portal",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SMS_BACKEND": "kannel",
    "EMAIL_URL": "smtp+tls://portal:secret@smtp.internal:587",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SECRET_KEY",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ENV",
            "DATABASE_URL",
            "REDIS_URL",
            "SMS_BACKEND",
            "EMAIL_URL",
            "WEBHOOK_ALLOW_LOOPBACK",  # the suite's own (tests/settings.py), refused in production
        )
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", env=PRODUCTION)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DATABASE_URL": ""}, "DATABASE_URL must point to PostgreSQL"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "DATABASE_URL must point to PostgreSQL"),
        ({"REDIS_URL": ""}, "REDIS_URL must be set"),
        ({"SMS_BACKEND": "console"}, "SMS_BACKEND=console is for development"),
        ({"SMS_BACKEND": "file"}, "SMS_BACKEND=file is for development"),  # sign-in codes in clear
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES has an entry"),
        ({"WEBHOOK_ALLOW_LOOPBACK": "true"}, "WEBHOOK_ALLOW_LOOPBACK is for development"),
    ],
)
def test_production_refuses_local_defaults(override, message):
    result = run_manage("check", env={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50), **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_to_start_without_an_email_url():
    """The local default (the console backend) would print every reset link into the log."""
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_URL"}
    result = run_manage("check", env={**env, "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode != 0
    assert "EMAIL_URL must be set when DJANGO_ENV=production" in result.stderr


@pytest.mark.parametrize(
    ("email_url", "name"),
    [("consolemail://", "console"), ("memorymail://", "locmem"), ("filemail:///var/tmp/mail", "file")],
)
def test_production_refuses_email_backends_that_keep_reset_links_locally(email_url, name):
    result = run_manage("check", env={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50), "EMAIL_URL": email_url})
    assert result.returncode != 0
    assert f"the {name} e-mail backend is for development and tests only" in result.stderr


def test_production_sends_email_over_smtp_with_a_timeout():
    code = (
        "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT)"
    )
    result = run_manage(
        "shell", "--no-imports", "-c", code, env={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", "smtp.internal", "True", "20"]


def test_production_passes_check_deploy_with_no_warnings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)},
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_hardening_values():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.DEBUG)"
    )
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env={**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", "True", "31536000", "False"]


def test_unknown_environment_name_is_refused():
    result = run_manage("check", env={"DJANGO_ENV": "prod"})
    assert result.returncode != 0
    assert "DJANGO_ENV must be" in result.stderr


def test_local_defaults_need_no_server(tmp_path):
    """What `make run` uses: SQLite, a local-memory cache and the on-disk Celery broker."""
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_BROKER_URL, s.SMS_BACKEND)"
    )
    env = {"VAR_DIR": str(tmp_path)}
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMS_BACKEND")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=REPO,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "filesystem://localhost/",
        "console",
    ]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # the generated key is private
