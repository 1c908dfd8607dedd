"""Builders shared by the tests: configurations, clips, segments, accounts, set-ups.

Fixtures live in the conftest files and call these; test modules import builders from here,
never from a conftest or another test module.
"""
