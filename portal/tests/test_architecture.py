"""The shape of the code, checked: no import cycle among the project's modules, no module
importing another's private name, no import inside a function to dodge a cycle, and API
viewsets that read through their app's selectors.

The direction of dependency between apps is import-linter's (pyproject.toml, run by `make
test`); these are the rules it has no contract for. grimp is import-linter's own import graph.
"""

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "teams", "streams", "okrs", "portal")


def project_files(*, with_tests: bool = True):
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or (not with_tests and "tests" in path.parts):
                continue
            yield path


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_are_found_when_there_are_some():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_projects_modules():
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_name():
    offences = []
    for path in project_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                offences += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert offences == []


def test_no_import_of_the_project_inside_a_function_outside_an_apps_ready():
    """An import inside a function hides a cycle; Django's AppConfig.ready is the one place
    where importing late is the rule (signals, access rules)."""
    offences = []
    for path in project_files(with_tests=False):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if path.name == "apps.py" and function.name == "ready":
                continue
            for node in ast.walk(function):
                project = (
                    isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PACKAGES)
                ) or (isinstance(node, ast.Import) and any(a.name.split(".")[0] in PACKAGES for a in node.names))
                if project:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} in {function.name}")
    assert offences == []


def test_api_viewsets_read_through_the_apps_selectors():
    """A viewset's list is the app's selector (the one the pages or tasks would use), not a
    queryset written in the view: `queryset = X.objects...` or a `get_queryset` reaching for
    a manager is refused."""
    offences = []
    for path in sorted(ROOT.glob("*/api/views.py")):
        for cls in ast.walk(ast.parse(path.read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for statement in cls.body:
                reads = (
                    isinstance(statement, ast.Assign)
                    and any(getattr(t, "id", "") == "queryset" for t in statement.targets)
                ) or (isinstance(statement, ast.FunctionDef) and statement.name == "get_queryset")
                if reads and any(isinstance(n, ast.Attribute) and n.attr == "objects" for n in ast.walk(statement)):
                    offences.append(f"{path.relative_to(ROOT)}:{statement.lineno} {cls.name}")
    assert offences == []


def is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent is a module, not a package
        return False


def test_the_benchmarks_and_scripts_import_names_that_exist():
    """They run outside the suite (`make bench`, CI's fuzzing): a move must not break them silently."""
    import importlib

    missing = []
    for path in sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "scripts").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name) and not is_module(f"{node.module}.{alias.name}"):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    assert missing == []
