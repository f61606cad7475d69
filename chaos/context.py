"""What one experiment's actions and probes share: the stack, the traffic, and the evidence they leave."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from chaos.stack import Stack
from chaos.traffic import Traffic


@dataclass
class Evidence:
    """One verification's outcome: what it looked at and what it saw."""

    probe: str
    ok: bool
    detail: str
    at: float = field(default_factory=time.time)


@dataclass
class Context:
    """Handed to every action and probe whose signature takes ``ctx``; ``memo`` carries an action's
    "before" (a pid, a counter) to the probe that checks it moved; ``cleanup`` runs at the very end."""

    stack: Stack
    traffic: Traffic | None = None
    memo: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    cleanup: list[Any] = field(default_factory=list)
    say: Any = print

    def prove(self, probe: str, ok: bool, detail: str) -> bool:
        self.evidence.append(Evidence(probe, ok, detail))
        self.say(f"      {'evidence' if ok else 'NO EVIDENCE'}: {detail}")
        return ok
