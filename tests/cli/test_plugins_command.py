"""``msgflux plugins``: what is installed, what failed, as a table and as JSON."""

from __future__ import annotations

import json

import msgflux
from msgflux.plugins import list_plugins

BROKEN_PLUGIN = """
raise RuntimeError("boom at import")
"""

EXTRA_PROVIDER_PLUGIN = """
import msgflux
from msgflux.providers import ProviderSpec


@msgflux.hookimpl
def register_providers():
    return [
        ProviderSpec(name="quiet", extends="fake", supports=frozenset(), api_key_required=False)
    ]


@msgflux.hookimpl
def adapt_params(params):
    return None
"""


def test_json_lists_what_the_python_api_lists(run_cli):
    result = run_cli("plugins", "--json")

    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    discovered = [info for info in list_plugins() if info.builtin or info.distribution]
    assert listed == [info.to_dict() for info in discovered]


def test_json_shows_builtin_fake_provider_without_entry_points(run_cli, cli_env):
    result = run_cli("plugins", "--json", env=cli_env(MSGFLUX_DISABLE_PLUGIN_AUTOLOAD="1"))

    assert result.returncode == 0, result.stderr
    (fake,) = json.loads(result.stdout)
    assert fake["builtin"] is True
    assert fake["providers"] == ["fake"]
    assert fake["error"] is None


def test_table_has_one_row_per_plugin_with_distribution_version_providers_hooks(
    run_cli, install_plugin
):
    env = install_plugin(
        distribution="msgflux-quiet", module="msgflux_quiet", source=EXTRA_PROVIDER_PLUGIN
    )

    result = run_cli("plugins", env=env)

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["DISTRIBUTION", "VERSION", "PROVIDERS", "HOOKS", "STATUS"]
    builtin = next(row for row in rows if row.startswith("msgflux (built-in)"))
    assert msgflux.__version__ in builtin.split()
    quiet = next(row for row in rows if row.startswith("msgflux-quiet"))
    assert quiet.split() == ["msgflux-quiet", "1.2.3", "quiet", "adapt_params", "ok"]
    # Everything this process discovered (entry points + the built-in), plus msgflux-quiet.
    discovered = [info for info in list_plugins() if info.builtin or info.distribution]
    assert len(rows) == len(discovered) + 1


def test_a_broken_plugin_is_listed_with_its_error_and_others_still_work(run_cli, install_plugin):
    env = install_plugin(
        distribution="msgflux-broken", module="msgflux_broken", source=BROKEN_PLUGIN
    )

    table = run_cli("plugins", env=env)
    as_json = run_cli("plugins", "--json", env=env)
    chat = run_cli("chat", "-m", "fake/echo", "still works", env=env)

    assert table.returncode == 0, table.stderr
    broken_row = next(row for row in table.stdout.splitlines() if row.startswith("msgflux-broken"))
    assert "error: RuntimeError: boom at import" in broken_row
    (broken,) = [p for p in json.loads(as_json.stdout) if p["distribution"] == "msgflux-broken"]
    assert broken["error"] == "RuntimeError: boom at import"
    assert broken["providers"] == []
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == "still works\n"


def test_using_the_broken_provider_names_its_distribution_and_exits_1(run_cli, install_plugin):
    env = install_plugin(
        distribution="msgflux-broken", module="msgflux_broken", source=BROKEN_PLUGIN
    )

    result = run_cli("chat", "-m", "msgflux_broken/model", "hi", env=env)

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("msgflux: error: ")
    assert "msgflux-broken" in line
    assert "boom at import" in line
    assert "Traceback" not in result.stderr
