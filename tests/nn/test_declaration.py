"""Declaring agents: class attributes, constructor arguments, config validation, errors.

Most of these need no server: the offline ``fake`` provider answers.
"""

from __future__ import annotations

import pytest

import msgflux as mf
import msgflux.nn as nn
from msgflux.generation.reasoning import ChainOfThought, ReAct
from msgflux.nn import CONFIG_KEYS


def fake(*responses, **options):
    return mf.Model.chat_completion("fake/scripted", responses=list(responses), **options)


def lookup(key: str) -> str:
    """Look a key up."""
    return key


def test_nn_is_a_lazy_attribute_of_msgflux():
    assert mf.nn.Agent is nn.Agent


def test_class_attributes_declare_the_agent():
    llm = fake("hi")

    class Greeter(nn.Agent):
        model = llm
        instructions = "Greet."
        tools = [lookup]
        config = {"max_tool_turns": 3}

    agent = Greeter()
    assert agent.model is llm
    assert agent.instructions == "Greet."
    assert agent.tool_definitions.names == ("lookup",)
    assert agent.config["max_tool_turns"] == 3
    assert agent.config["stream"] is False  # defaults filled in
    assert set(agent.config) == set(CONFIG_KEYS)
    assert agent.name == "greeter"
    assert agent("hello") == "hi"
    request = llm.client.requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "Greet."}
    assert request["tools"][0]["function"]["name"] == "lookup"


def test_constructor_arguments_override_class_attributes_and_config_merges():
    class Base(nn.Agent):
        model = fake()
        instructions = "class instructions"
        config = {"verbose": True, "max_tool_turns": 3}

    other = fake()
    agent = Base(other, instructions="given", config={"max_tool_turns": 5}, name="custom")
    assert agent.model is other
    assert agent.instructions == "given"
    assert agent.config["max_tool_turns"] == 5
    assert agent.config["verbose"] is True  # merged with the class's config
    assert agent.name == "custom"
    assert Base.config == {"verbose": True, "max_tool_turns": 3}  # the class is not changed


def test_agent_can_be_used_without_subclassing():
    agent = nn.Agent(fake("42"), instructions="Answer.")
    assert agent("q") == "42"
    assert agent.name == "agent"


def test_model_may_be_a_provider_model_string():
    class Echo(nn.Agent):
        model = "fake/echo"

    agent = Echo()
    assert isinstance(agent.model, mf.ChatCompletionModel)
    assert agent.model.provider == "fake"
    assert agent("ping") == "ping"
    assert nn.Agent("fake/echo")("pong") == "pong"


def test_model_string_with_an_unknown_provider_says_so():
    with pytest.raises(mf.ProviderNotFoundError):
        nn.Agent("nope/model")


def test_a_missing_model_is_an_error_that_says_how_to_set_it():
    class Empty(nn.Agent):
        instructions = "x"

    with pytest.raises(ValueError, match="Empty has no model"):
        Empty()


def test_a_model_of_the_wrong_type_is_an_error():
    with pytest.raises(TypeError, match="must be a chat-completion model"):
        nn.Agent(42)


def test_snake_case_names():
    llm = fake()

    class MathAgent(nn.Agent):
        model = llm

    class HTTPHelper(nn.Agent):
        model = llm

    class Named(nn.Agent):
        model = llm
        name = "the_name"

    assert MathAgent().name == "math_agent"
    assert HTTPHelper().name == "http_helper"
    assert Named().name == "the_name"


def test_an_unknown_config_key_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown Agent config key 'strem'") as caught:
        nn.Agent(fake(), config={"strem": True})
    message = str(caught.value)
    assert "Did you mean 'stream'?" in message
    for key in CONFIG_KEYS:
        assert repr(key) in message

    class Bad(nn.Agent):
        model = fake()
        config = {"temperature": 0}

    with pytest.raises(ValueError, match="'temperature'.*Valid keys: 'stream'"):
        Bad()


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"stream": "yes"}, r"config\['stream'\] must be True or False"),
        ({"verbose": 1}, r"config\['verbose'\] must be True or False"),
        ({"max_tool_turns": 0}, r"max_tool_turns'\] must be an integer >= 1"),
        ({"max_tool_turns": True}, r"max_tool_turns'\] must be an integer >= 1"),
        ({"max_tool_turns": 2.5}, r"max_tool_turns'\] must be an integer >= 1"),
        ({"tool_choice": 3}, r"tool_choice'\] must be"),
    ],
)
def test_bad_config_values(config, match):
    with pytest.raises(ValueError, match=match):
        nn.Agent(fake(), tools=[lookup], config=config)


