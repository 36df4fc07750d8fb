"""The package's shape, as docs/architecture.md draws it: the daemon runs on a dev server with
its own few dependencies, hub and agent never import each other, the contract package needs
only pydantic and the standard library, and no module imports one that imports it back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "orchestratia"
#: the hub extra's packages: a dev server that installed only `orchestratia` has none of them
#: (starlette, uvicorn and python-multipart are not here: the agent's `mcp` depends on them)
HUB_ONLY = ("fastapi", "sqlalchemy", "alembic", "aiosqlite", "asyncpg", "redis", "jinja2", "argon2",
            "orjson", "limits", "pydantic_settings", "fastapi_offline", "prometheus_client")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the orchestratia modules (and third-party roots) ``path`` imports.
    ``top_level_only``: leave out imports inside functions and under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                if not top_level_only:
                    visit(node.body)
            elif not top_level_only or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def _sources(under: str = "") -> list[Path]:
    return sorted(p for p in (SRC / under).rglob("*.py") if "migrations" not in p.parts)


def test_hub_and_agent_never_import_each_other() -> None:
    crossings = []
    for side, other in (("hub", "orchestratia.agent"), ("agent", "orchestratia.hub")):
        for path in _sources(side):
            bad = sorted(n for n in _imports(path, top_level_only=False) if n == other or n.startswith(other + "."))
            if bad:
                crossings.append(f"{path.relative_to(SRC)} imports {bad}")
    assert not crossings, "\n".join(crossings)


def test_the_contract_needs_only_pydantic_and_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "orchestratia"}
    foreign = []
    for path in _sources("protocol"):
        roots = {name.split(".")[0] for name in _imports(path, top_level_only=False)}
        inside = {n for n in _imports(path, top_level_only=False) if n.startswith("orchestratia.")}
        outside_protocol = {n for n in inside if not n.startswith("orchestratia.protocol")}
        if roots - allowed or outside_protocol:
            foreign.append(f"{path.relative_to(SRC)}: {sorted((roots - allowed) | outside_protocol)}")
    assert not foreign, "\n".join(foreign)


def test_no_module_imports_one_that_imports_it_back() -> None:
    """Counting imports inside functions and under TYPE_CHECKING too: a circle hidden there is
    still two modules that cannot be understood (or moved) one without the other."""
    modules = {_module_name(p): p for p in _sources()}
    graph = {
        # a module's own parent packages are not edges: `from . import _git` names the package
        # only to reach a sibling module
        name: {dep for dep in _imports(path, top_level_only=False)
               if dep in modules and dep != name and not name.startswith(dep + ".")}
        for name, path in modules.items()
    }
    # Tarjan's strongly connected components: any component of two or more modules is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            strongconnect(v)
    assert not circles, f"import circles: {circles}"


def test_the_daemon_and_cli_start_without_the_hubs_dependencies() -> None:
    """As on a dev server that installed only the base package: every hub-extra import fails."""
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {HUB_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: hub extra)")
        return None
sys.meta_path.insert(0, Block())
import orchestratia.agent.daemon, orchestratia.agent.human.mcp_server, orchestratia.agent.launcher
import orchestratia.cli.main
from typer.testing import CliRunner
result = CliRunner().invoke(orchestratia.cli.main.app, ["agent", "--help"])
assert result.exit_code == 0, result.output
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_a_hub_without_redis_never_loads_it() -> None:
    """redis (and what it needs on older Pythons: async_timeout before 3.11.3) is loaded only
    when a Redis URL is configured; a hub on SQLite runs without it."""
    code = """
import sys
from orchestratia.hub.app import create_app
from orchestratia.hub.lifecycle import build
from orchestratia.hub.settings import load_settings
import tempfile
settings = load_settings(data_dir=tempfile.mkdtemp())
create_app(settings); build(settings)
print("redis" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("False"), "a hub without a Redis URL imported redis"


def test_test_files_outside_packages_have_unique_names() -> None:
    """tests/integration, browser, faults and fuzz are not packages: pytest imports their files
    by basename, and a second file of the same name stops the whole run at collection."""
    tests = Path(__file__).resolve().parents[1]
    seen: dict[str, Path] = {}
    for folder in ("integration", "browser", "faults", "fuzz"):
        for path in sorted((tests / folder).rglob("test_*.py")):
            assert path.name not in seen, f"{path} and {seen[path.name]}: rename one"
            seen[path.name] = path
