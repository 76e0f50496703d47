"""scripts/check_imports.py: apps import only downward, lazy imports included."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
check_imports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_imports)


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_the_project_imports_only_downward():
    problems, graph = check_imports.check()
    assert problems == []
    assert graph["core"] == set()


def test_a_lazy_upward_import_is_refused(tmp_path):
    write(tmp_path, "accounts/services.py", "def f():\n    from messaging.services import x\n    return x\n")
    write(tmp_path, "messaging/services.py", "from accounts.models import User\n")
    problems, graph = check_imports.check(tmp_path)
    assert problems == ["accounts/services.py:2: accounts imports messaging (a layer not below it)"]
    assert graph["messaging"] == {"accounts"}


def test_the_wiring_may_name_every_app(tmp_path):
    write(tmp_path, "portal/urls.py", "import messaging.urls\nimport security.urls\n")
    write(tmp_path, "core/text.py", "import re\n")
    assert check_imports.check(tmp_path)[0] == []


def test_the_bottom_layer_imports_no_app(tmp_path):
    write(tmp_path, "core/errors.py", "import audit\n")
    assert check_imports.check(tmp_path)[0] == ["core/errors.py:1: core imports audit (a layer not below it)"]
