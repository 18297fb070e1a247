"""Plugins as real distributions: built as wheels here, installed, discovered by entry point.

Each scenario installs throwaway plugin wheels into a fresh target directory and runs
``import msgflux`` in a subprocess whose ``PYTHONPATH`` points there, so discovery, broken
plugin isolation, duplicates, the autoload switch and the allow-list are exercised exactly
as for an installed third-party distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_TEMPLATE = """
from msgflux import ProviderSpec, hookimpl

{body}

@hookimpl
def register_providers():
    return [ProviderSpec(name={provider!r}, extends="fake", api_key_required=False)]
"""


def build_wheel(
    root: Path, distribution: str, entry_point: str, provider: str, body: str = ""
) -> Path:
    module = distribution.replace("-", "_")
    project = root / "src" / distribution
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(
        PLUGIN_TEMPLATE.format(body=body, provider=provider)
    )
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{distribution}"
            version = "0.3.0"

            [project.entry-points.msgflux]
            {entry_point} = "{module}"

            [tool.hatch.build.targets.wheel]
            packages = ["{module}"]
            """
        )
    )
    wheels = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(project),
        ],
        check=True,
    )
    return next(wheels.glob(f"{module}-*.whl"))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plugin-wheels")
    return {
        "acme": build_wheel(root, "msgflux-acme", "acme", "acme"),
        "broken": build_wheel(
            root, "msgflux-broken", "broken", "broken", body="raise RuntimeError('boom at import')"
        ),
        "twin-a": build_wheel(root, "msgflux-twin-a", "twin_a", "twin"),
        "twin-b": build_wheel(root, "msgflux-twin-b", "twin_b", "twin"),
    }


def run_with(tmp_path: Path, wheel_paths: list[Path], code: str, **env: str) -> dict:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            *map(str, wheel_paths),
        ],
        check=True,
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MSGFLUX_")}
    full_env.update(env, PYTHONPATH=str(target))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE = """
import json, msgflux as mf
report = {"providers": mf.list_providers(),
          "plugins": {p.name: p.to_dict() for p in mf.list_plugins()}}
try:
    report["answer"] = mf.Model.chat_completion(PROVIDER + "/m")("ping").consume()
except Exception as error:
    report["error"] = [type(error).__name__, str(error), repr(error.__cause__)]
print(json.dumps(report))
"""


def probe(provider: str) -> str:
    return f"PROVIDER = {provider!r}\n" + PROBE


def test_an_installed_plugin_is_discovered_with_its_distribution(tmp_path, wheels):
    report = run_with(tmp_path, [wheels["acme"]], probe("acme"))
    assert "acme" in report["providers"]
    assert report["answer"] == "ping"
    acme = report["plugins"]["acme"]
    assert (acme["distribution"], acme["version"], acme["providers"]) == (
        "msgflux-acme",
        "0.3.0",
        ["acme"],
    )


def test_a_broken_plugin_breaks_only_its_own_provider(tmp_path, wheels):
    report = run_with(tmp_path, [wheels["acme"], wheels["broken"]], probe("broken"))
    assert "acme" in report["providers"]  # the others still work
    name, message, cause = report["error"]
    assert name == "PluginLoadError"
    assert "msgflux-broken" in message and "boom at import" in message
    assert "RuntimeError" in cause
    assert "boom at import" in report["plugins"]["broken"]["error"]
    assert (
        run_with(tmp_path / "again", [wheels["acme"], wheels["broken"]], probe("acme"))["answer"]
        == "ping"
    )


def test_two_distributions_claiming_one_provider_are_named(tmp_path, wheels):
    report = run_with(tmp_path, [wheels["twin-a"], wheels["twin-b"]], probe("twin"))
    name, message, _ = report["error"]
    assert name == "PluginConflictError"
    assert "msgflux-twin-a 0.3.0" in message and "msgflux-twin-b 0.3.0" in message


def test_autoload_switch_and_allow_list(tmp_path, wheels):
    installed = [wheels["acme"], wheels["twin-a"]]
    off = run_with(tmp_path, installed, probe("acme"), MSGFLUX_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "acme" not in off["providers"] and "twin" not in off["providers"]
    assert off["providers"] == ["fake"]  # the built-in provider stays
    assert off["error"][0] == "ProviderNotFoundError"

    only = run_with(tmp_path / "b", installed, probe("acme"), MSGFLUX_PLUGINS="acme")
    assert (
        "acme" in only["providers"]
        and "twin" not in only["providers"]
        and "openai" not in only["providers"]
    )

    by_distribution = run_with(
        tmp_path / "c",
        installed,
        probe("twin"),
        MSGFLUX_DISABLE_PLUGIN_AUTOLOAD="1",
        MSGFLUX_PLUGINS="msgflux-twin-a",
    )
    assert by_distribution["providers"] == ["fake", "twin"]
