"""``msgflux profile``: a model's capabilities, limits and prices from the packaged catalogue."""

from __future__ import annotations

import json

import msgspec
import pytest

from msgflux.models.profiles import get_model_profile

# A model whose hosted listing the catalogue carries (the profiles docs use it too).
PROVIDER, MODEL_ID = "openai", "gpt-4.1-mini"


@pytest.fixture(scope="module")
def profile():
    found = get_model_profile(MODEL_ID, provider_id=PROVIDER)
    assert found is not None, "the packaged catalogue lost gpt-4.1-mini at openai"
    return found


def test_json_is_the_profile_the_python_api_returns(run_cli, profile):
    result = run_cli("profile", "--json", f"{PROVIDER}/{MODEL_ID}")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == msgspec.to_builtins(profile)


def test_text_shows_capabilities_limits_and_prices(run_cli, profile):
    result = run_cli("profile", f"{PROVIDER}/{MODEL_ID}")

    assert result.returncode == 0, result.stderr
    head, *lines = result.stdout.splitlines()
    assert head.startswith(f"{PROVIDER}/{MODEL_ID}")
    rows = {line.split(None, 1)[0]: line for line in lines}
    enabled = [
        name
        for name in profile.capabilities.__struct_fields__
        if getattr(profile.capabilities, name)
    ]
    assert rows["capabilities"].split(None, 1)[1] == ", ".join(enabled)
    assert f"context {profile.limits.context:,}" in rows["limits"]
    assert f"input {profile.cost.input_per_million:g}" in rows["cost"]
    assert f"output {profile.cost.output_per_million:g}" in rows["cost"]


def test_an_unknown_model_exits_1(run_cli):
    result = run_cli("profile", "openai/no-such-model-anywhere")

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("msgflux: error: no profile known for model 'no-such-model-anywhere'")


def test_profile_needs_no_plugin(run_cli, cli_env):
    result = run_cli(
        "profile",
        "--json",
        f"{PROVIDER}/{MODEL_ID}",
        env=cli_env(MSGFLUX_DISABLE_PLUGIN_AUTOLOAD="1"),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == MODEL_ID
