"""The import rules of the house: a service never imports another, `shared/` imports no
service, and no module imports itself back through others (no cycles).

Imports are read with `ast` from the source, so the rules hold for code that is never run in
the tests too. Imports under `if TYPE_CHECKING:` are for annotations only and run never: they
are not arrows. An import inside a function is an arrow (it is an arrow of the design, if not
of the import machinery).
"""

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the production packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            for other in node.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that module `name` (at `path`) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:  # `from pkg import submodule` imports the submodule
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in known else base)
    ours = {_nearest(target, known) for target in targets}
    return {target for target in ours if target is not None and target != name}


def _nearest(target: str, known: dict[str, Path]) -> str | None:
    """`target`, or the nearest package of it that is one of ours (None: a library)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


@functools.cache
def graph() -> dict[str, set[str]]:
    """Every module's arrows to the modules of ours it imports (read once per run)."""
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(arrows.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(arrows):
        if node not in index:
            visit(node)
    return found


def test_every_module_of_the_packages_is_read() -> None:
    """The rules below look at every module: the services and shared are all found."""
    arrows = graph()
    assert {"shared.subjects", "services.dialog.main", "services.gateway.main"} <= set(arrows)
    assert "shared.subjects" in arrows["services.schedule.handlers"]


def test_no_service_imports_another_service() -> None:
    """A service reaches another only over NATS: no module of one imports a module of another."""
    arrows = graph()
    crossing = sorted(
        f"{name} -> {target}"
        for name, targets in arrows.items()
        for target in targets
        if service_of(name) and service_of(target) and service_of(name) != service_of(target)
    )
    assert crossing == []


def test_shared_imports_no_service() -> None:
    """`shared/` is what services build on: nothing in it imports a service."""
    arrows = graph()
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in arrows.items()
        if name.startswith("shared")
        for target in targets
        if target.startswith("services")
    )
    assert upward == []


# Each service's rooms, lowest first: a room imports only rooms before it in its list, shared/,
# and its service's foundation (the top-level modules that import no room: config, models,
# errors, metrics). The other top-level modules (main, application, handlers) wire the rooms
# together and no room imports them. docs/architecture.md draws the same picture.
LAYERS = {
    "services.gateway": ("edge", "bus", "protocols", "admin", "web"),
    "services.dialog": ("engines", "content", "sessions", "turns", "conversations", "evaluation"),
}


def room_of(module: str) -> tuple[str, int] | None:
    """The service and the layer number of `module`'s room, if it is in one."""
    for service, rooms in LAYERS.items():
        parts = module.removeprefix(service + ".").split(".")
        if module.startswith(service + ".") and len(parts) > 1 and parts[0] in rooms:
            return service, rooms.index(parts[0])
    return None


def upward(arrows: dict[str, set[str]]) -> list[str]:
    """The arrows from a room to a room above it, or to a top-level module of its service that
    imports a room itself (the wiring)."""
    wiring = {
        name
        for name, targets in arrows.items()
        if any(name.startswith(s + ".") for s in LAYERS)
        and room_of(name) is None
        and any(room_of(t) is not None for t in targets)
    }
    found = []
    for name, targets in arrows.items():
        here = room_of(name)
        if here is None:
            continue
        for target in targets:
            there = room_of(target)
            above = there is not None and there[0] == here[0] and there[1] > here[1]
            if above or target in wiring:
                found.append(f"{name} -> {target}")
    return sorted(found)


def test_no_room_imports_a_room_above_it() -> None:
    """In the gateway edge/ < bus/ < protocols/ < admin/ < web/, in the dialog engines/ <
    content/ < sessions/ < turns/ < conversations/ < evaluation/: no arrow points back up, and
    no room imports the wiring of its service (main, application, handlers)."""
    assert upward(graph()) == []


def test_there_is_no_import_cycle() -> None:
    """No module imports itself back through others (a package's __init__ counts as one)."""
    assert cycles(graph()) == []


def test_the_rules_catch_what_they_forbid() -> None:
    """The cycle finder sees a cycle, and a service's import of another is seen as crossing."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    known = {"services.a.x": Path("x"), "services.b": Path("b")}
    assert _nearest("services.b.y.z", known) == "services.b"
    assert service_of("services.gateway.bus.bridge") == "gateway"
    assert upward(
        {
            "services.gateway.bus.bridge": {"services.gateway.edge.errors"},
            "services.gateway.edge.limits": {"services.gateway.bus.bridge"},
            "services.dialog.engines.chain": {"services.dialog.main"},
            "services.dialog.main": {"services.dialog.engines.chain"},
            "services.dialog.turns.loop": {"services.dialog.config"},
        }
    ) == [
        "services.dialog.engines.chain -> services.dialog.main",
        "services.gateway.edge.limits -> services.gateway.bus.bridge",
    ]
