"""The API's errors page (`/docs/errors`) lists every problem code the code base can answer with,
and each problem's `type` is that page's URL at the code."""

import ast
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from core.api import _DRF_PROBLEMS
from core.problems import PORTAL_ONLY, PROBLEMS, problem_type
from tests.api_support import assert_problem, bearer, make_token, post_json

ROOT = Path(__file__).resolve().parents[2]
# The compatibility dialects (compat/) answer in the formats of the APIs they imitate, with their
# own codes: not problem documents of /api/v1, not on the errors page.
APPS = [
    path
    for path in ROOT.iterdir()
    if ((path / "apps.py").exists() or path.name in ("core", "portal")) and path.name != "compat"
]

# The refusals whose `code` becomes a problem's code: the ApplicationError family and the DRF
# exceptions the views and permission classes raise with a code of their own.
RAISERS = {
    "ApplicationError",
    "NotFound",
    "Forbidden",
    "PaymentRequired",
    "Conflict",
    "TooLarge",
    "RateLimited",
    "PermissionDenied",
    "AuthenticationFailed",
    "NotAuthenticated",
    "Throttled",
    "problem_response",
}


def _name(node) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def emitted_codes() -> dict[str, str]:
    """Every literal problem code in the apps' source, with where it is."""
    codes: dict[str, str] = {}
    subclasses = set(RAISERS)
    for path in sorted(p for app in APPS for p in app.rglob("*.py") if "migrations" not in p.parts):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and {_name(base) for base in node.bases} & subclasses:
                subclasses.add(node.name)
                for item in node.body:
                    targets = [_name(target) for target in item.targets] if isinstance(item, ast.Assign) else []
                    if targets in (["code"], ["default_code"]) and isinstance(item.value, ast.Constant):
                        codes.setdefault(item.value.value, str(path.relative_to(ROOT)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in subclasses:
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        codes.setdefault(keyword.value.value, str(path.relative_to(ROOT)))
    for _, code, _ in _DRF_PROBLEMS:
        codes.setdefault(code, "core/api.py")
    return codes


def test_every_problem_code_of_the_code_base_is_on_the_errors_page_or_portal_only():
    codes = emitted_codes()
    assert len(codes) > 40  # the scan finds the codes at all
    missing = {code: where for code, where in codes.items() if code not in PROBLEMS and code not in PORTAL_ONLY}
    assert not missing, f"Add these codes to core.problems.PROBLEMS (or PORTAL_ONLY): {missing}"
    assert not PORTAL_ONLY & PROBLEMS.keys()


def test_errors_page_lists_each_code_with_its_status_meaning_and_action(client):
    response = client.get("/docs/errors")
    assert response.status_code == 200
    page = response.content.decode()
    for code, problem in PROBLEMS.items():
        assert f'id="{code}"' in page
        assert f"<td>{problem.status}</td>" in page
    assert "<code>Retry-After</code>" in page  # the help texts' `names` are code, not backticks


def test_type_of_a_real_problem_answer_resolves_to_the_errors_page_at_its_code(client, owner):
    _, secret = make_token(owner)
    response = post_json(client, "/api/v1/messages", {"to": "+447400123456"}, **bearer(secret))
    body = assert_problem(response, 400, "invalid_request")
    url = urlsplit(body["type"])
    assert body["type"].startswith(settings.PUBLIC_URL + "/")  # absolute, at this deployment
    assert url.fragment == "invalid_request"
    page = client.get(url.path)
    assert page.status_code == 200
    assert f'id="{url.fragment}"' in page.content.decode()


def test_problem_type_is_the_errors_page_of_the_configured_public_url(settings):
    settings.PUBLIC_URL = "https://sms.example.com"
    assert problem_type("rate_limited") == "https://sms.example.com/docs/errors#rate_limited"
