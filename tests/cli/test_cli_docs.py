"""docs/cli.md documents every option each command's --help shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


@pytest.mark.parametrize("command", ["plugins", "chat", "batch", "profile"])
def test_every_option_of_the_command_is_documented(run_cli, command):
    help_text = run_cli(command, "--help").stdout
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split(f"## `msgflux {command}`", 1)[1].split("\n## ", 1)[0]

    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", help_text)) - {"--help", "--debug"}

    assert options, help_text
    for option in sorted(options):
        assert f"`{option}" in section or f" {option}" in section, option
