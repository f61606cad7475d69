"""Experiments as data: Chaos Toolkit's JSON format (https://chaostoolkit.org/reference/api/experiment/), read strictly.

The parts used, with the toolkit's meaning: ``title``, ``description``, ``tags``,
``steady-state-hypothesis`` (probes with a ``tolerance``), ``method`` (actions and probes in order,
with ``pauses``), ``rollbacks``. Providers are ``python`` ones: ``module`` (``chaos.actions`` or
``chaos.probes``), ``func``, ``arguments``. A *method* probe with a ``tolerance`` is a verification:
the evidence that the fault took effect; one that fails stops the experiment (the toolkit's
"abort on a failed verification"). Our additions live in the ``extensions`` block named
``cloudshop`` (the format's place for them): background load, the alarms the experiment expects
to fire, the recovery deadline and the dead letters it leaves on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "experiments"
MODULES = ("chaos.actions", "chaos.probes")


class FormatError(ValueError):
    """An experiment file that is not what the format says, naming the file and the field."""


@dataclass(frozen=True, slots=True)
class Activity:
    """One action or probe: a python function of chaos.actions / chaos.probes with its arguments."""

    type: str  # "action" | "probe"
    name: str
    module: str
    func: str
    arguments: dict[str, Any] = field(default_factory=dict)
    tolerance: Any = None  # probes: the value that means "as expected" (None: no verification)
    pause_before: float = 0.0
    pause_after: float = 0.0

    @property
    def verifies(self) -> bool:
        return self.type == "probe" and self.tolerance is not None


@dataclass(frozen=True, slots=True)
class Extension:
    """The ``cloudshop`` extension: what the toolkit's format has no field for."""

    rate: float = 5.0  # background requests/s through the front door
    mix: dict[str, float] = field(default_factory=lambda: {"product": 2, "search": 2, "checkout": 1})
    expected_alarms: tuple[str, ...] = ()  # alarm-name fragments this fault may fire (not a stop condition)
    recovery_s: float = 30.0  # back to steady state within this after the rollback (or the injection)
    recover_from: str = "rollback"  # "injection" for a kill: the process heals itself, the clock starts at the kill
    expected_dead: int = 0  # dead letters the experiment leaves on purpose (the ledger expects them)
    needs: tuple[str, ...] = ()  # "fault-proxies", "flags", "cgroups": what the stack must offer


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str  # the file's stem: what `nox -s chaos -- NAME` takes
    path: Path
    title: str
    description: str
    tags: tuple[str, ...]
    hypothesis: tuple[Activity, ...]
    method: tuple[Activity, ...]
    rollbacks: tuple[Activity, ...]
    extension: Extension
    raw: dict[str, Any]

    @property
    def verifications(self) -> tuple[Activity, ...]:
        return tuple(a for a in self.method if a.verifies)


def load(path: Path) -> Experiment:
    """Parse and validate one experiment file; FormatError says which field is wrong."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not readable JSON: {exc}") from exc
    return parse(raw, path)


def parse(raw: Any, path: Path) -> Experiment:
    where = path.name
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: an experiment is a JSON object")
    for key in ("title", "description", "steady-state-hypothesis", "method"):
        if key not in raw:
            raise FormatError(f"{where}: missing '{key}'")
    hypothesis = raw["steady-state-hypothesis"]
    if not isinstance(hypothesis, dict) or not hypothesis.get("probes"):
        raise FormatError(f"{where}: 'steady-state-hypothesis' needs a title and at least one probe")
    probes = tuple(
        _activity(p, f"{where}: steady-state-hypothesis.probes[{i}]") for i, p in enumerate(hypothesis["probes"])
    )
    if any(p.type != "probe" or p.tolerance is None for p in probes):
        raise FormatError(f"{where}: every probe of the steady-state hypothesis needs a 'tolerance'")
    method = tuple(_activity(a, f"{where}: method[{i}]") for i, a in enumerate(_list(raw, "method", where)))
    if not any(a.type == "action" for a in method):
        raise FormatError(f"{where}: 'method' has no action: nothing would be injected")
    if not any(a.verifies for a in method):
        raise FormatError(
            f"{where}: 'method' has no probe with a 'tolerance': nothing would prove the fault took effect"
        )
    rollbacks = tuple(_activity(a, f"{where}: rollbacks[{i}]") for i, a in enumerate(_list(raw, "rollbacks", where)))
    return Experiment(
        name=path.stem,
        path=path,
        title=str(raw["title"]),
        description=str(raw["description"]),
        tags=tuple(raw.get("tags", ())),
        hypothesis=probes,
        method=method,
        rollbacks=rollbacks,
        extension=_extension(raw.get("extensions", []), where),
        raw=raw,
    )


def _list(raw: dict[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise FormatError(f"{where}: '{key}' must be a list")
    return value


def _activity(raw: Any, where: str) -> Activity:
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: an activity is a JSON object")
    kind, name, provider = raw.get("type"), raw.get("name"), raw.get("provider")
    if kind not in ("action", "probe"):
        raise FormatError(f"{where}: 'type' must be 'action' or 'probe' (got {kind!r})")
    if not isinstance(name, str) or not name:
        raise FormatError(f"{where}: 'name' is required")
    if not isinstance(provider, dict) or provider.get("type") != "python":
        raise FormatError(f"{where} ({name}): 'provider' must be a python provider")
    module, func = provider.get("module"), provider.get("func")
    if module not in MODULES:
        raise FormatError(f"{where} ({name}): provider 'module' must be one of {', '.join(MODULES)} (got {module!r})")
    arguments = provider.get("arguments", {})
    if not isinstance(arguments, dict):
        raise FormatError(f"{where} ({name}): provider 'arguments' must be an object")
    import importlib

    target = getattr(importlib.import_module(module), str(func), None)
    if not callable(target) or str(func).startswith("_"):
        raise FormatError(f"{where} ({name}): {module} has no function {func!r}")
    pauses = raw.get("pauses", {})
    return Activity(
        type=kind,
        name=name,
        module=module,
        func=func,
        arguments=arguments,
        tolerance=raw.get("tolerance"),
        pause_before=float(pauses.get("before", 0)),
        pause_after=float(pauses.get("after", 0)),
    )


def _extension(raw: Any, where: str) -> Extension:
    mine = next((e for e in raw if isinstance(e, dict) and e.get("name") == "cloudshop"), None)
    if mine is None:
        return Extension()
    known = set(Extension.__dataclass_fields__) | {"name"}
    unknown = set(mine) - known
    if unknown:
        raise FormatError(f"{where}: extensions.cloudshop has unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: v for k, v in mine.items() if k != "name"}
    if values.get("recover_from", "rollback") not in ("rollback", "injection"):
        raise FormatError(f"{where}: extensions.cloudshop.recover_from must be 'rollback' or 'injection'")
    for key in ("expected_alarms", "needs"):
        if key in values:
            values[key] = tuple(values[key])
    return Extension(**values)


def catalogue(folder: Path = HERE) -> dict[str, Experiment]:
    """Every experiment of ``all`` (the folder's *.json, not broken/), by name."""
    return {p.stem: load(p) for p in sorted(folder.glob("*.json"))}


def broken(folder: Path = HERE / "broken") -> dict[str, Experiment]:
    """The deliberately broken experiments: each must fail with "the fault never took effect"."""
    return {p.stem: load(p) for p in sorted(folder.glob("*.json"))}
