"""The running local stack as the experiments see it: its control API, services, flags file and alarms.

Everything is read from the stack's state file (``localcloud.state``): ``SHOP_CONTROL_URL`` (the
supervisor's ``/components`` and ``/faults``), ``SHOP_FLAGS_FILE`` (the flagd file the services
watch), ``SHOP_SERVICE_<NAME>_URL`` and the emulator's endpoint for the alarms.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference.faults import flagd_document


class StackError(RuntimeError):
    """The stack does not offer what an experiment needs (no control API, no fault proxies, ...)."""


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    """One JSON request to our own loopback URLs; the decoded answer (None when empty)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
        text = response.read()
    return json.loads(text) if text else None


@dataclass
class Stack:
    """One running stack of ``stage``; ``env`` is its state file's environment."""

    stage: str
    env: dict[str, str]
    front_door: str = ""
    region: str = "us-east-1"
    _flags: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, stage: str, env: dict[str, str]) -> Stack:
        return cls(stage, env, env.get("SHOP_FRONT_DOOR_URL", ""), env.get("AWS_REGION", "us-east-1"))

    # -- the supervisor's control API -------------------------------------------------------------
    @property
    def control(self) -> str:
        url = self.env.get("SHOP_CONTROL_URL")
        if not url:
            raise StackError("the stack has no control API (SHOP_CONTROL_URL is not in its state file)")
        return url.rstrip("/")

    def components(self) -> list[dict[str, Any]]:
        return http("GET", f"{self.control}/components")

    def component(self, name: str) -> dict[str, Any]:
        for c in self.components():
            if c["name"] == name:
                return c
        raise StackError(f"no component {name!r} in /components")

    def faults(self) -> dict[str, Any]:
        return http("GET", f"{self.control}/faults")

    def set_fault(self, target: str, mode: str, latency_ms: float = 0) -> dict[str, Any]:
        try:
            return http("PUT", f"{self.control}/faults/{target}", {"mode": mode, "latency_ms": latency_ms})
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise StackError(f"no fault proxy {target!r}: start the stack with --fault-proxies") from exc
            raise

    # -- services -----------------------------------------------------------------------------------
    def services(self) -> dict[str, str]:
        prefix, suffix = "SHOP_SERVICE_", "_URL"
        return {
            k[len(prefix) : -len(suffix)].lower(): v.rstrip("/")
            for k, v in self.env.items()
            if k.startswith(prefix) and k.endswith(suffix)
        }

    def service_faults(self, service: str) -> dict[str, Any]:
        """A service's ``GET /_faults``: its flags' evaluations and injections (and its breaker, if it has one)."""
        url = self.services().get(service)
        if url is None:
            raise StackError(f"no service {service!r} in the state file")
        return http("GET", f"{url}/_faults")

    # -- flags (flagd's file format, written atomically) ------------------------------------------
    @property
    def flags_file(self) -> Path:
        path = self.env.get("SHOP_FLAGS_FILE")
        if not path:
            raise StackError("the stack has no flags file (SHOP_FLAGS_FILE is not in its state file)")
        return Path(path)

    def set_flag(self, key: str, value: Any) -> None:
        self._flags[key] = value
        self._write_flags()

    def clear_flag(self, key: str) -> None:
        self._flags.pop(key, None)
        self._write_flags()

    def _write_flags(self) -> None:
        write_flags(self.flags_file, self._flags)

    # -- alarms of the local CloudWatch -----------------------------------------------------------
    def alarms_in_alarm(self) -> dict[str, str]:
        """Alarm name -> reason, for every alarm of the emulator in state ALARM."""
        import boto3

        cloudwatch = boto3.client(
            "cloudwatch", endpoint_url=self.env.get("AWS_ENDPOINT_URL"), region_name=self.region,
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )  # fmt: skip
        pages = cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM")
        return {a["AlarmName"]: a.get("StateReason", "") for p in pages for a in p["MetricAlarms"]}


def write_flags(path: Path, values: dict[str, Any]) -> None:
    """Write the flags file atomically (a temporary file in the same folder, then rename): a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".flags-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(flagd_document(dict(sorted(values.items()))), f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
