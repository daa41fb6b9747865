"""Test helpers for plugboard users and plugin authors: fake servers, fixtures, conformance."""
