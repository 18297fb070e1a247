"""``pip install "msgflux[<extra>]"`` from our built wheels, in a fresh virtual environment.

For every extra in ``core/pyproject.toml`` (and for plain ``msgflux``): exactly the expected
msgflux distributions are installed, discovery finds their providers without importing a
vendor SDK, and each provider answers a call against the loopback server, through the
Python API and through the installed ``msgflux`` command.
"""

from __future__ import annotations

import json

import pytest

from msgflux.providers import KNOWN_PROVIDER_EXTRAS

pytestmark = pytest.mark.packaging

PROBE = """
    import json, sys
    import msgflux
    print(json.dumps({
        "plugins": [info.to_dict() for info in msgflux.list_plugins()],
        "providers": msgflux.list_providers(),
        "vendor_sdks_imported": sorted(m for m in ("openai", "httpx", "groq") if m in sys.modules),
    }))
"""

CALL = """
    import json, sys
    import msgflux as mf
    provider, base_url = sys.argv[1:3]
    model = mf.Model.chat_completion(f"{provider}/loopback-model", base_url=base_url, api_key="k")
    whole = model("ping").consume()
    streamed = "".join(model("pong", stream=True))
    print(json.dumps({"whole": whole, "streamed": streamed}))
"""

SDK_CALL = """
    import importlib.util, json, sys
    import msgflux as mf
    model = mf.Model.chat_completion(
        "openai/loopback-model", base_url=sys.argv[1], api_key="k", transport="sdk",
        timeout=mf.Timeout(connect=30, read=30),
    )
    print(json.dumps({
        "whole": model("ping").consume(),
        "httpx_installed": importlib.util.find_spec("httpx") is not None,
    }))
"""

MISSING_PLUGIN = """
    import json
    import msgflux as mf
    from msgflux.providers import KNOWN_PROVIDER_EXTRAS
    try:
        mf.Model.chat_completion("openai/gpt-4.1-mini", api_key="k")
    except mf.PluginMissingError as exc:
        error = str(exc)
    else:
        error = None
    print(json.dumps({"error": error, "known": dict(KNOWN_PROVIDER_EXTRAS)}))
"""


@pytest.fixture(scope="session")
def install_extra(toolbox, built, expected_install):
    """``install_extra(extra)`` -> (venv, expectation): a fresh venv with ``msgflux[extra]``
    installed from the built wheels, made once per extra (the tests only read it)."""
    venvs = {}

    def install(extra):
        if extra not in venvs:
            venv = toolbox.new_venv()
            venv.install("msgflux" if extra is None else f"msgflux[{extra}]")
            venvs[extra] = venv
        return venvs[extra], expected_install(extra)

    return install


@pytest.fixture
def installed(extra, install_extra):
    return install_extra(extra)


def test_extra_installs_exactly_its_distributions(installed, projects):
    venv, expectation = installed

    distributions = venv.distributions()

    ours = {name: version for name, version in distributions.items() if name.startswith("msgflux")}
    assert ours == {name: projects[name].version for name in expectation.ours}
    missing = expectation.third_party - set(distributions)
    assert missing == set(), f"third-party requirements not installed: {missing}"
    if "msgflux-openai" not in expectation.ours:
        assert "openai" not in distributions, "the core must not pull in the openai SDK"


def test_discovery_finds_the_installed_plugins_without_importing_vendor_sdks(installed, projects):
    venv, expectation = installed

    probe = venv.run_json(PROBE)

    assert probe["vendor_sdks_imported"] == []
    assert [p for p in probe["plugins"] if p["error"]] == []
    by_name = {p["name"]: p for p in probe["plugins"]}
    for dist in expectation.ours - {"msgflux"}:
        for entry_point in projects[dist].entry_points:
            assert by_name[entry_point]["distribution"] == dist
            assert by_name[entry_point]["version"] == projects[dist].version
    plugin_dists = {p["distribution"] for p in probe["plugins"] if not p["builtin"]}
    assert plugin_dists == expectation.ours - {"msgflux"}
    promised = {p for p, e in KNOWN_PROVIDER_EXTRAS.items() if f"msgflux-{e}" in expectation.ours}
    assert promised <= set(probe["providers"])
    assert "fake" in probe["providers"]

    listed = json.loads(venv.command("msgflux", "plugins", "--json").stdout)
    assert listed == probe["plugins"]


#: Providers whose wire format is not OpenAI's, and the path of their chat requests; they
#: are called on the loopback server of that wire format (``messages_server``).
MESSAGES_API_PROVIDERS = {"anthropic": "/messages"}


def test_every_installed_provider_answers_on_the_loopback_server(
    installed, server, messages_server
):
    venv, _ = installed
    providers = [
        provider
        for plugin in venv.run_json(PROBE)["plugins"]
        if not plugin["builtin"]
        for provider in plugin["providers"]
    ]

    for provider in providers:
        path = MESSAGES_API_PROVIDERS.get(provider, "/chat/completions")
        target = messages_server if provider in MESSAGES_API_PROVIDERS else server
        target.reset()
        answer = venv.run_json(CALL, provider, target.base_url)
        assert answer == {"whole": "echo: ping", "streamed": "echo: pong"}, provider
        # Only the chat requests: a provider may ask its server other things first (llamacpp
        # asks GET /props which server it talks to).
        chats = [r for r in target.requests if r.path.endswith(path)]
        assert [r.json["model"] for r in chats] == ["loopback-model"] * 2
        assert chats[1].json["stream"] is True

        chat = venv.command(
            "msgflux",
            "chat",
            "-m",
            f"{provider}/loopback-model",
            "--base-url",
            target.base_url,
            "--api-key",
            "k",
            "hello from the shell",
        )
        assert chat.stdout == "echo: hello from the shell\n", provider


def test_without_a_plugin_the_core_works_and_says_what_to_install(
    core_only_extra, install_extra, projects
):
    venv, expectation = install_extra(core_only_extra)
    assert "msgflux-openai" not in expectation.ours
    # An installed wheel has no pyproject.toml: the hints come from its metadata, and name
    # every extra of core/pyproject.toml that installs one plugin.
    known = {
        name.removeprefix("msgflux-"): extra
        for extra, requirements in projects["msgflux"].extras.items()
        for name in [r.name for r in requirements if r.name.startswith("msgflux-")]
        if len(requirements) == 1
    }

    missing = venv.run_json(MISSING_PLUGIN)
    offline = venv.command("msgflux", "chat", "-m", "fake/echo", "offline answer")
    cli = venv.command("msgflux", "chat", "-m", "openai/gpt-4.1-mini", "hi", check=False)

    assert "pip install 'msgflux[openai]'" in missing["error"]
    assert missing["known"] == known
    assert offline.stdout == "offline answer\n"
    assert cli.returncode == 1
    assert "pip install 'msgflux[openai]'" in cli.stderr


def test_the_openai_sdk_transport_takes_a_timeout_with_the_sdk_as_installed(install_extra, server):
    # A msgflux.Timeout becomes the SDK's own Timeout class, whichever HTTP library the
    # installed openai release is built on (newer majors do not install httpx at all).
    venv, _ = install_extra("openai")

    answer = venv.run_json(SDK_CALL, server.base_url)

    assert answer["whole"] == "echo: ping", answer
    assert [r.path for r in server.requests][-1].endswith("/chat/completions")
