"""A provider is one directory: every ``plugins/msgflux-<name>/`` is registered everywhere.

Adding a provider to this repository means adding ``plugins/msgflux-<name>/`` and then
registering it in a few lists that cannot be derived at run time (pip, hatch and the
CI matrix read them as written). This module checks each of those places for every plugin
directory, and says exactly what to add where when one is missing; the checklist is in
docs/plugins.md ("Adding a provider to this repository"). What *can* be derived is:
``msgflux.providers.KNOWN_PROVIDER_EXTRAS`` comes from the core's extras, ruff's
first-party packages from its ``src`` globs.

Fast (reads TOML and the file tree): not marked ``packaging``. The last test proves the
checks catch a provider directory that was added without its registrations.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import msgflux

REPO = Path(__file__).resolve().parents[2]


# -- reading the repository ------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _get(data: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``, or ``default`` where a key is missing."""
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _member_paths(members: list[Any]) -> list[str]:
    """Hatch workspace members: ``"path"`` or ``{ path = "...", features = [...] }``."""
    return [m if isinstance(m, str) else m["path"] for m in members]


@dataclass(frozen=True)
class Plugin:
    """``plugins/msgflux-<name>/``: the distribution ``msgflux-<name>``, provider ``<name>``."""

    directory: Path

    @property
    def name(self) -> str:
        return self.directory.name.removeprefix("msgflux-")

    @property
    def distribution(self) -> str:
        return self.directory.name

    @property
    def package(self) -> str:
        return "msgflux_" + self.name.replace("-", "_")

    @property
    def relative(self) -> str:
        return f"plugins/{self.directory.name}"

    def pyproject(self) -> dict[str, Any]:
        path = self.directory / "pyproject.toml"
        return _read_toml(path) if path.is_file() else {}


class Repo:
    """The root ``pyproject.toml``, ``core/pyproject.toml`` and plugin directories of ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def config(self) -> dict[str, Any]:
        return _read_toml(self.root / "pyproject.toml")

    @cached_property
    def core(self) -> dict[str, Any]:
        return _read_toml(self.root / "core" / "pyproject.toml")

    @cached_property
    def core_version(self) -> Version:
        return Version(self.core["project"]["version"])

    @cached_property
    def plugins(self) -> list[Plugin]:
        return [Plugin(p) for p in sorted((self.root / "plugins").glob("msgflux-*")) if p.is_dir()]

    def plugin(self, distribution: str) -> Plugin | None:
        wanted = canonicalize_name(distribution)
        return next((p for p in self.plugins if p.distribution == wanted), None)

    def series(self, version: Version | None = None) -> str:
        """The requirement range of one minor series: ``>=0.6,<0.7``."""
        major, minor = (version or self.core_version).release[:2]
        return f">={major}.{minor},<{major}.{minor + 1}"

    def needs(self, plugin: Plugin) -> set[str]:
        """``plugin``'s distribution and the repository plugins it needs, transitively."""
        needed: set[str] = set()
        pending = [plugin]
        while pending:
            current = pending.pop()
            if current.distribution in needed:
                continue
            needed.add(current.distribution)
            for requirement in _get(current.pyproject(), "project.dependencies", []):
                dependency = self.plugin(Requirement(requirement).name)
                if dependency is not None:
                    pending.append(dependency)
        return needed

    def matrix_members(self, value: str) -> list[str]:
        """The workspace members hatch installs for the ``hatch-test`` matrix value ``value``."""
        env = _get(self.config, "tool.hatch.envs.hatch-test", {})
        base = _member_paths(_get(env, "workspace.members", []))
        overrides = _get(env, "overrides.matrix.plugin.workspace.members", [])
        return base + [o["value"] for o in overrides if value in o.get("if", [value])]

    def matrix_values(self) -> list[str]:
        matrices = _get(self.config, "tool.hatch.envs.hatch-test.matrix", [])
        return [value for matrix in matrices for value in matrix.get("plugin", [])]

    def type_checked_packages(self) -> list[str]:
        """The packages ``hatch run types:check`` passes to mypy as ``-p <package>``."""
        scripts = _get(self.config, "tool.hatch.envs.types.scripts.check", [])
        commands = [scripts] if isinstance(scripts, str) else scripts
        # `{args:-p msgflux -p ...}`: the default arguments follow a colon, the others a space.
        return [
            package
            for command in commands
            for package in re.findall(r"(?:^|[\s:])-p\s+([\w.]+)", command)
        ]


# -- the checks: each returns what is missing, worded as what to add where ------------------

Check = Callable[[Repo, Plugin], list[str]]


