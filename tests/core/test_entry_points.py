"""The fast entry-point scan agrees with ``importlib.metadata``."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from msgflux._entry_points import find_entry_points


@pytest.mark.parametrize("group", ["msgflux", "console_scripts", "pytest11"])
def test_same_entry_points_as_importlib_metadata(group):
    expected = sorted(
        (point.name, point.value, point.dist.name, point.dist.version)
        for point in importlib.metadata.entry_points(group=group)
    )
    found = sorted(
        (point.name, point.value, point.distribution, point.version)
        for point in find_entry_points(group)
    )
    assert found == expected


def test_first_distribution_on_sys_path_wins(tmp_path, monkeypatch):
    for folder, version in (("first", "2.0"), ("second", "1.0")):
        info = tmp_path / folder / f"msgflux_dup-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: msgflux-dup\nVersion: {version}\n\n"
        )
        (info / "entry_points.txt").write_text("[msgflux]\ndup = msgflux_dup_" + folder + "\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "first"), str(tmp_path / "second")])
    points = find_entry_points("msgflux")
    assert [(p.name, p.value, p.version) for p in points] == [("dup", "msgflux_dup_first", "2.0")]


def test_load_resolves_module_and_attribute():
    from msgflux._entry_points import PluginEntryPoint

    point = PluginEntryPoint("x", "msgflux.plugins:list_plugins", "msgflux", "0")
    from msgflux.plugins import list_plugins

    assert point.load() is list_plugins
