"""The out-of-tree example plugin (examples/msgflux-example-plugin) works as a user gets it.

Built into its own sdist and wheel, installed with pip into a fresh virtual environment next to
the built msgflux and msgflux-openai wheels, discovered, called against the loopback server,
and its own test suite (the conformance suite included) run against the installed packages.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

pytestmark = pytest.mark.packaging

CALL = """
    import json, sys
    import msgflux as mf
    model = mf.Model.chat_completion(
        "acme/acme-large-1", base_url=sys.argv[1], safety_mode="strict"
    )
    whole = model("ping", max_tokens=64, enable_thinking=True)
    streamed = "".join(model("pong", stream=True))
    print(json.dumps({"whole": whole.consume(), "streamed": streamed}))
"""


@pytest.fixture(scope="module")
def example_dist(toolbox, example, tmp_path_factory):
    out = tmp_path_factory.mktemp("example-dist")
    sdist, wheel = toolbox.build(example, out)
    return out, sdist, wheel


@pytest.fixture(scope="module")
def venv(toolbox, built, example_dist):
    out, _, _ = example_dist
    env = toolbox.new_venv()
    env.install("msgflux-acme[test]", find_links=(out,))
    return env


def test_example_sdist_and_wheel_pass_twine_check(toolbox, example_dist):
    _, sdist, wheel = example_dist

    output = toolbox.twine_check(sdist, wheel)

    assert output.count("PASSED") == 2, output


def test_installs_with_exactly_core_and_openai(venv, projects, example):
    ours = {n: v for n, v in venv.distributions().items() if n.startswith("msgflux")}

    assert ours == {
        "msgflux": projects["msgflux"].version,
        "msgflux-openai": projects["msgflux-openai"].version,
        "msgflux-acme": example.version,
    }


def test_msgflux_plugins_lists_acme(venv, example):
    listed = json.loads(venv.command("msgflux", "plugins", "--json").stdout)

    (acme,) = [p for p in listed if p["name"] == "acme"]
    assert acme["distribution"] == "msgflux-acme"
    assert acme["version"] == example.version
    assert acme["providers"] == ["acme"]
    assert acme["error"] is None


def test_calls_acme_against_the_loopback_server(venv, server):
    answer = venv.run_json(CALL, server.base_url, env={"ACME_API_KEY": "acme-key"})

    assert answer == {"whole": "echo: ping", "streamed": "echo: pong"}
    first = server.requests[0]
    assert first.headers["authorization"] == "Bearer acme-key"
    assert first.json["max_tokens"] == 64
    assert first.json["thinking"] == {"type": "enabled"}
    assert first.json["safety_mode"] == "strict"


def test_the_example_test_suite_passes_against_the_installed_wheels(venv, example):
    # Run from the example's directory so pytest uses its own settings (pyproject.toml);
    # msgflux_acme itself is imported from the installed wheel (src/ is not on the path).
    result = subprocess.run(
        [str(venv.python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"],
        cwd=example.path,
        capture_output=True,
        text=True,
        env={"PATH": str(venv.bin), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary  # exit 0 with tests that ran