def check_distribution(repo: Repo, plugin: Plugin) -> list[str]:
    """Its own pyproject.toml, README, tests, package with py.typed, and core requirement."""
    where = plugin.relative
    if not (plugin.directory / "pyproject.toml").is_file():
        return [f"{where}/pyproject.toml is missing: copy another plugin's and rename it"]
    project = plugin.pyproject().get("project", {})
    problems = []
    if canonicalize_name(project.get("name", "")) != plugin.distribution:
        problems.append(
            f"{where}/pyproject.toml: [project] name = {project.get('name')!r}; "
            f"the directory's name says it must be {plugin.distribution!r}"
        )
    packages = _get(plugin.pyproject(), "tool.hatch.build.targets.wheel.packages")
    if packages != [f"src/{plugin.package}"]:
        problems.append(
            f"{where}/pyproject.toml: set [tool.hatch.build.targets.wheel] "
            f'packages = ["src/{plugin.package}"] (got {packages!r})'
        )
    package = plugin.directory / "src" / plugin.package
    if not (package / "__init__.py").is_file():
        problems.append(f"{where}/src/{plugin.package}/__init__.py is missing")
    if not (package / "py.typed").is_file():
        problems.append(
            f"{where}/src/{plugin.package}/py.typed is missing: add the empty file, which tells "
            "users' type checkers that the package has type hints"
        )
    readme = plugin.directory / "README.md"
    if (
        project.get("readme") != "README.md"
        or not readme.is_file()
        or not readme.read_text().strip()
    ):
        problems.append(
            f"{where}/README.md must exist (what the plugin maps, its quirks) and be the "
            'project\'s readme = "README.md"'
        )
    if not list((plugin.directory / "tests").glob("test_*.py")):
        problems.append(
            f"{where}/tests/ has no test_*.py: the hatch matrix runs {where}/tests "
            "(at least a ProviderConformance subclass, see docs/plugins.md)"
        )
    requirements = [Requirement(r) for r in project.get("dependencies", [])]
    core = [r for r in requirements if canonicalize_name(r.name) == "msgflux"]
    if not core or repo.core_version not in core[0].specifier:
        problems.append(
            f'{where}/pyproject.toml: add "msgflux{repo.series()}" to [project] dependencies '
            f"(a range that holds the core's {repo.core_version}; got {[str(r) for r in core]})"
        )
    return problems


def check_entry_point(repo: Repo, plugin: Plugin) -> list[str]:
    """``[project.entry-points.msgflux] <name> = "msgflux_<name>"``: how msgflux finds it."""
    entry_points = _get(plugin.pyproject(), "project.entry-points.msgflux", {})
    if entry_points.get(plugin.name) == plugin.package:
        return []
    return [
        f"{plugin.relative}/pyproject.toml: add [project.entry-points.msgflux] with "
        f'{plugin.name} = "{plugin.package}" (got {entry_points!r})'
    ]


def check_core_extra(repo: Repo, plugin: Plugin) -> list[str]:
    """``msgflux[<name>]`` installs exactly the plugin; ``msgflux[all]`` installs it too."""
    extras = _get(repo.core, "project.optional-dependencies", {})
    version = Version(_get(plugin.pyproject(), "project.version", "0"))
    wanted = f"{plugin.distribution}{repo.series(version)}"
    problems = []
    requirements = [Requirement(r) for r in extras.get(plugin.name, [])]
    if [canonicalize_name(r.name) for r in requirements] != [plugin.distribution] or (
        version not in requirements[0].specifier
    ):
        problems.append(
            "core/pyproject.toml: [project.optional-dependencies] needs "
            f'{plugin.name} = ["{wanted}"] (got {[str(r) for r in requirements]}); '
            f"it is what `pip install 'msgflux[{plugin.name}]'` installs, and what "
            "msgflux.providers.KNOWN_PROVIDER_EXTRAS suggests when the plugin is missing"
        )
    in_all = set()
    for requirement in (Requirement(r) for r in extras.get("all", [])):
        if canonicalize_name(requirement.name) == "msgflux":
            in_all |= {canonicalize_name(e) for e in requirement.extras}
        elif canonicalize_name(requirement.name) == plugin.distribution:
            in_all.add(plugin.name)
    if plugin.name not in in_all:
        problems.append(
            f"core/pyproject.toml: add {plugin.name} to the extras of the `all` extra "
            f'(all = ["msgflux[...,{plugin.name},...]"])'
        )
    return problems


