"""Bridges to other frameworks; each module imports its framework, so import them by name
(``from msgflux.integrations.ray import ModelPredictor``): ``import msgflux`` loads none."""
