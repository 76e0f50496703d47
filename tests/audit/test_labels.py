"""Every audit event code the code base records has a human label (audit.labels); the audit-log
page shows the label, the CSV keeps the code (and adds the label last)."""

import ast
import re
from pathlib import Path

import pytest

from audit.labels import LABELS, action_label
from audit.services import audit_record
from messaging.models import LedgerEntry, SenderName
from tests.audit.test_audit_log import AUDIT, csv_rows

ROOT = Path(__file__).resolve().parents[2]
APPS = [path for path in ROOT.iterdir() if (path / "apps.py").exists() or path.name in ("core", "portal")]
DOTTED = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
# The functions that record an audit event, with the event's code among their arguments.
RECORDERS = {"audit_record", "audit_member", "_audit", "_audit_key"}
# Codes built at run time: the f-string as written → every code it makes. A new f-string fails the
# test until it is listed here (and its codes get labels).
KEY_ACTIONS = ("created", "enabled", "disabled", "deleted")
BUILT = {
    "f'{kind}.{action}'": [
        *(f"{kind}.{action}" for kind in ("api_token", "api_credential") for action in KEY_ACTIONS),
        "api_credential.reset",
    ],
    "f'billing.{kind}'": [f"billing.{kind}" for kind in LedgerEntry.Kind.values],
    "f'sender_name.{status}'": [f"sender_name.{status}" for status in SenderName.Status.values],
}


def _name(node) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def recorded_codes() -> dict[str, str]:
    """Every audit event code in the apps' source, with where it is: the literal codes among the
    arguments of RECORDERS, in `action=`/`…_action=` arguments and `action = …` assignments
    (module constants followed), and the f-strings of BUILT expanded."""
    trees = {
        path: ast.parse(path.read_text())
        for app in APPS
        for path in sorted(app.rglob("*.py"))
        if "migrations" not in path.parts
    }
    constants = {
        target.id: node.value.value
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    codes: dict[str, str] = {}

    def collect(expression, where: str) -> None:
        for node in ast.walk(expression):
            if isinstance(node, ast.JoinedStr):
                source = ast.unparse(node)
                assert source in BUILT, f"{where}: list the codes of {source} in BUILT (and label them)"
                for code in BUILT[source]:
                    codes.setdefault(code, where)
            value = constants.get(node.id) if isinstance(node, ast.Name) else getattr(node, "value", None)
            if isinstance(value, str) and DOTTED.match(value):
                codes.setdefault(value, where)

    def is_action(name: str | None) -> bool:
        return bool(name) and (name == "action" or name.endswith("_action"))

    for path, tree in trees.items():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in RECORDERS:
                for argument in [*node.args, *(k.value for k in node.keywords if is_action(k.arg))]:
                    collect(argument, where)
            elif isinstance(node, ast.Call) and _name(node.func) != "Event":  # hub events are not audit events
                for keyword in node.keywords:
                    if is_action(keyword.arg):
                        collect(keyword.value, where)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and is_action(t.id) for t in node.targets
            ):
                collect(node.value, where)
    return codes


def test_every_audit_event_code_of_the_code_base_has_a_label():
    codes = recorded_codes()
    assert {"auth.login.success", "api_token.created", "billing.topup", "webhook.created"} <= codes.keys()
    missing = {code: where for code, where in codes.items() if code not in LABELS}
    assert not missing, f"Add labels to audit.labels.LABELS for: {missing}"


def test_labels_are_words_not_codes():
    for code, label in LABELS.items():
        assert label[:1].isupper(), (code, label)
        assert not {".", "_"} & set(label), (code, label)
    assert action_label("auth.login.success") == "Signed in"


@pytest.mark.django_db
def test_the_audit_log_shows_labels_and_its_csv_keeps_the_code(client, owner):
    audit_record(action="auth.login.success", actor=owner)
    client.force_login(owner)
    page = client.get(AUDIT).content.decode()
    assert "Signed in" in page
    assert "<code>auth.login.success</code>" not in page
    assert '<option value="auth.login.success">Signed in</option>' in page  # the filter too
    header, *rows = csv_rows(client.get(AUDIT, {"format": "csv"}))
    row = next(row for row in rows if row[1] == "auth.login.success")
    assert row[header.index("event")] == "Signed in"