def check_workspaces(repo: Repo, plugin: Plugin) -> list[str]:
    """The dev environment and the benchmarks' environment install every plugin."""
    problems = []
    for env, why in [
        ("default", "the dev environment installs every plugin"),
        ("bench", "the benchmarks measure import msgflux with every plugin installed"),
    ]:
        members = _member_paths(_get(repo.config, f"tool.hatch.envs.{env}.workspace.members", []))
        if plugin.relative not in members:
            problems.append(
                f'pyproject.toml: add "{plugin.relative}" to [tool.hatch.envs.{env}] '
                f"workspace.members ({why})"
            )
    return problems


def check_types(repo: Repo, plugin: Plugin) -> list[str]:
    """``hatch run types:check`` installs the plugin and runs mypy --strict on its package."""
    problems = []
    members = _member_paths(_get(repo.config, "tool.hatch.envs.types.workspace.members", []))
    if plugin.relative not in members:
        problems.append(
            f'pyproject.toml: add "{plugin.relative}" to [tool.hatch.envs.types] '
            "workspace.members (the type check runs against every plugin installed)"
        )
    if plugin.package not in repo.type_checked_packages():
        problems.append(
            f"pyproject.toml: add `-p {plugin.package}` to the mypy command of "
            "[tool.hatch.envs.types.scripts] check (every plugin is type-checked strictly, "
            "its hook implementations against the hookspecs' types)"
        )
    return problems


def check_test_matrix(repo: Repo, plugin: Plugin) -> list[str]:
    """A ``hatch test`` environment with the core, the plugin and what it needs, and no more."""
    if plugin.name not in repo.matrix_values():
        return [
            f'pyproject.toml: add "{plugin.name}" to plugin = [...] of '
            "[[tool.hatch.envs.hatch-test.matrix]] (one test environment per plugin)"
        ]
    problems = []
    members = repo.matrix_members(plugin.name)
    installed = {m.removeprefix("plugins/") for m in members if m.startswith("plugins/")}
    needed = repo.needs(plugin)
    fixes = []
    for missing in sorted(needed - installed):
        if missing == plugin.distribution:
            fixes.append(f'add {{ value = "{plugin.relative}", if = ["{plugin.name}"] }}')
        else:
            fixes.append(f'add "{plugin.name}" to the `if` of {{ value = "plugins/{missing}" }}')
    for extra in sorted(installed - needed):
        fixes.append(f'remove "{plugin.name}" from the `if` of {{ value = "plugins/{extra}" }}')
    if len(members) != len(set(members)):
        fixes.append("list each member once")
    if fixes:
        problems.append(
            "pyproject.toml: [tool.hatch.envs.hatch-test.overrides] matrix.plugin.workspace "
            f"must install exactly {sorted(needed)} for {plugin.name!r} (the plugin and the "
            f"repository plugins it depends on; it installs {sorted(installed)}): "
            + "; ".join(fixes)
        )
    scripts = _get(repo.config, "tool.hatch.envs.hatch-test.overrides.matrix.plugin.scripts", [])
    runs = [s for s in scripts if s.get("key") == "run"]
    if not any(plugin.name in run.get("if", []) for run in runs):
        problems.append(
            f'pyproject.toml: add "{plugin.name}" to the `if` of the `run` script in '
            "[tool.hatch.envs.hatch-test.overrides] matrix.plugin.scripts (so its environment "
            f"runs {plugin.relative}/tests and the core tests that need no plugin)"
        )
    return problems


def check_lint(repo: Repo, plugin: Plugin) -> list[str]:
    """ruff sorts ``import msgflux_<name>`` as first-party."""
    source = f"{plugin.relative}/src"
    globs = _get(repo.config, "tool.ruff.src", [])
    first_party = _get(repo.config, "tool.ruff.lint.isort.known-first-party", [])
    if any(fnmatch.fnmatchcase(source, g) for g in globs) or plugin.package in first_party:
        return []
    return [
        f'pyproject.toml: [tool.ruff] src must cover "{source}" (the glob "plugins/*/src" '
        f"does), or isort will sort {plugin.package} as a third-party package"
    ]


def check_readme(repo: Repo, plugin: Plugin) -> list[str]:
    """The root README's provider table tells users how to install it."""
    readme = (repo.root / "README.md").read_text(encoding="utf-8")
    if f"msgflux[{plugin.name}]" in readme:
        return []
    return [
        f"README.md: add a row for `{plugin.name}` to the provider table under Install "
        f"(install `pip install 'msgflux[{plugin.name}]'`, API key and base URL env vars, "
        "default base URL)"
    ]


CHECKS: list[Check] = [
    check_distribution,
    check_entry_point,
    check_core_extra,
    check_workspaces,
    check_types,
    check_test_matrix,
    check_lint,
    check_readme,
]


