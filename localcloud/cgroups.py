"""Pods with CPU requests, locally: each replica in a CPU cgroup whose quota is its pod's request.

On EKS a pod with ``cpu: 250m`` gets 25 ms of CPU per 100 ms period (the CFS quota the kubelet
writes); four such pods on a node share it like four quarter-CPU machines. Here each replica
process (and its children) is moved into a cgroup of its own with the same quota, so N replicas
on two cores behave like N pods and ``cpu.stat`` counts how often each was throttled.

Both hierarchies are handled: cgroup v1's ``cpu`` controller (``cpu.cfs_quota_us`` and
``cpu.cfs_period_us`` under ``/sys/fs/cgroup/cpu``) and cgroup v2's ``cpu.max``. Writing them
needs root (or a delegated subtree); where it is not possible, ``Quotas.open`` says why and the
replicas run without quotas.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000  # the kubelet's CFS period


def millicores(text: str) -> int:
    """``"250m"`` -> 250, ``"0.5"`` or ``"1"`` -> 500 or 1000 (Kubernetes' CPU quantity forms)."""
    text = text.strip()
    try:
        value = int(text[:-1]) if text.endswith("m") else round(float(text) * 1000)
    except ValueError:
        raise ValueError(f"not a CPU quantity: {text!r} (e.g. 250m or 0.5)") from None
    if value <= 0:
        raise ValueError(f"a CPU quantity must be positive (got {text!r})")
    return value


def quota_us(milli: int, period_us: int = PERIOD_US) -> int:
    """CPU time per period for ``milli`` millicores: 250m -> 25000 us of every 100000 us."""
    return milli * period_us // 1000


@dataclass(frozen=True)
class Layout:
    """Where CPU groups are made: cgroup v1's cpu controller or the v2 unified tree."""

    version: int
    base: Path  # the directory under which our group is made


def detect(root: Path = ROOT) -> Layout | None:
    """The CPU controller's layout, or None if there is none to write to."""
    if (root / "cpu" / "cpu.cfs_quota_us").exists():
        return Layout(1, root / "cpu")
    if (root / "cgroup.controllers").exists() and "cpu" in (root / "cgroup.controllers").read_text().split():
        return Layout(2, root)
    return None


@dataclass
class Group:
    """One replica's group; ``stat()`` reads its throttling counters."""

    name: str
    path: Path
    version: int
    milli: int

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def stat(self) -> dict[str, int]:
        """``nr_periods``, ``nr_throttled`` and ``throttled_us`` (v1 counts nanoseconds: converted)."""
        values = {}
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            values[key] = int(value)
        out = {"nr_periods": values.get("nr_periods", 0), "nr_throttled": values.get("nr_throttled", 0)}
        if "throttled_time" in values:  # v1: nanoseconds
            out["throttled_us"] = values["throttled_time"] // 1000
        else:
            out["throttled_us"] = values.get("throttled_usec", 0)
        return out


@dataclass
class Quotas:
    """A parent group for one local cloud, holding one child group per replica; ``close`` removes them."""

    layout: Layout
    path: Path
    groups: list[Group] = field(default_factory=list)

    @classmethod
    def open(cls, name: str, root: Path = ROOT) -> tuple[Quotas | None, str]:
        """Make ``<controller>/<name>``; (None, why) when the CPU controller is absent or not writable."""
        layout = detect(root)
        if layout is None:
            return None, f"no CPU cgroup controller under {root}"
        sweep_stale(layout.base)
        path = layout.base / name
        try:
            if layout.version == 2 and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+cpu")
            path.mkdir(exist_ok=True)
            if layout.version == 2:  # children of our group need the cpu controller delegated to them
                (path / "cgroup.subtree_control").write_text("+cpu")
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None, f"cannot make a CPU cgroup under {layout.base} ({exc.strerror}; needs root)"
        return cls(layout, path), f"cgroup v{layout.version} {path}"

    def group(self, name: str, milli: int) -> Group:
        """A child group limited to ``milli`` millicores."""
        path = self.path / name
        path.mkdir(exist_ok=True)
        if self.layout.version == 1:
            (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota_us(milli)))
        else:
            (path / "cpu.max").write_text(f"{quota_us(milli)} {PERIOD_US}")
        group = Group(name, path, self.layout.version, milli)
        self.groups.append(group)
        return group

    def close(self, timeout_s: float = 5.0) -> None:
        """Remove every group (once its processes are gone; they are moved out if they linger)."""
        for group in [*self.groups, None]:
            path = group.path if group else self.path
            deadline = time.monotonic() + timeout_s
            while path.exists():
                try:
                    path.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        _evict(path, self.layout.base)
                        with contextlib.suppress(OSError):
                            path.rmdir()
                        break
                    time.sleep(0.05)  # the kernel drops exited tasks from the group a moment later
        self.groups.clear()


def _evict(path: Path, base: Path) -> None:
    """Move processes still in ``path`` to the root group, so the group can go."""
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (base / "cgroup.procs").write_text(pid)


def name_for(stage: str) -> str:
    return f"cloudshop-{stage}-{os.getpid()}"


def sweep_stale(base: Path) -> None:
    """Remove the empty groups of local clouds whose supervisor is gone (a SIGKILL skips its clean-up;
    its children die with it, so their groups are empty)."""
    for parent in base.glob("cloudshop-*-*"):
        pid = parent.name.rsplit("-", 1)[1]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        for group in [*parent.iterdir(), parent]:
            if group.is_dir():
                with contextlib.suppress(OSError):  # not empty (still in use): leave it
                    group.rmdir()
