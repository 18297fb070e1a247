"""Build every distribution of the repository and install it into fresh virtual environments.

Session-wide, once:

- ``tools``: a virtual environment with pip, hatchling and twine (from the package index);
- ``dist``: the sdist and wheel of ``core/`` and of every ``plugins/*/`` with a
  ``pyproject.toml`` (discovered, so a new plugin is built and checked without editing
  these tests), built with hatchling;
- ``wheelhouse``: wheels of every *third-party* requirement of those distributions
  (``openai``, ``pluggy``, ``msgspec``...), made with ``pip wheel`` from the index. Our own
  distributions are never asked of the index (a different ``msgflux`` is published there):
  they are installed with ``pip install --no-index --find-links <dist> --find-links
  <wheelhouse>``.

Run just these tests with ``pytest -m packaging tests/packaging``; leave them out of a quick
run with ``-m "not packaging"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
CORE_NAME = "msgflux"
EXAMPLE_PLUGIN = REPO / "examples" / "msgflux-example-plugin"

# Generous guards against a hung child process; never a performance assertion.
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "packaging: builds the distributions and installs them into fresh virtual "
        "environments (minutes; needs the package index once for third-party wheels)",
    )


# -- the projects of the repository -----------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """One distribution of the repository, as its ``pyproject.toml`` declares it."""

    path: Path
    name: str  # canonical (PEP 503) name
    version: str
    dependencies: tuple[Requirement, ...]
    extras: Mapping[str, tuple[Requirement, ...]]
    entry_points: Mapping[str, str]  # the `msgflux` group: name -> module
    packages: tuple[str, ...]  # import packages the wheel ships
    metadata: Mapping[str, Any] = field(repr=False)

    @classmethod
    def read(cls, path: Path) -> Project:
        data = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
        project = data["project"]
        wheel = data.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
        packages = wheel.get("wheel", {}).get("packages", [])
        return cls(
            path=path,
            name=canonicalize_name(project["name"]),
            version=project["version"],
            dependencies=tuple(Requirement(r) for r in project.get("dependencies", [])),
            extras={
                canonicalize_name(extra): tuple(Requirement(r) for r in requirements)
                for extra, requirements in project.get("optional-dependencies", {}).items()
            },
            entry_points=dict(project.get("entry-points", {}).get("msgflux", {})),
            packages=tuple(Path(p).name for p in packages),
            metadata=project,
        )

    @property
    def wheel_stem(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}"


def discover_projects() -> dict[str, Project]:
    """``core/`` and every ``plugins/*/`` that has a ``pyproject.toml``, by canonical name."""
    paths = [REPO / "core", *sorted(p.parent for p in (REPO / "plugins").glob("*/pyproject.toml"))]
    projects = [Project.read(path) for path in paths]
    return {project.name: project for project in projects}


def core_extras() -> list[str]:
    """The extras ``core/pyproject.toml`` declares (read at collection time)."""
    return sorted(Project.read(REPO / "core").extras)


@dataclass(frozen=True)
class Expectation:
    """What ``pip install "msgflux[<extra>]"`` must bring: ours and third-party distributions."""

    ours: frozenset[str]
    third_party: frozenset[str]


def _expected_install(projects: Mapping[str, Project], extra: str | None) -> Expectation:
    """Follow the extra's requirements through our own distributions' dependencies."""
    ours: set[str] = set()
    third_party: set[str] = set()
    pending: list[tuple[str, frozenset[str]]] = [
        (CORE_NAME, frozenset({extra}) if extra else frozenset())
    ]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        ours.add(name)
        project = projects[name]
        requirements = list(project.dependencies)
        for wanted in extras:
            if wanted not in project.extras:
                raise AssertionError(f"{name} has no extra {wanted!r}")
            requirements += project.extras[wanted]
        for requirement in requirements:
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency in projects:
                wanted_extras = frozenset(canonicalize_name(e) for e in requirement.extras)
                pending.append((dependency, wanted_extras))
            elif dependency.startswith("msgflux"):
                raise AssertionError(
                    f"{name} requires {requirement}, which no pyproject.toml in this "
                    "repository builds (it would come from the package index)"
                )
            else:
                third_party.add(dependency)
    return Expectation(frozenset(ours), frozenset(third_party))


