"""Versions: this repository's distributions upgrade an installed msgflux 0.5.

msgflux 0.5.x is what the package index has; a program written for it is upgraded with
``pip install -U msgflux`` only if these distributions sort after it, and pip picks a
pre-release only when asked (``--pre``). Every requirement between our own distributions
must admit the versions this repository builds, or pip cannot install them together.

Fast (reads TOML): not marked ``packaging``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import msgflux

REPO = Path(__file__).resolve().parents[2]
LAST_RELEASE = Version("0.5.1")  # the newest msgflux on the package index before this layout

DISTRIBUTIONS = [
    REPO / "core",
    *sorted(p.parent for p in (REPO / "plugins").glob("*/pyproject.toml")),
    REPO / "examples" / "msgflux-example-plugin",
]


def _project(directory: Path) -> dict:
    return tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))["project"]


VERSIONS = {
    canonicalize_name(_project(d)["name"]): Version(_project(d)["version"]) for d in DISTRIBUTIONS
}


def test_the_package_reports_its_distributions_version():
    assert Version(msgflux.__version__) == VERSIONS["msgflux"], (
        "core/src/msgflux/__init__.py's __version__ must be core/pyproject.toml's version"
    )


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_pip_install_upgrade_moves_a_0_5_install_to_this_version(name):
    version = VERSIONS[name]

    assert version > LAST_RELEASE, f"{name} {version} would not replace msgflux {LAST_RELEASE}"
    assert not version.is_prerelease and not version.is_devrelease, (
        f"{name} {version}: pip install -U skips pre-releases unless given --pre"
    )


@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=lambda d: d.name)
def test_requirements_between_our_distributions_admit_the_versions_built_here(directory):
    project = _project(directory)
    requirements = [Requirement(r) for r in project.get("dependencies", [])]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(r) for r in extra]

    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in VERSIONS or name == canonicalize_name(project["name"]):
            continue
        assert requirement.specifier.contains(VERSIONS[name]), (
            f"{directory.relative_to(REPO)}/pyproject.toml requires {requirement}, which "
            f"excludes {name} {VERSIONS[name]}"
        )
        assert not requirement.specifier.contains(LAST_RELEASE), (
            f"{requirement} admits {name} {LAST_RELEASE}, the earlier system this one replaces"
        )
