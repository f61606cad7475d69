"""The chaos runner's parts without a stack: the experiment format, the SLO judge, evidence probes over our own
control API's answers, the verdict and score from a journal, the flags file, the report, the FIS poller (moto)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from chaos import experiment, probes, report, runner
from chaos.context import Context
from chaos.stack import Stack, write_flags
from chaos.traffic import judge, timeline
from load.openloop import Sample


def _doc(**changes: Any) -> dict[str, Any]:
    doc = json.loads((experiment.HERE / "broken" / "flag-key-typo.json").read_text())
    doc.update(changes)
    return doc


def test_every_experiment_parses_and_has_an_action_a_verification_and_a_rollback() -> None:
    every = experiment.catalogue() | experiment.broken()
    assert len(experiment.catalogue()) >= 10
    assert len(experiment.broken()) == 2
    for e in every.values():
        assert e.verifications, e.name
        assert any(a.type == "action" for a in e.method), e.name
        assert e.rollbacks, e.name


def test_the_required_experiments_are_all_in_the_catalogue() -> None:
    names = set(experiment.catalogue())
    assert {"service-killed-mid-checkout", "database-latency-200ms", "database-restarted", "cache-down",
            "dynamodb-errors", "consumer-poison-dlq-redrive", "payment-provider-5xx", "outbox-publish-failure",
            "cpu-stress-catalog", "half-the-services-lost"} <= names  # fmt: skip
    assert not names & set(experiment.broken())


def test_a_method_without_a_verification_is_refused_naming_why() -> None:
    doc = _doc()
    doc["method"] = [a for a in doc["method"] if a["type"] == "action"]
    with pytest.raises(experiment.FormatError, match="nothing would prove the fault took effect"):
        experiment.parse(doc, Path("x.json"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steady-state-hypothesis": {"title": "t", "probes": []}}, "at least one probe"),
        (
            {"method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "x"}}]},
            "python provider",
        ),
        (
            {
                "method": [
                    {"type": "action", "name": "a", "provider": {"type": "python", "module": "os", "func": "system"}}
                ]
            },
            "module' must be one of",
        ),
        (
            {
                "method": [
                    {
                        "type": "action",
                        "name": "a",
                        "provider": {"type": "python", "module": "chaos.actions", "func": "nope"},
                    }
                ]
            },
            "has no function 'nope'",
        ),
        ({"extensions": [{"name": "cloudshop", "rate_typo": 3}]}, "unknown field"),
    ],
)
def test_a_malformed_experiment_is_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(experiment.FormatError, match=message):
        experiment.parse(_doc(**change), Path("x.json"))


def _samples(start: float, seconds: float, *, bad_from: float = 1e18, slow_ms: float = 20) -> list[Sample]:
    out = []
    for i in range(int(seconds * 10)):
        t = start + i / 10
        journey = ("product", "search", "checkout")[i % 3]
        bad = t >= bad_from
        out.append(Sample(journey, t, slow_ms / 1000, 502 if bad else 201, ""))
    return out


def test_the_slo_judge_counts_errors_and_p95_and_takes_a_declined_checkout_as_working() -> None:
    now = 1000.0
    assert judge(_samples(now, 10), now, now + 10)["ok"]
    broken = judge(_samples(now, 10, bad_from=now + 5), now, now + 10)
    assert not broken["ok"]
    assert "error rate 50.0%" in broken["why"]
    slow = judge(_samples(now, 10, slow_ms=4000), now, now + 10)
    assert not slow["ok"]
    assert "p95" in slow["why"]
    declined = [Sample("checkout", now + i, 0.1, 402) for i in range(30)]
    assert judge(declined, now, now + 30)["ok"]
    assert not judge([], now, now + 1)["ok"]


def test_the_timeline_has_one_row_per_second_with_error_rate_and_p95() -> None:
    rows = timeline(_samples(0.0, 10, bad_from=5.0), 0.0, 10.0)
    assert len(rows) == 10
    assert rows[0]["error_rate"] == 0
    assert rows[9]["error_rate"] == 1
    assert rows[0]["p95_ms"] == pytest.approx(20)


class FakeStack(Stack):
    """Answers as the supervisor's control API and the services' /_faults would, from dicts the test changes."""

    def __init__(self, flags_file: Path) -> None:
        super().__init__("test", {"SHOP_FLAGS_FILE": str(flags_file), "SHOP_CONTROL_URL": "http://control"})
        self.parts = [{"name": "checkout-0", "kind": "service", "service": "checkout", "pid": 101, "alive": True,
                       "restarts": 0}]  # fmt: skip
        self.fault_doc: dict[str, Any] = {"flags": {}}
        self.proxies: dict[str, Any] = {"postgres": {"mode": "pass", "latency_ms": 0, "counters": {"delayed": 4}}}

    def components(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.parts]

    def faults(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.proxies))

    def set_fault(self, target: str, mode: str, latency_ms: float = 0) -> dict[str, Any]:
        self.proxies[target] |= {"mode": mode, "latency_ms": latency_ms}
        return self.proxies[target]

    def service_faults(self, service: str) -> dict[str, Any]:
        return json.loads(json.dumps(self.fault_doc))

    def alarms_in_alarm(self) -> dict[str, str]:
        return {}


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context(FakeStack(tmp_path / "flags.json"), say=lambda _: None)


def test_a_restart_is_evidence_only_when_the_pid_changed_and_the_restart_count_went_up(ctx: Context) -> None:
    ctx.memo["killed"] = [{"name": "checkout-0", "pid": 101, "restarts": 0}]
    assert not probes.restarted(ctx, within_s=0)
    assert "pid 101 -> 101" in ctx.evidence[-1].detail
    ctx.stack.parts[0] |= {"pid": 202, "restarts": 1}
    assert probes.restarted(ctx, within_s=0)
    assert "pid 101 -> 202 (restarts 0 -> 1" in ctx.evidence[-1].detail


def test_each_kill_in_turn_is_evidence_only_if_every_one_came_back_and_steady(ctx: Context) -> None:
    back = {"back": True, "why": ""}
    ctx.memo["each_killed"] = [
        back | {"name": "cart-0", "pid": 1, "new_pid": "11", "steady_s": 4.5},
        back | {"name": "postgres", "pid": 2, "new_pid": "12", "steady_s": None, "why": "error rate 9.0% > 1.0%"},
    ]
    assert not probes.each_back_and_steady(ctx)
    detail = ctx.evidence[-1].detail
    assert "cart-0 pid 1 -> 11, steady 4.5 s after; postgres pid 2 -> 12, NOT steady: error rate" in detail
    ctx.memo["each_killed"][1]["steady_s"] = 12.0
    assert probes.each_back_and_steady(ctx)
    ctx.memo["each_killed"] = []
    assert not probes.each_back_and_steady(ctx)  # nothing killed proves nothing


def test_a_proxy_counter_must_move_past_its_value_before_the_fault(ctx: Context) -> None:
    from chaos import actions

    actions.set_fault(ctx, "postgres", "pass", 200)
    assert not probes.fault_counter_moved(ctx, "postgres", "delayed", at_least=1, within_s=0)
    ctx.stack.proxies["postgres"]["counters"]["delayed"] = 30
    assert probes.fault_counter_moved(ctx, "postgres", "delayed", at_least=10, within_s=0)
    assert "delayed +26" in ctx.evidence[-1].detail


def test_a_flag_nobody_evaluates_is_no_evidence_and_says_so(ctx: Context) -> None:
    from chaos import actions

    actions.set_flag(ctx, "payment.provider.failur-rate", 0.5, ["payment"])
    assert not probes.flag_injected(ctx, "payment.provider.failur-rate", ["payment"], within_s=0)
    assert "evaluated 'payment.provider.failur-rate' 0 time(s), injected 0" in ctx.evidence[-1].detail
    written = json.loads(ctx.stack.flags_file.read_text())
    flag = written["flags"]["payment.provider.failur-rate"]
    assert flag["variants"][flag["defaultVariant"]] == 0.5


def test_a_breaker_opening_is_found_among_its_counters(ctx: Context) -> None:
    ctx.memo["breaker_before"] = {"payment": {"breaker": {"state": "closed", "transitions": {"closed->open": 1}}}}
    ctx.stack.fault_doc = {"breaker": {"state": "half_open", "transitions": {"closed->open": 1, "open->half_open": 1}}}
    assert not probes.breaker_opened(ctx, within_s=0)
    ctx.stack.fault_doc = {"breaker": {"state": "closed", "transitions": {}, "window": {"calls": 20, "failures": 7}}}
    assert not probes.breaker_opened(ctx, within_s=0)
    assert ctx.evidence[-1].detail == (  # what its window held, to tell a quiet provider from a blind breaker
        "payment breaker: no transition to open (none counted; closed, its window 20 calls, 7 failed now, 7 at most"
        " while waiting)"
    )
    ctx.stack.fault_doc = {"breaker": {"state": "open", "transitions": {"closed->open": 1, "half_open->open": 1}}}
    assert probes.breaker_opened(ctx, within_s=0)


def test_the_flags_file_is_flagd_format_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {"sns.publish.failure": True, "dynamodb.error-rate": 0.5})
    doc = json.loads(path.read_text())
    flag = doc["flags"]["sns.publish.failure"]
    assert flag["state"] == "ENABLED"
    assert flag["variants"][flag["defaultVariant"]] is True
    write_flags(path, {})
    assert json.loads(path.read_text())["flags"] == {}
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]  # no temporary file left behind


class SteadyTraffic:
    """Samples that always hold the SLO, due from a minute ago to a minute ahead."""

    def __init__(self) -> None:
        self.samples = _samples(time.time() - 60, 120)


def _broken(name: str, window_s: float = 0.2) -> experiment.Experiment:
    doc = json.loads((experiment.HERE / "broken" / f"{name}.json").read_text())
    doc["steady-state-hypothesis"]["probes"][0]["provider"]["arguments"] |= {"window_s": window_s, "min_requests": 1}
    doc["method"][-1]["provider"]["arguments"]["within_s"] = 0
    return experiment.parse(doc, Path(f"{name}.json"))


def test_the_flag_typo_experiment_fails_saying_the_fault_never_took_effect_and_still_rolls_back(
    ctx: Context, tmp_path: Path
) -> None:
    ctx.traffic = SteadyTraffic()  # type: ignore[assignment]
    result = runner.run(_broken("flag-key-typo"), ctx, tmp_path / "run", warmup_s=0)
    assert result["status"] == "failed"
    assert result["problems"][0].startswith("the fault never took effect: provider-failures-injected:")
    assert result["checks"]["fault took effect"] is False
    assert result["checks"]["rolled back"] is True
    assert json.loads(ctx.stack.flags_file.read_text())["flags"] == {}  # the rollback ran
    assert json.loads((tmp_path / "run" / "journal.json").read_text())["problems"] == result["problems"]


def test_the_verdict_and_score_come_from_the_journal() -> None:
    good = {"steady_before": True, "recovery_s": 2.0, "ledger": {"ok": True}, "problems": [],
            "journal": [{"phase": "method", "tolerance_met": True}, {"phase": "rollback"}]}  # fmt: skip
    bad = good | {"problems": ["x"], "ledger": {"ok": False}}
    aborted = good | {"aborted": True, "problems": ["stop condition"]}
    results = [runner.verdict(good), runner.verdict(bad), runner.verdict(aborted)]
    assert [r["status"] for r in results] == ["passed", "failed", "aborted"]
    assert runner.score(results) == {"passed": 1, "total": 3, "score": round(100 * (6 + 5 + 5) / 18, 1)}
    assert runner.within_tolerance(3, [1, 5])
    assert not runner.within_tolerance(6, [1, 5])


def test_the_report_embeds_a_timeline_with_the_fault_shaded_and_lists_the_evidence(tmp_path: Path) -> None:
    record = runner.verdict({
        "name": "demo", "title": "demo", "steady_before": True, "recovery_s": 1.5, "problems": [],
        "fault_start": 5.0, "fault_end": 8.0, "ledger": {"ok": True, "counts": {}},
        "journal": [{"phase": "method", "tolerance_met": True}],
        "evidence": [{"probe": "restarted", "ok": True, "detail": "checkout-0 pid 1 -> 2"}],
        "alarms_fired": {"shop-x-checkout-error-rate": "threshold crossed"}, "alarms_expected": ["checkout-error"],
        "timeline": timeline(_samples(0.0, 15, bad_from=5.0), 0.0, 15.0),
    })  # fmt: skip
    page = report.write(tmp_path, {"started": 0.0, "wall_s": 15, "stage": "t", "load_average": (1.0,)}, [record],
                        runner.score([record]))  # fmt: skip
    html = page.read_text()
    assert "data:image/png;base64," in html
    assert "checkout-0 pid 1 -&gt; 2" in html
    assert "shop-x-checkout-error-rate" in html
    assert "1/1 passed, score 100.0" in html
    assert "<li>✓ steady state before</li>" in html
    assert "&amp;#" not in html  # marks, not escaped entities
    assert json.loads((tmp_path / "results.json").read_text())["score"]["passed"] == 1


class _Answer:
    def __init__(self, status: int):
        self.status = status

    async def __aenter__(self) -> _Answer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return b"{}"


class _Session:
    """Records the requests of a journey and answers checkouts from a script (the rest 200)."""

    def __init__(self, checkouts: list[int]):
        self.checkouts, self.calls = checkouts, []

    def _answer(self, method: str, path: str) -> _Answer:
        self.calls.append(f"{method} {path}")
        return _Answer(self.checkouts.pop(0) if path == "/api/checkout" else 200)

    def post(self, path: str, **_: Any) -> _Answer:
        return self._answer("POST", path)

    def delete(self, path: str, **_: Any) -> _Answer:
        return self._answer("DELETE", path)


async def test_a_shopper_whose_checkout_failed_empties_the_cart_before_the_next_one() -> None:
    from chaos.traffic import Shop, Traffic

    traffic = Traffic(Shop("http://127.0.0.1:9", ["p-1"], ["t-a", "t-b"]), rate=1, weights={"checkout": 1})
    session = _Session([503, 201, 201])
    statuses = [await traffic._checkout(session, {}, token) for token in ("t-a", "t-b", "t-a")]  # type: ignore[arg-type]
    assert statuses == [503, 201, 201]
    assert session.calls == [
        "POST /api/cart/items", "POST /api/checkout",  # t-a fails: its line stays in its cart
        "POST /api/cart/items", "POST /api/checkout",  # t-b: its own cart, nothing to empty
        "DELETE /api/cart", "POST /api/cart/items", "POST /api/checkout",  # t-a starts again from an empty cart
    ]  # fmt: skip
