"""The hatch test matrix (root pyproject.toml) has one environment per plugin, and the right one.

Each plugin environment must hold the core, the plugin and exactly the repository plugins it
depends on; the ``core`` environment holds the core alone. Fast (reads TOML): not marked
``packaging``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def _pyproject(path: Path) -> dict[str, Any]:
    return tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))


def _plugins() -> dict[str, Path]:
    """Canonical name -> directory of every plugins/*/ that is a distribution."""
    return {
        canonicalize_name(_pyproject(p.parent)["project"]["name"]): p.parent
        for p in sorted((REPO / "plugins").glob("*/pyproject.toml"))
    }


def _closure(name: str, plugins: dict[str, Path]) -> set[str]:
    """``name`` and the repository plugins it needs, transitively."""
    needed, pending = set(), [name]
    while pending:
        current = pending.pop()
        if current in needed:
            continue
        needed.add(current)
        for requirement in _pyproject(plugins[current])["project"].get("dependencies", []):
            dependency = canonicalize_name(Requirement(requirement).name)
            if dependency in plugins:
                pending.append(dependency)
    return needed


@pytest.fixture(scope="module")
def hatch_test() -> dict[str, Any]:
    return _pyproject(REPO)["tool"]["hatch"]["envs"]["hatch-test"]


def _matrix_values(hatch_test: dict[str, Any]) -> list[str]:
    (matrix,) = hatch_test["matrix"]
    assert matrix["python"] == ["3.11"]
    return matrix["plugin"]


def _members(hatch_test: dict[str, Any], value: str) -> list[str]:
    base = [m if isinstance(m, str) else m["path"] for m in hatch_test["workspace"]["members"]]
    overrides = hatch_test["overrides"]["matrix"]["plugin"]["workspace"]["members"]
    return base + [o["value"] for o in overrides if value in o.get("if", [value])]


def test_every_plugin_has_a_matrix_environment(hatch_test):
    values = _matrix_values(hatch_test)

    assert "core" in values
    assert sorted(set(values) - {"core"}) == sorted(
        name.removeprefix("msgflux-") for name in _plugins()
    )


def test_the_core_environment_has_no_plugin(hatch_test):
    assert _members(hatch_test, "core") == ["core"]


def test_each_plugin_environment_holds_exactly_the_plugin_and_what_it_needs(hatch_test):
    plugins = _plugins()
    for value in set(_matrix_values(hatch_test)) - {"core"}:
        members = _members(hatch_test, value)
        assert members[0] == "core" and len(members) == len(set(members)), (value, members)
        installed = {
            canonicalize_name(_pyproject(REPO / m)["project"]["name"]) for m in members[1:]
        }
        assert installed == _closure(f"msgflux-{value}", plugins), value


def test_each_plugin_environment_runs_that_plugins_tests(hatch_test):
    scripts = hatch_test["overrides"]["matrix"]["plugin"]["scripts"]
    (run,) = [s for s in scripts if s["key"] == "run"]

    assert "plugins/msgflux-{matrix:plugin}/tests" in run["value"]
    assert sorted(run["if"]) == sorted(set(_matrix_values(hatch_test)) - {"core"})
    for value in run["if"]:
        assert (REPO / "plugins" / f"msgflux-{value}" / "tests").is_dir(), value
