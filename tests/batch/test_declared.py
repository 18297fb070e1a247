"""The limits the servers behind a batch declare add up over a gateway's deployments."""

from __future__ import annotations

from msgflux.batch._declared import DeclaredLimits, source_of


def test_one_server_is_its_own_total():
    declared = DeclaredLimits()

    assert declared.update(None, 5, 10.0) == (5, 10.0)
    assert declared.update(None, 0, 10.0) == (0, 10.0)  # the latest answer counts
    assert declared.update(None, None, None) == (None, None)


def test_deployments_add_up():
    declared = DeclaredLimits()

    assert declared.update("a", 3, 200 / 60) == (3, 200 / 60)
    assert declared.update("b", 0, 100 / 60) == (3, 300 / 60)
    assert declared.update("a", 0, 200 / 60) == (0, 300 / 60)  # every deployment is spent


def test_a_deployment_that_declares_nothing_makes_the_total_unknown():
    declared = DeclaredLimits()
    declared.update("a", 3, 2.0)

    assert declared.update("b", None, None) == (None, None)
    assert declared.update("b", 1, 1.0) == (4, 3.0)


def test_the_source_is_the_answering_deployment():
    assert source_of({"gateway": {"deployment": "replica-1"}}) == "replica-1"
    assert source_of({"usage": {}}) is None
    assert source_of(None) is None
