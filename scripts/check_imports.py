#!/usr/bin/env python3
"""Fails when an app imports one above it, so an import cycle between apps cannot land.

Reads every `import` of every module of the project's packages with `ast`, at any depth (an
import inside a function, the usual way to hide a cycle, counts like one at the top), leaving out
the project's wiring (`WIRING`), which sits above everything by design. Each package has a layer
(`LAYERS`, bottom first); a module may import its own package and the layers below it. Also
prints the app-level graph, so `docs/architecture.md` can be checked against it.

    python scripts/check_imports.py          # exit 1 and a list of offending imports, or 0
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. One entry is one layer; apps in the same layer may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("audit",),
    ("accounts",),
    ("security",),
    ("apikeys",),
    ("contacts",),
    ("messaging",),
    ("inbound",),
    ("verify",),
    ("members",),
    ("webhooks",),
    ("compat",),
    ("portal",),
]

# The project's wiring: it names every app by design (URLs, settings, the Celery app).
WIRING = {
    "portal/urls.py",
    "portal/settings.py",
    "portal/wsgi.py",
    "portal/asgi.py",
    "portal/celery.py",
}


def layer_of() -> dict[str, int]:
    return {app: index for index, apps in enumerate(LAYERS) for app in apps}


def imported_packages(path: Path, packages: set[str]) -> list[tuple[int, str]]:
    """(line, top-level package) for each import of one of `packages` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in packages:
                found.append((node.lineno, top))
    return found


def check(root: Path = ROOT) -> tuple[list[str], dict[str, set[str]]]:
    layers = layer_of()
    packages = set(layers)
    problems: list[str] = []
    graph: dict[str, set[str]] = {app: set() for app in packages}
    for app in sorted(packages):
        base = root / app
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative in WIRING:
                continue
            for line, target in imported_packages(path, packages):
                if target == app:
                    continue
                graph[app].add(target)
                if layers[target] >= layers[app]:
                    problems.append(f"{relative}:{line}: {app} imports {target} (a layer not below it)")
    return problems, graph


def main() -> int:
    problems, graph = check()
    for app, targets in sorted(graph.items(), key=lambda item: layer_of()[item[0]]):
        print(f"{app:10} -> {', '.join(sorted(targets, key=lambda t: layer_of()[t])) or '-'}")
    if problems:
        print(f"\n{len(problems)} import(s) go upward or sideways between apps:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("app imports: downward only, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