def test_config_must_be_a_mapping():
    with pytest.raises(TypeError, match="config must be a dict"):
        nn.Agent(fake(), config=[("stream", True)])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"generation_schema": ChainOfThought}, "cannot be combined with generation_schema"),
        ({"typed_parser": "typed_xml"}, "cannot be combined with typed_parser"),
    ],
)
def test_stream_with_structured_output_is_rejected_at_construction(extra, match):
    with pytest.raises(ValueError, match=match):
        nn.Agent(fake(), config={"stream": True}, **extra)

    class Declared(nn.Agent):
        model = fake()
        config = {"stream": True}

    for name, value in extra.items():
        setattr(Declared, name, value)
    with pytest.raises(ValueError, match=match):
        Declared()


def test_tool_choice_needs_tools_and_a_known_tool_name():
    with pytest.raises(ValueError, match="has no tools"):
        nn.Agent(fake(), config={"tool_choice": "required"})
    with pytest.raises(ValueError, match="the tools are: 'lookup'"):
        nn.Agent(fake(), tools=[lookup], config={"tool_choice": "search"})


def test_tools_must_be_callables():
    with pytest.raises(TypeError, match="must be a list"):
        nn.Agent(fake(), tools=lookup)
    with pytest.raises(TypeError, match="each tool must be"):
        nn.Agent(fake(), tools=[{"type": "function"}])


def test_schemas_that_drive_tools_themselves_are_refused():
    with pytest.raises(ValueError, match="ReAct drives tools through its own schema"):
        nn.Agent(fake(), generation_schema=ReAct, tools=[lookup])


def test_the_task_must_be_text_or_messages():
    agent = nn.Agent(fake("a", "b"))
    with pytest.raises(TypeError, match="must be a str or a list of chat messages"):
        agent(42)
    with pytest.raises(ValueError, match=r"task\[0\] must be a chat message"):
        agent(["hello"])
    assert agent([{"role": "user", "content": "hi"}]) == "a"


def test_generation_schema_answers_are_dotdicts():
    answer = '{"reasoning": "r", "final_answer": "117"}'
    agent = nn.Agent(fake(answer), generation_schema=ChainOfThought)
    result = agent("q")
    assert result == {"reasoning": "r", "final_answer": "117"}
    assert result.final_answer == "117"


def test_a_provider_without_a_capability_is_refused_at_construction():
    from msgflux import ProviderSpec, hookimpl
    from msgflux.plugins import registered_plugin

    class Plain:
        @hookimpl
        def register_providers(self):
            return [
                ProviderSpec(
                    name="plain", extends="fake", api_key_required=False, supports=frozenset()
                )
            ]

    with registered_plugin(Plain(), "plain"):
        llm = mf.Model.chat_completion("plain/m")
        with pytest.raises(mf.UnsupportedParameterError, match="needs streaming"):
            nn.Agent(llm, config={"stream": True})
        with pytest.raises(mf.UnsupportedParameterError, match="needs tools"):
            nn.Agent(llm, tools=[lookup])
        assert nn.Agent(llm)("plain") == "plain"


def test_repr_names_the_agent_and_its_tools():
    agent = nn.Agent(fake(), tools=[lookup], name="finder")
    assert repr(agent).startswith("Agent(name='finder', model=")
    assert "tools=['lookup']" in repr(agent)


def test_typed_parser_answers_are_parsed():
    pytest.importorskip("defusedxml")
    agent = nn.Agent(fake("<answer>42</answer><why>because</why>"), typed_parser="typed_xml")
    result = agent("q")
    assert result == {"answer": "42", "why": "because"}
    assert result.why == "because"
