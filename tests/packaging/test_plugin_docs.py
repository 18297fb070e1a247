"""docs/plugins.md stays true to the code: hooks, ProviderSpec fields, capabilities, switches.

Fast (no build): not marked ``packaging``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from msgflux import hookspecs, plugins
from msgflux.providers import CAPABILITIES, ProviderSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _hookspecs() -> dict[str, tuple[str, str]]:
    """Each hook of hookspecs.py: name -> (one-line signature, docstring summary)."""
    tree = ast.parse(inspect.getsource(hookspecs))
    hooks = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            ast.unparse(decorator) == "hookspec" for decorator in node.decorator_list
        ):
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            signature = f"def {node.name}({ast.unparse(node.args)}){returns}"
            summary = (ast.get_docstring(node) or "").strip().splitlines()[0]
            hooks[node.name] = (signature, summary)
    return hooks


def _reference_section(doc: str) -> str:
    start = doc.index("## Hook reference")
    end = doc.index("\n## ", start + 1)
    return doc[start:end]


def test_the_hook_reference_lists_exactly_the_hooks_of_hookspecs(doc):
    documented = re.findall(r"^### `(\w+)`$", _reference_section(doc), flags=re.MULTILINE)

    assert documented == list(_hookspecs())


@pytest.mark.parametrize("hook", list(_hookspecs()))
def test_each_hook_is_documented_with_its_signature_and_summary(doc, hook):
    signature, summary = _hookspecs()[hook]
    reference = _reference_section(doc)
    section = reference.split(f"### `{hook}`", 1)[1].split("\n### ", 1)[0]

    assert f"```python\n{signature}\n```" in section, (
        f"docs/plugins.md: the signature of {hook} should read\n{signature}"
    )
    assert summary in section


def test_every_provider_spec_field_is_documented(doc):
    for field in dataclasses.fields(ProviderSpec):
        assert f"| `{field.name}` |" in doc, field.name


def test_every_capability_is_documented(doc):
    for capability in CAPABILITIES:
        assert f"`{capability}`" in doc, capability


def test_the_loading_switches_and_entry_point_group_are_documented(doc):
    assert f"[project.entry-points.{plugins.ENTRY_POINT_GROUP}]" in doc
    assert f"`{plugins.DISABLE_AUTOLOAD_ENV}=1`" in doc
    assert f"`{plugins.ALLOWED_PLUGINS_ENV}=" in doc


def test_every_conformance_setting_is_documented(doc):
    from msgflux.testing.conformance import ProviderConformance

    for name in inspect.get_annotations(ProviderConformance):
        assert f"| `{name}` |" in doc, name
