"""The layers of `agora` read from its imports: nothing imports upward, packages form no cycle.

Every `import` of the package is read with `ast`, at module level and inside functions alike (a
function-level import is still a dependency, only a later one). CONTRIBUTING.md ("Layers") says
what each layer may use and where the signals go.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import agora

PACKAGE = Path(agora.__file__).resolve().parent

#: Bottom to top. A package may import its own layer's packages only where no cycle forms, and
#: any lower layer. `agora` itself is the app factory (agora/__init__.py).
LAYERS: list[set[str]] = [
    {"agora.config", "agora.extensions"},
    {"agora.core"},
    {"agora.auth"},
    {"agora.spaces"},  # the space guard, memberships, news and activity
    {"agora.notifications"},  # features tell people through `notifications.services.notify`
    {"agora.agenda", "agora.documents", "agora.forum", "agora.members", "agora.polls", "agora.tasks"},
    {"agora.search", "agora.admin"},  # search indexes the features; admin manages spaces and people
    {"agora.modules"},  # the registry: it names every module, like the factory
    {"agora", "agora.__main__", "agora.cli", "agora.demo", "agora.scale", "agora.backup"},
]
FEATURES = LAYERS[5]

#: Imports that break the rule on purpose, each (importing module, imported package) with its
#: reason. Keep this short: every line is a place where two modules know each other's insides.
ALLOWED = {
    # Files attached to posts, events, tasks and poll options are documents: the attachment
    # forms and services are the documents module's face to the others.
    ("agora.agenda.forms", "agora.documents"): "attachments",
    ("agora.agenda.views", "agora.documents"): "attachments",
    ("agora.forum.forms", "agora.documents"): "attachments",
    ("agora.forum.views", "agora.documents"): "attachments",
    ("agora.polls.views", "agora.documents"): "attachments",
    ("agora.tasks.forms", "agora.documents"): "attachments",
    ("agora.tasks.views", "agora.documents"): "attachments",
    # What one module shows on a page of another and the registry's panels do not serve yet: the
    # profile's directory form (posted to the profile), the "all my spaces" feed (my tasks).
    ("agora.auth.views", "agora.members"): "profile panel",
    ("agora.agenda.views", "agora.tasks"): "tasks in the personal calendar feed",
    # The chosen date of a date poll becomes an event through the agenda's own service.
    ("agora.polls.services", "agora.agenda"): "date poll to event",
    # A mail about an event carries its invitation.ics: the event is read inside the
    # notification's space and written by the agenda's iCalendar code.
    ("agora.notifications.mails", "agora.agenda"): "event invitation in mails",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Every agora module this file imports, anywhere in it, with the line."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from agora.documents import storage` imports agora.documents.storage.
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name == "agora" or name.startswith("agora.")]


def _package_of(module: str) -> str:
    """The layer unit of a module: `agora` for the factory, else agora.<first part>."""
    parts = module.split(".")
    return module if len(parts) == 1 else ".".join(parts[:2])


def _edges() -> list[tuple[str, str, str, int]]:
    """(importing module, imported module, file, line) for every import of one package by another."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for target, line in _imports(path, module):
            if not _is_module(target):
                target = target.rpartition(".")[0]  # a name imported from a module
            if _package_of(target) != _package_of(module):
                edges.append((module, target, str(path.relative_to(PACKAGE.parent)), line))
    return edges


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py"
    ).is_file()


def _rank(package: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if package in layer:
            return rank
    raise AssertionError(f"{package} is in no layer: add it to LAYERS in tests/test_layers.py and CONTRIBUTING.md")


def _checked_edges():
    return [(m, t, f, line) for m, t, f, line in _edges() if (m, _package_of(t)) not in ALLOWED]


def test_every_package_has_a_layer():
    packages = {_package_of(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    for package in packages:
        _rank(package)


def test_nothing_imports_upward():
    upward = [
        f"{file}:{line}: {module} imports {target}"
        for module, target, file, line in _checked_edges()
        if _rank(_package_of(target)) > _rank(_package_of(module))
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_features_do_not_import_one_another():
    crossing = [
        f"{file}:{line}: {module} imports {target}"
        for module, target, file, line in _checked_edges()
        if _package_of(module) in FEATURES and _package_of(target) in FEATURES
    ]
    assert not crossing, "features reach into each other:\n" + "\n".join(crossing)


def test_views_do_not_import_other_views():
    crossing = [
        f"{file}:{line}: {module} imports {target}"
        for module, target, file, line in _edges()
        if module.endswith(".views") and target.endswith(".views")
    ]
    assert not crossing, "a view module imports another's views:\n" + "\n".join(crossing)


def test_core_knows_no_feature():
    reaching = [
        f"{file}:{line}: {module} imports {target}"
        for module, target, file, line in _edges()
        if _package_of(module) == "agora.core" and _rank(_package_of(target)) > _rank("agora.core")
    ]
    assert not reaching, "\n".join(reaching)


def test_packages_form_no_cycle():
    graph = defaultdict(set)
    for module, target, _, _ in _checked_edges():
        graph[_package_of(module)].add(_package_of(target))

    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            package = todo.pop()
            if package == goal:
                return True
            if package not in seen:
                seen.add(package)
                todo.extend(graph[package])
        return False

    cycles = [f"{a} -> {b} -> ... -> {a}" for a in sorted(graph) for b in sorted(graph[a]) if reaches(b, a)]
    assert not cycles, "import cycles between packages:\n" + "\n".join(sorted(set(cycles)))


def test_every_allowed_exception_is_still_needed():
    used = {(m, _package_of(t)) for m, t, _, _ in _edges()}
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"no longer imported, remove from ALLOWED: {stale}"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import agora.forum.models\n", {"agora.forum.models"}),
        ("def f():\n    from agora.agenda import services\n", {"agora.agenda.services"}),
        ("from . import storage\n", {"agora.documents.storage"}),
        ("from .models import Document\n", {"agora.documents.models.Document"}),
    ],
)
def test_imports_are_read_inside_functions_and_relative(tmp_path, source, expected):
    """The walker itself: function-level and relative imports count."""
    path = tmp_path / "views.py"
    path.write_text(source)
    assert {name for name, _ in _imports(path, "agora.documents.views")} == expected