def problems_of(repo: Repo, plugin: Plugin) -> list[str]:
    return [problem for check in CHECKS for problem in check(repo, plugin)]


def stale_entries(repo: Repo) -> list[str]:
    """Registrations that name a plugin directory which does not exist (a removed provider)."""
    names = {p.name for p in repo.plugins}
    problems = []
    for value in set(repo.matrix_values()) - {"core"} - names:
        problems.append(
            f"pyproject.toml: hatch-test matrix value {value!r} has no plugins/msgflux-{value}"
        )
    scripts = _get(repo.config, "tool.hatch.envs.hatch-test.overrides.matrix.plugin.scripts", [])
    for script in scripts:
        for value in set(script.get("if", [])) - names - {"core"}:
            problems.append(
                f"pyproject.toml: the hatch-test script {script.get('key')!r} names {value!r}, "
                f"which has no plugins/msgflux-{value}"
            )
    for env in ("default", "bench", "hatch-test", "packaging", "types"):
        for member in _member_paths(
            _get(repo.config, f"tool.hatch.envs.{env}.workspace.members", [])
        ):
            if not (repo.root / member / "pyproject.toml").is_file():
                problems.append(
                    f"pyproject.toml: [tool.hatch.envs.{env}] member {member!r} does not exist"
                )
    packages = {p.package for p in repo.plugins}
    for package in repo.type_checked_packages():
        if package.startswith("msgflux_") and package.split(".")[0] not in packages:
            problems.append(
                f"pyproject.toml: the types check runs mypy on {package}, which no plugins/ "
                "directory builds"
            )
    for extra, requirements in _get(repo.core, "project.optional-dependencies", {}).items():
        for requirement in map(Requirement, requirements):
            name = canonicalize_name(requirement.name)
            if name.startswith("msgflux-") and repo.plugin(name) is None:
                problems.append(
                    f"core/pyproject.toml: extra [{extra}] names {name}, which no plugins/ "
                    "directory builds"
                )
    return problems


# -- this repository -------------------------------------------------------------------------

THIS_REPO = Repo(REPO)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("plugin", THIS_REPO.plugins, ids=lambda p: p.name)
def test_every_provider_directory_is_registered(plugin, check):
    problems = check(THIS_REPO, plugin)

    assert problems == [], f"{plugin.relative} is not fully registered:\n- " + "\n- ".join(problems)


def test_no_registration_names_a_missing_directory():
    problems = stale_entries(THIS_REPO)

    assert problems == [], "\n- ".join(["stale registrations:", *problems])


def test_the_types_check_covers_the_whole_core_and_the_example_plugin():
    (packages_command, third_party_command) = _get(
        THIS_REPO.config, "tool.hatch.envs.types.scripts.check"
    )

    assert "msgflux" in THIS_REPO.type_checked_packages()  # every core module, not a list
    assert "--strict" in packages_command and "--follow-imports" not in packages_command
    assert "examples/msgflux-example-plugin/src/msgflux_acme" in third_party_command
    assert "tests/packaging/typing_public_api.py" in third_party_command


def test_the_core_test_environment_has_no_plugin():
    assert THIS_REPO.matrix_values().count("core") == 1
    assert THIS_REPO.matrix_members("core") == ["core"]


def test_each_plugin_test_environment_runs_that_plugins_tests():
    (matrix,) = _get(THIS_REPO.config, "tool.hatch.envs.hatch-test.matrix")
    scripts = _get(THIS_REPO.config, "tool.hatch.envs.hatch-test.overrides.matrix.plugin.scripts")
    (run,) = [s for s in scripts if s["key"] == "run" and s["if"] != ["core"]]
    (core,) = [s for s in scripts if s["key"] == "run" and s["if"] == ["core"]]

    assert matrix["python"] == ["3.11"]
    assert "plugins/msgflux-{matrix:plugin}/tests" in run["value"]
    # `hatch test` passes its default `tests` to every script unless told not to: a plugin
    # environment would run the whole suite again, not the directories its script names.
    assert _get(THIS_REPO.config, "tool.hatch.envs.hatch-test.default-args") == []
    assert core["value"].endswith("{args:tests}")


