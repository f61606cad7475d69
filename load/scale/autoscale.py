"""The autoscalers' arithmetic, as Kubernetes and KEDA apply it, for replaying scaling decisions locally.

The HPA (``pkg/controller/podautoscaler`` of Kubernetes, documented under "Horizontal Pod
Autoscaling"): every sync period (15 s) it computes ``desired = ceil(current * metric / target)``;
a ratio within the tolerance (0.1) of 1 changes nothing; scaling down takes the *highest*
recommendation of the stabilisation window (300 s), so a dip does not remove pods that the next
burst needs; the result is clamped to min/max. Scaling up is also limited by the default policy:
at most double, or four pods more, per 15 s (whichever is more).

KEDA's SQS scaler feeds an HPA an ``AverageValue`` target of ``queueLength``, with the metric the
queue's ``ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible``: the same
arithmetic gives ``desired = ceil(messages / queueLength)``.

``load/scale/step.py`` drives real processes with it under a step load (``nox -s scale -- step``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

SYNC_PERIOD_S = 15.0
TOLERANCE = 0.1
SCALE_DOWN_WINDOW_S = 300.0
SCALE_UP_PERCENT = 100  # the default scale-up policy: +100 % ...
SCALE_UP_PODS = 4  # ... or +4 pods per period, whichever allows more


def desired(current: int, metric: float, target: float, tolerance: float = TOLERANCE) -> int:
    """One HPA recommendation before stabilisation and limits: unchanged within the tolerance."""
    if current <= 0:
        raise ValueError("the HPA does not act on a Deployment scaled to zero")
    ratio = metric / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(current * ratio)


def keda_sqs(messages: int, queue_length: int, min_replicas: int, max_replicas: int) -> int:
    """Pods KEDA's aws-sqs-queue scaler asks for: ceil(messages / queueLength), within min..max."""
    return max(min_replicas, min(max_replicas, math.ceil(messages / queue_length)))


@dataclass
class Hpa:
    """One HorizontalPodAutoscaler: call ``sync(now, current, metric)`` every sync period."""

    min_replicas: int
    max_replicas: int
    target: float  # e.g. 70 (% of the CPU request)
    window_s: float = SCALE_DOWN_WINDOW_S
    tolerance: float = TOLERANCE
    _history: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def sync(self, now: float, current: int, metric: float) -> int:
        """The replica count to set now, given the average ``metric`` over the current pods."""
        recommendation = min(max(desired(current, metric, self.target, self.tolerance), self.min_replicas),
                             self.max_replicas)  # fmt: skip
        self._history.append((now, recommendation))
        while self._history and self._history[0][0] < now - self.window_s:
            self._history.popleft()
        if recommendation < current:  # scale down only as far as the highest recommendation of the window
            return max(min(max(r for _, r in self._history), current), self.min_replicas)
        limit = max(current * (100 + SCALE_UP_PERCENT) // 100, current + SCALE_UP_PODS)
        return min(recommendation, limit, self.max_replicas)
