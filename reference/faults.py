"""The faults a service can be told to inject, by flag: each flag's key, who evaluates it, what it does.

The flags are read from a file in flagd's format (``SHOP_FLAGS_FILE``; services/common/flags.py), so the
chaos runner (chaos/) switches a fault on by writing the file, and proves it took effect by the counts each
service shows at ``GET /_faults``: a key no service evaluates stays at 0 evaluations there, so a typo in an
experiment is caught instead of passing as "no error seen".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reference.resources import TOPICS


class FlagType(StrEnum):
    RATE = "rate"  # a share of calls, 0..1: each evaluation draws
    SWITCH = "switch"  # on or off: every evaluation while on injects


@dataclass(frozen=True, slots=True)
class FaultFlag:
    key: str
    type: FlagType
    services: tuple[str, ...]  # the services whose code evaluates it (where /_faults counts it)
    effect: str
    variants: dict[str, float | bool] = field(default_factory=dict)

    def off(self) -> float | bool:
        return 0.0 if self.type is FlagType.RATE else False


_RATES: dict[str, float | bool] = {"off": 0.0, "tenth": 0.1, "half": 0.5, "all": 1.0}
_SWITCH: dict[str, float | bool] = {"off": False, "on": True}
# Every service publishing events has an outbox relay (reference/events.py names the publishers).
_PUBLISHERS = tuple(sorted({s for t in TOPICS for s in t.publishers}))

FLAGS: tuple[FaultFlag, ...] = (
    FaultFlag(
        "payment.provider.failure-rate",
        FlagType.RATE,
        ("payment",),
        "this share of calls to the simulated card provider answer 503 before anything is held"
        " (services/payment/adapters/simulated.py); the payment's circuit breaker counts them",
        _RATES,
    ),
    FaultFlag(
        "payment.provider.timeout-rate",
        FlagType.RATE,
        ("payment",),
        "this share of provider calls place their hold, then hang past PAYMENT_PROVIDER_TIMEOUT_MS"
        " (the answer is lost, the charge is not)",
        _RATES,
    ),
    FaultFlag(
        "dynamodb.error-rate",
        FlagType.RATE,
        ("cart",),
        "this share of DynamoDB requests answer 400 ProvisionedThroughputExceededException, made in botocore's"
        " before-send event: botocore's own retries and error mapping run as they would against AWS",
        _RATES,
    ),
    FaultFlag(
        "sns.publish.failure",
        FlagType.SWITCH,
        _PUBLISHERS,
        "every SNS Publish/PublishBatch answers 500 InternalError (botocore's before-send event): the outbox"
        " relays keep their events and retry",
        _SWITCH,
    ),
)

BY_KEY = {f.key: f for f in FLAGS}


def flagd_document(values: dict[str, float | bool]) -> dict[str, object]:
    """A flag file in flagd's format that sets each key of ``values`` (flagd: one static variant per flag)."""
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            key: {"state": "ENABLED", "variants": {"chosen": value}, "defaultVariant": "chosen"}
            for key, value in values.items()
        },
    }
