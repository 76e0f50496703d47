import pytest


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_cache_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_broker_without_details(client, settings):
    from portal.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] == "fail"
    assert body["checks"]["database"] == "ok"
    assert "127.0.0.1" not in response.content.decode()


def test_probes_skip_host_validation_and_the_https_redirect(client, settings):
    """Load balancers probe by IP over plain HTTP; every other page still refuses both."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.head("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3").status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="portal.example.com").status_code == 301
