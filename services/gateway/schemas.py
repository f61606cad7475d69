"""The gateway's own answers as models: the problem body every error is (the one model of services.common.openapi)."""

from __future__ import annotations

from services.common.openapi import PROBLEM, problem

PROBLEM_SCHEMA = PROBLEM

__all__ = ["PROBLEM_SCHEMA", "problem"]
