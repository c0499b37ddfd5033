"""The rooms of ``sim/`` and the direction of its imports.

Rooms, lowest first (each room's ``__init__.py`` says the same):

    inputs      configuration, the city's data, the parameter table: imported by all, imports none
    state       agent tables, Mesa agent views, records, start state, constants
    policy      the policy packages
    behaviour   the submodels a quarter runs
    model       sim/model.py and sim/scenario.py: the schedule of a quarter, one run
    outputs     figures, calibration table, posterior, command line

A room imports only itself and the rooms ``ALLOWED`` lists; ``sim/__init__.py`` and
``sim/__main__.py`` (the public interface and ``python -m sim``) may import any. Every import counts,
also one inside a function: a local import is no way round a wrong arrow. And no chain of imports
between ``sim`` modules leads back to where it started (importing ``sim.x.y`` also runs
``sim/__init__.py`` and ``sim/x/__init__.py``; those edges are left out: a package's own
``__init__`` is not a cycle, and the rooms' ``__init__`` files import nothing, checked below).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"
ROOMS = ("inputs", "state", "policy", "behaviour", "outputs")
TOP = {"sim.model": "model", "sim.scenario": "model", "sim": "package", "sim.__main__": "package"}
ALLOWED = {
    "inputs": {"inputs"},
    "state": {"state", "inputs"},
    "policy": {"policy", "inputs"},
    "behaviour": {"behaviour", "state", "inputs"},
    "model": {"model", "behaviour", "state", "policy", "inputs"},
    "outputs": {"outputs", "model", "behaviour", "state", "policy", "inputs"},
    "package": {"package", "outputs", "model", "behaviour", "state", "policy", "inputs"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def room_of(module: str) -> str:
    if module in TOP:
        return TOP[module]
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    raise AssertionError(f"{module} is in no room: put it in one of sim/{{{','.join(ROOMS)}}}/ (or add it to TOP)")


def imports_of(module: str, tree: ast.AST | None = None, top: str = "sim",
               modules: dict[str, Path] | None = None) -> list[tuple[int, str]]:
    """(line, ``top`` module imported) for every import statement of ``module``, wherever it stands
    (``modules``: the package's modules by name, default sim's)."""
    modules = MODULES if modules is None else modules
    path = modules.get(module)
    tree = tree if tree is not None else ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path is not None and path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name == top or a.name.startswith(f"{top}.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != top and not target.startswith(f"{top}."):
                continue
            for a in node.names:  # from sim.behaviour import labour: the module sim.behaviour.labour
                sub = f"{target}.{a.name}"
                out.append((node.lineno, sub if sub in modules else target))
    return out


def import_graph() -> dict[str, set[str]]:
    return {m: {t for _, t in imports_of(m) if t in MODULES and t != m} for m in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_is_in_a_room():
    top_level = sorted(m for m in MODULES if m.count(".") == 1 and m.split(".")[1] not in ROOMS)
    assert top_level == ["sim.__main__", "sim.model", "sim.scenario"], top_level
    assert {m.split(".")[1] for m in MODULES if m.count(".") == 2} <= set(ROOMS)
    for m in MODULES:
        room_of(m)


@pytest.mark.parametrize("room", ROOMS)
def test_each_room_imports_and_says_what_lives_there(room):
    """The room's ``__init__`` has a docstring naming each of its modules and what it may import,
    and imports nothing (``import sim.state`` stays cheap and hides no arrow)."""
    package = importlib.import_module(f"sim.{room}")
    doc = package.__doc__ or ""
    assert "import" in doc, f"sim/{room}/__init__.py: say what the room may import"
    tree = ast.parse((SIM / room / "__init__.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))], f"sim/{room}/__init__.py"
    members = sorted(m for m in MODULES if m.startswith(f"sim.{room}."))
    assert members, room
    for m in members:
        importlib.import_module(m)
        assert f"``{m.rsplit('.', 1)[1]}.py``" in doc, f"sim/{room}/__init__.py does not name {m}"


def wrong_arrows(modules: dict[str, Path], imports, room_of, allowed: dict[str, set[str]]) -> list[str]:
    """One line per import of ``modules`` that names no module, or a room its own room may not import
    (``imports(module)``: its (line, module imported) pairs; shared with test_experiments_layout.py)."""
    wrong = []
    for m in modules:
        for line, target in imports(m):
            where = f"{modules[m].relative_to(SIM.parent)}:{line}"
            if target not in modules:
                wrong.append(f"{where} imports {target}, which does not exist")
            elif room_of(target) not in allowed[room_of(m)]:
                wrong.append(f"{where} ({room_of(m)}) imports {target} ({room_of(target)}); {room_of(m)} may "
                             f"import {sorted(allowed[room_of(m)])}")
    return wrong


def test_no_module_imports_from_a_room_it_may_not():
    wrong = wrong_arrows(MODULES, imports_of, room_of, ALLOWED)
    assert wrong == [], "\n".join(wrong)


def test_allowed_arrows_have_no_circle():
    """The table itself points one way: no two rooms may import each other, directly or round about."""
    rooms = {r: ALLOWED[r] - {r} for r in ALLOWED}
    assert find_cycle(rooms) is None, find_cycle(rooms)


def test_no_import_cycle_among_sim_modules():
    graph = import_graph()
    assert sum(map(len, graph.values())) > 40  # the parsing sees the imports (model alone has a dozen)
    assert "sim.state.tables" in graph["sim.behaviour.labour"]  # `from sim.state.tables import ...`
    assert "sim.behaviour.links" in graph["sim.behaviour.digital"]  # `from sim.behaviour import finance, links`
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_see_a_local_import_and_a_cycle():
    """The checks themselves: an import inside a function counts, and a cycle is found and shown."""
    tree = ast.parse("def f():\n    from sim.model import ClusterModel\n    from sim.behaviour import labour\n")
    assert [t for _, t in imports_of("sim.state.records", tree)] == ["sim.model", "sim.behaviour.labour"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
