"""Every distribution builds, and its sdist and wheel carry the metadata users and pip rely on."""

from __future__ import annotations

import email.parser
import tarfile
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from msgflux.providers import KNOWN_PROVIDER_EXTRAS

pytestmark = pytest.mark.packaging


def _wheel_metadata(wheel) -> tuple[email.message.Message, set[str], str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = (
            archive.read(f"{info}/entry_points.txt").decode()
            if (f"{info}/entry_points.txt" in names)
            else ""
        )
    return metadata, names, entry_points


def _flattened_extra(project, extra: str) -> list[Requirement]:
    """The extra's requirements with ``msgflux[a,b]`` replaced by those of a and b (as hatchling
    writes them into the metadata)."""
    requirements = []
    for requirement in project.extras[extra]:
        if canonicalize_name(requirement.name) == project.name:
            for inner in sorted(requirement.extras):
                requirements += _flattened_extra(project, canonicalize_name(inner))
        else:
            requirements.append(requirement)
    return requirements


def test_twine_check_passes_for_every_sdist_and_wheel(toolbox, built):
    files = [path for b in built.values() for path in (b.sdist, b.wheel)]

    output = toolbox.twine_check(*files)

    assert output.count("PASSED") == len(files), output


def test_wheel_metadata_matches_pyproject(projects, built):
    for name, project in projects.items():
        metadata, _, _ = _wheel_metadata(built[name].wheel)

        assert canonicalize_name(metadata["Name"]) == name
        assert metadata["Version"] == project.version
        assert metadata["Requires-Python"] == project.metadata["requires-python"]
        assert metadata["Summary"] == project.metadata["description"]
        assert metadata["Description-Content-Type"] == "text/markdown"
        readme = (project.path / project.metadata["readme"]).read_text(encoding="utf-8")
        assert metadata.get_payload().strip() == readme.strip(), (
            f"{name}: README not the description"
        )
        assert readme.strip(), f"{name}: empty README"
        declared = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or []}
        expected = {str(r) for r in project.dependencies}
        for extra in project.extras:
            expected |= {
                str(Requirement(f'{r}; extra == "{extra}"'))
                for r in _flattened_extra(project, extra)
            }
        assert declared == expected, name


def test_every_wheel_ships_py_typed_for_each_package(projects, built):
    for name, project in projects.items():
        _, names, _ = _wheel_metadata(built[name].wheel)
        assert project.packages, f"{name}: no wheel packages declared"
        for package in project.packages:
            assert f"{package}/py.typed" in names, f"{name}: {package}/py.typed missing"
            assert f"{package}/__init__.py" in names, f"{name}: {package} is not in the wheel"


def test_sdists_contain_the_source_readme_and_pyproject(projects, built):
    for name, project in projects.items():
        with tarfile.open(built[name].sdist) as archive:
            members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
        assert "pyproject.toml" in members, name
        assert project.metadata["readme"] in members, name
        for package in project.packages:
            assert f"src/{package}/__init__.py" in members, f"{name}: {package} missing from sdist"


def test_plugin_entry_points_are_in_the_wheels(projects, built):
    for name, project in projects.items():
        _, _, entry_points = _wheel_metadata(built[name].wheel)
        if name == "msgflux":
            assert "[console_scripts]\nmsgflux = msgflux.cli:main" in entry_points
            continue
        assert project.entry_points, f"{name} declares no [project.entry-points.msgflux]"
        for ep_name, module in project.entry_points.items():
            assert f"{ep_name} = {module}" in entry_points, name


def test_plugins_require_a_core_range_that_contains_this_core(projects):
    core = projects["msgflux"]
    for name, project in projects.items():
        if name == "msgflux":
            continue
        (requirement,) = [r for r in project.dependencies if canonicalize_name(r.name) == "msgflux"]
        assert Version(core.version) in requirement.specifier, (
            f"{name} requires {requirement}, which excludes core {core.version}"
        )
        assert requirement.specifier.contains("99") is False, f"{name}: no upper bound on msgflux"
        for other in project.dependencies:
            other_name = canonicalize_name(other.name)
            if other_name in projects:
                assert Version(projects[other_name].version) in other.specifier, (name, str(other))


def test_core_extras_name_plugins_with_compatible_ranges(projects):
    core = projects["msgflux"]
    for extra, requirements in core.extras.items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            if name == "msgflux":
                assert set(requirement.extras) <= set(core.extras), f"[{extra}]: {requirement}"
                continue
            if name.startswith("msgflux"):
                assert name in projects, f"extra [{extra}] names {name}, which no plugins/* builds"
                assert Version(projects[name].version) in requirement.specifier, (
                    extra,
                    str(requirement),
                )


def test_every_plugin_has_an_extra_of_its_provider_name(projects):
    core = projects["msgflux"]
    for name in projects:
        if name == "msgflux":
            continue
        extra = name.removeprefix("msgflux-")
        assert extra in core.extras, f"core/pyproject.toml has no extra [{extra}] for {name}"
        assert name in {canonicalize_name(r.name) for r in core.extras[extra]}, extra


def test_the_all_extra_installs_every_plugin(projects, expected_install):
    if "all" not in projects["msgflux"].extras:
        pytest.fail("core/pyproject.toml has no [all] extra")

    expectation = expected_install("all")

    assert expectation.ours == set(projects), "msgflux[all] must install every plugin"


def test_every_extra_the_core_suggests_exists(projects):
    # PluginMissingError tells users `pip install 'msgflux[<extra>]'`: that extra must exist.
    core = projects["msgflux"]
    missing = {p: e for p, e in KNOWN_PROVIDER_EXTRAS.items() if e not in core.extras}
    assert missing == {}, f"extras suggested by msgflux.providers but not declared: {missing}"