# -- tools, builds and environments ----------------------------------------------------------


def _isolated_pip_env() -> dict[str, str]:
    """An environment in which pip reads no config file and no PIP_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(
    args: list[Any],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"command failed ({result.returncode}): {' '.join(map(str, args))}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


class Venv:
    """A fresh virtual environment without pip; the session's pip installs into it."""

    def __init__(self, path: Path, toolbox: Toolbox) -> None:
        self.path = path
        self.toolbox = toolbox
        _run([sys.executable, "-m", "venv", "--without-pip", path])
        self.python = path / "bin" / "python"
        self.bin = path / "bin"

    def install(self, *requirements: str, find_links: tuple[Path, ...] = ()) -> str:
        """``pip install --no-index --find-links <dist> --find-links <wheelhouse> ...``."""
        links = [self.toolbox.dist, *find_links, self.toolbox.wheelhouse]
        args: list[Any] = [self.toolbox.python, "-m", "pip", "--python", self.python, "install"]
        args += ["--no-index", "--no-cache-dir"]
        for link in links:
            args += ["--find-links", link]
        return _run([*args, *requirements], env=_isolated_pip_env()).stdout

    def distributions(self) -> dict[str, str]:
        """Every distribution installed in the venv: canonical name -> version."""
        code = """
            import importlib.metadata, json
            installed = importlib.metadata.distributions()
            print(json.dumps({d.metadata["Name"]: d.version for d in installed}))
        """
        return {canonicalize_name(k): v for k, v in self.run_json(code).items()}

    def run(self, code: str, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``code`` with the venv's Python in isolated mode (no PYTHONPATH, no cwd)."""
        full_env = {**_isolated_pip_env(), **(env or {})}
        full_env["NO_PROXY"] = full_env["no_proxy"] = "127.0.0.1"
        return _run(
            [self.python, "-I", "-c", textwrap.dedent(code), *args],
            env=full_env,
            cwd=self.path,
            timeout=RUN_TIMEOUT,
        ).stdout

    def run_json(self, code: str, *args: str, env: Mapping[str, str] | None = None) -> Any:
        return json.loads(self.run(code, *args, env=env))

    def command(
        self, name: str, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a console script the venv installed (``msgflux``), like a user would."""
        full_env = {**_isolated_pip_env(), **(env or {})}
        full_env["NO_PROXY"] = full_env["no_proxy"] = "127.0.0.1"
        argv = [str(self.bin / name), *args]
        if check:
            return _run(argv, env=full_env, cwd=self.path, timeout=RUN_TIMEOUT)
        return subprocess.run(
            argv, capture_output=True, text=True, env=full_env, cwd=self.path, timeout=RUN_TIMEOUT
        )


class Toolbox:
    """The session's build tools and the directories every install reads from."""

    def __init__(self, root: Path, projects: Mapping[str, Project]) -> None:
        self.root = root
        self.projects = projects
        tools = root / "tools"
        # The machine's pip configuration (index, mirrors, certificates) applies here: these
        # are the only steps that use the index, and they ask it for third-party names only.
        _run([sys.executable, "-m", "venv", tools])
        self.python = tools / "bin" / "python"
        _run([self.python, "-m", "pip", "install", "--quiet", "hatchling>=1.24", "twine>=5"])
        self.dist = root / "dist"
        self.dist.mkdir()
        self.wheelhouse = root / "wheelhouse"
        self.wheelhouse.mkdir()
        self._venvs = 0

    def build(self, project: Project, out: Path | None = None) -> tuple[Path, Path]:
        """Build ``project``'s sdist and wheel with hatchling; return their paths."""
        out = out or self.dist
        _run([self.python, "-m", "hatchling", "build", "-d", out], cwd=project.path)
        sdist = out / f"{project.wheel_stem}.tar.gz"
        wheel = out / f"{project.wheel_stem}-py3-none-any.whl"
        assert sdist.is_file() and wheel.is_file(), sorted(p.name for p in out.iterdir())
        return sdist, wheel

    def fill_wheelhouse(self, requirements: list[str]) -> None:
        """Wheels of ``requirements`` (third-party only) and everything they depend on."""
        for requirement in requirements:
            assert not canonicalize_name(Requirement(requirement).name).startswith("msgflux"), (
                f"{requirement} must not be fetched from the index"
            )
        if requirements:
            _run(
                [
                    self.python,
                    "-m",
                    "pip",
                    "wheel",
                    "--quiet",
                    "-w",
                    self.wheelhouse,
                    *sorted(requirements),
                ]
            )
        ours = [p.name for p in self.wheelhouse.iterdir() if p.name.startswith("msgflux")]
        assert ours == [], f"the wheelhouse must hold no msgflux distribution: {ours}"

    def new_venv(self) -> Venv:
        self._venvs += 1
        return Venv(self.root / f"venv-{self._venvs}", self)

    def twine_check(self, *files: Path) -> str:
        return _run([self.python, "-m", "twine", "check", "--strict", *files]).stdout


def third_party_requirements(
    projects: Mapping[str, Project], *extra_projects: Project
) -> list[str]:
    requirements = set()
    for project in [*projects.values(), *extra_projects]:
        for requirement in [
            *project.dependencies,
            *(r for rs in project.extras.values() for r in rs),
        ]:
            name = canonicalize_name(requirement.name)
            if name in projects or name == canonicalize_name(project.name):
                continue
            if not name.startswith("msgflux"):
                requirements.add(str(requirement))
    return sorted(requirements)


@pytest.fixture(scope="session")
def projects() -> dict[str, Project]:
    return discover_projects()


@pytest.fixture(scope="session")
def example() -> Project:
    """The out-of-tree example plugin (not one of the repository's distributions)."""
    return Project.read(EXAMPLE_PLUGIN)


@pytest.fixture(scope="session")
def expected_install(projects: dict[str, Project]) -> Any:
    """``expected_install(extra)`` -> ``Expectation`` of what that extra installs."""
    return lambda extra: _expected_install(projects, extra)


@pytest.fixture(scope="session")
def toolbox(tmp_path_factory: pytest.TempPathFactory, projects: dict[str, Project]) -> Toolbox:
    box = Toolbox(tmp_path_factory.mktemp("packaging"), projects)
    example = (
        [Project.read(EXAMPLE_PLUGIN)] if (EXAMPLE_PLUGIN / "pyproject.toml").is_file() else []
    )
    box.fill_wheelhouse(third_party_requirements(projects, *example))
    return box


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def built(toolbox: Toolbox, projects: dict[str, Project]) -> dict[str, Built]:
    """Every repository distribution built once into ``toolbox.dist``."""
    return {name: Built(*toolbox.build(project)) for name, project in projects.items()}


@pytest.fixture(scope="session")
def loopback() -> Iterator[Any]:
    """One loopback server for the session's installed-package calls (tests clear it)."""
    from msgflux.testing.server import LoopbackServer

    with LoopbackServer() as server:
        yield server


@pytest.fixture
def server(loopback: Any) -> Iterator[Any]:
    loopback.reset()
    yield loopback
    assert loopback.errors == []


@pytest.fixture(scope="session")
def messages_loopback() -> Iterator[Any]:
    """The loopback Anthropic Messages API server, for providers of that wire format."""
    from msgflux.testing.anthropic_server import MessagesServer

    with MessagesServer() as server:
        yield server


@pytest.fixture
def messages_server(messages_loopback: Any) -> Iterator[Any]:
    messages_loopback.reset()
    yield messages_loopback
    assert messages_loopback.errors == []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One test per extra declared in core/pyproject.toml (plus plain `msgflux`), read at
    # collection time so a new extra is tested without editing the tests.
    extras: list[str | None] = [None, *core_extras()]
    if "extra" in metafunc.fixturenames:
        metafunc.parametrize("extra", extras, ids=_extra_ids(extras))
    if "core_only_extra" in metafunc.fixturenames:
        # The extras that install no provider plugin (plain `msgflux`, `msgflux[xml]`).
        projects = discover_projects()
        bare = [e for e in extras if _expected_install(projects, e).ours == {CORE_NAME}]
        metafunc.parametrize("core_only_extra", bare, ids=_extra_ids(bare))


def _extra_ids(extras: list[str | None]) -> list[str]:
    return ["msgflux" if e is None else f"msgflux[{e}]" for e in extras]