@pytest.mark.parametrize("plugin", THIS_REPO.plugins, ids=lambda p: p.name)
def test_an_installed_plugin_declares_the_provider_its_extra_is_named_after(plugin):
    # KNOWN_PROVIDER_EXTRAS maps provider <name> to the extra installing msgflux-<name>:
    # that holds only if msgflux-<name> declares a provider called <name>.
    installed = {p.distribution: p for p in msgflux.list_plugins() if p.distribution}
    if plugin.distribution not in installed:
        pytest.skip(f"{plugin.distribution} is not installed in this environment")
    info = installed[plugin.distribution]

    assert info.error is None, info.error
    assert plugin.name in info.providers, (
        f"{plugin.distribution} declares the providers {info.providers}; it must declare "
        f"{plugin.name!r} (the name of its extra and of its directory)"
    )


# -- the checks catch a provider directory added on its own ----------------------------------


def _synthetic_repo(root: Path) -> Repo:
    """The registrations of this repository, plus ``plugins/msgflux-newprov/``: a complete
    plugin directory (copied from ``msgflux-together``) that nothing registers."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, root / name)
    (root / "core").mkdir()
    shutil.copy(REPO / "core" / "pyproject.toml", root / "core" / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "plugins", root / "plugins", ignore=ignore)
    new = root / "plugins" / "msgflux-newprov"
    shutil.copytree(REPO / "plugins" / "msgflux-together", new, ignore=ignore)
    (new / "src" / "msgflux_together").rename(new / "src" / "msgflux_newprov")
    pyproject = new / "pyproject.toml"
    pyproject.write_text(
        re.sub(r"together|Together", "newprov", pyproject.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    return Repo(root)


def test_a_provider_directory_without_its_registrations_fails_with_what_to_add(tmp_path):
    repo = _synthetic_repo(tmp_path)
    (new,) = [p for p in repo.plugins if p.name == "newprov"]

    problems = problems_of(repo, new)

    # The directory itself is complete: only the registrations outside it are reported.
    assert check_distribution(repo, new) == check_entry_point(repo, new) == []
    assert check_lint(repo, new) == []  # covered by the "plugins/*/src" glob
    text = "\n".join(problems)
    series = repo.series()
    assert f'newprov = ["msgflux-newprov{series}"]' in text  # the extra
    assert "add newprov to the extras of the `all` extra" in text
    assert 'add "plugins/msgflux-newprov" to [tool.hatch.envs.default] workspace.members' in text
    assert 'add "plugins/msgflux-newprov" to [tool.hatch.envs.bench] workspace.members' in text
    assert 'add "plugins/msgflux-newprov" to [tool.hatch.envs.types] workspace.members' in text
    assert "add `-p msgflux_newprov` to the mypy command of" in text
    assert 'add "newprov" to plugin = [...] of [[tool.hatch.envs.hatch-test.matrix]]' in text
    assert "msgflux[newprov]" in text  # the README's provider table
    # Every other plugin of the copy is still fully registered, and nothing is stale.
    assert [p for p in repo.plugins if p.name != "newprov" and problems_of(repo, p)] == []
    assert stale_entries(repo) == []


def test_a_plugin_left_out_of_the_types_check_is_named_and_a_removed_one_is_stale(tmp_path):
    repo = _synthetic_repo(tmp_path)
    config = repo.root / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    # groq's directory stays, its package leaves the mypy command; a package without a
    # directory joins it.
    assert text.count("-p msgflux_groq ") == 1
    config.write_text(text.replace("-p msgflux_groq ", "-p msgflux_gone ", 1))
    repo = Repo(repo.root)
    (groq,) = [p for p in repo.plugins if p.name == "groq"]

    problems = check_types(repo, groq)

    assert problems == [
        "pyproject.toml: add `-p msgflux_groq` to the mypy command of "
        "[tool.hatch.envs.types.scripts] check (every plugin is type-checked strictly, its hook "
        "implementations against the hookspecs' types)"
    ]
    assert stale_entries(repo) == [
        "pyproject.toml: the types check runs mypy on msgflux_gone, which no plugins/ directory "
        "builds"
    ]


def test_a_matrix_value_without_its_workspace_members_says_which_to_add(tmp_path):
    repo = _synthetic_repo(tmp_path)
    config = repo.root / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    # Register newprov in the matrix list only (not in the overrides or the run script).
    config.write_text(text.replace('"core", "openai",', '"core", "newprov", "openai",', 1))
    repo = Repo(repo.root)
    (new,) = [p for p in repo.plugins if p.name == "newprov"]

    problems = "\n".join(check_test_matrix(repo, new))

    assert "must install exactly ['msgflux-newprov', 'msgflux-openai'] for 'newprov'" in problems
    assert '{ value = "plugins/msgflux-newprov", if = ["newprov"] }' in problems
    assert 'add "newprov" to the `if` of { value = "plugins/msgflux-openai" }' in problems
    assert 'add "newprov" to the `if` of the `run` script' in problems
