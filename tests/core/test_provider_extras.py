"""``KNOWN_PROVIDER_EXTRAS``: derived from the core's extras, read only when an error needs it.

The mapping turns "provider 'groq' is not installed" into ``pip install 'msgflux[groq]'``.
It is not a list of its own: it comes from ``core/pyproject.toml``'s
``[project.optional-dependencies]`` (in a source checkout) or from the installed
distribution's metadata (a wheel install), so a new provider's extra is the only place to
register it. The fallbacks are exercised in a child interpreter that sees a copy of the
``msgflux`` package and nothing else of this environment but its three dependencies.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import msgflux
from msgflux.providers import KNOWN_PROVIDER_EXTRAS

REPO = Path(__file__).resolve().parents[2]
CORE_PYPROJECT = REPO / "core" / "pyproject.toml"
PACKAGE = Path(msgflux.__file__).resolve().parent


def expected_mapping() -> dict[str, str]:
    """Provider -> extra, read from core/pyproject.toml the way a reader of it would."""
    extras = tomllib.loads(CORE_PYPROJECT.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    mapping = {}
    for extra, requirements in extras.items():
        plugins = [
            canonicalize_name(Requirement(r).name)
            for r in requirements
            if canonicalize_name(Requirement(r).name).startswith("msgflux-")
        ]
        if len(plugins) == 1:
            mapping[plugins[0].removeprefix("msgflux-")] = extra
    return mapping


def test_the_mapping_is_the_core_extras_that_install_one_plugin():
    expected = expected_mapping()

    assert dict(KNOWN_PROVIDER_EXTRAS) == expected
    assert expected["groq"] == "groq" and "all" not in expected.values()
    assert "xml" not in KNOWN_PROVIDER_EXTRAS and "fake" not in KNOWN_PROVIDER_EXTRAS


def test_import_msgflux_reads_no_metadata_and_an_error_does():
    code = """
        import json, sys
        before = set(sys.modules)  # interpreter startup (a coverage .pth...) is not msgflux
        import msgflux as mf
        loaded = set(sys.modules) - before
        at_import = sorted(m for m in ("importlib.metadata", "tomllib") if m in loaded)
        try:
            mf.Model.chat_completion("groq/llama-3.3-70b", api_key="k")
        except mf.PluginMissingError as exc:
            error = str(exc)
        print(json.dumps({"at_import": at_import, "error": error}))
    """
    env = {**os.environ, "MSGFLUX_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )

    result = json.loads(out.stdout)
    assert result["at_import"] == []
    assert "pip install 'msgflux[groq]'" in result["error"]


# -- where the extras come from, in a child interpreter ------------------------------------------

PROBE = """
    import json
    import msgflux as mf
    from msgflux.providers import KNOWN_PROVIDER_EXTRAS
    try:
        mf.Model.chat_completion("groq/llama-3.3-70b", api_key="k")
    except (mf.PluginMissingError, mf.ProviderNotFoundError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"mapping": dict(KNOWN_PROVIDER_EXTRAS), "error": error}))
"""


def _dependency_path(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin)


@pytest.fixture
def isolated(tmp_path):
    """``run(with_pyproject, metadata_version)``: the probe's JSON in a child interpreter
    whose ``sys.path`` holds a copy of msgflux (under ``checkout/core/src``, with or without
    ``checkout/core/pyproject.toml``), msgflux's dependencies, and, with a
    ``metadata_version``, a ``msgflux-<version>.dist-info`` as a wheel install writes it."""
    src = tmp_path / "checkout" / "core" / "src"
    shutil.copytree(PACKAGE, src / "msgflux", ignore=shutil.ignore_patterns("__pycache__"))
    deps = tmp_path / "deps"
    deps.mkdir()
    # msgflux's requirements, and typing_extensions, which msgspec uses when it is there.
    for name in ("pluggy", "msgspec", "tenacity", "typing_extensions"):
        origin = _dependency_path(name)
        assert origin is not None or name == "typing_extensions", f"{name} is not installed"
        if origin is not None:
            (deps / origin.name).symlink_to(origin, target_is_directory=origin.is_dir())

    def run(*, with_pyproject: bool, metadata_version: str | None = None) -> dict:
        pyproject = src.parent / "pyproject.toml"
        pyproject.unlink(missing_ok=True)
        if with_pyproject:
            shutil.copy(CORE_PYPROJECT, pyproject)
        for old in deps.glob("msgflux-*.dist-info"):
            shutil.rmtree(old)
        if metadata_version is not None:
            info = deps / f"msgflux-{metadata_version}.dist-info"
            info.mkdir()
            lines = [
                "Metadata-Version: 2.3",
                "Name: msgflux",
                f"Version: {metadata_version}",
                "Requires-Dist: pluggy>=1.5",
                "Requires-Dist: msgflux-groq<0.7,>=0.6; extra == 'all'",
                "Requires-Dist: msgflux-openai<0.7,>=0.6; extra == 'all'",
                "Requires-Dist: msgflux-groq<0.7,>=0.6; extra == 'groq'",
                "Requires-Dist: msgflux-openai<0.7,>=0.6; extra == 'openai'",
                "Requires-Dist: defusedxml>=0.7; extra == 'xml'",
            ]
            (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        code = f"import sys; sys.path[:0] = [{str(src)!r}, {str(deps)!r}]\n"
        out = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", code + textwrap.dedent(PROBE)],
            capture_output=True,
            text=True,
            env={"MSGFLUX_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": os.environ.get("PATH", "")},
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    return run


def test_a_source_checkout_reads_its_pyproject(isolated):
    result = isolated(with_pyproject=True)

    assert result["mapping"] == expected_mapping()
    assert result["error"].startswith("PluginMissingError")
    assert "pip install 'msgflux[groq]'" in result["error"]


def test_an_installed_wheel_reads_its_metadata(isolated):
    result = isolated(with_pyproject=False, metadata_version=msgflux.__version__)

    assert result["mapping"] == {"groq": "groq", "openai": "openai"}
    assert "pip install 'msgflux[groq]'" in result["error"]


def test_metadata_of_another_msgflux_version_is_not_used(isolated):
    # An older msgflux installed beside the code that runs: its extras may name plugins
    # this version does not have.
    result = isolated(with_pyproject=False, metadata_version="0.5.1")

    assert result["mapping"] == {}


def test_without_pyproject_or_metadata_the_error_suggests_no_extra(isolated):
    result = isolated(with_pyproject=False)

    assert result["mapping"] == {}
    assert result["error"].startswith("ProviderNotFoundError: unknown provider 'groq'")
    assert "pip install" not in result["error"]
