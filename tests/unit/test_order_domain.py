"""The order model alone: its state machine under every reachable sequence of commands, and its totals rules."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from services.order import domain
from services.order.domain import Command, Order, OrderLine, OrderStatus

# The lifecycle drawn in docs/commerce-core.md, written out independently of domain.TRANSITIONS.
DOCUMENTED = {
    ("pending", "confirm"): "confirmed",
    ("pending", "cancel"): "cancelled",
    ("confirmed", "cancel"): "cancelled",
    ("confirmed", "pay"): "paid",
    ("paid", "fulfil"): "fulfilled",
    ("paid", "refund"): "refunded",
    ("fulfilled", "refund"): "refunded",
}


def new_order(order_id: str = "o-1", **changes: object) -> Order:
    values: dict[str, object] = {
        "id": order_id,
        "customer_sub": "sub-alice",
        "email": "alice@example.com",
        "currency": "EUR",
        "lines": (OrderLine("p-mug", 2, 1250), OrderLine("p-tea", 1, 999)),
        "subtotal_minor": 3499,
        "shipping_minor": 500,
        "total_minor": 3999,
        **changes,
    }
    return Order(**values)  # type: ignore[arg-type]


def test_the_transition_table_is_the_documented_lifecycle():
    assert {(str(s), str(c)): str(t) for (s, c), t in domain.TRANSITIONS.items()} == DOCUMENTED
    assert set(domain.TERMINAL) == {OrderStatus.CANCELLED, OrderStatus.REFUNDED}


class Lifecycle(RuleBasedStateMachine):
    """Any number of orders, any command in any order: the model never breaks its rules."""

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Order] = {}
        self.events: dict[str, list[str]] = {}
        self.moves: dict[str, list[tuple[str, str, str]]] = {}

    @rule(target=orders, order_id=st.uuids().map(str))
    def place(self, order_id: str) -> str:
        self.state[order_id] = new_order(order_id)
        self.events[order_id] = [domain.EVENT_OF[OrderStatus.PENDING]]
        self.moves[order_id] = []
        return order_id

    @rule(order_id=orders, command=st.sampled_from(Command), payment_id=st.sampled_from(["pay-1", "pay-2", None]))
    def apply(self, order_id: str, command: Command, payment_id: str | None) -> None:
        before = self.state[order_id]
        try:
            decision = domain.decide(before, command, payment_id=payment_id, reason="changed my mind")
        except domain.Conflict as exc:
            refused = exc
        else:
            refused = None
        if refused is not None:
            allowed = (str(before.status), str(command)) in DOCUMENTED
            assert not allowed or "payment" in refused.detail, f"{command} from {before.status} was refused"
            return
        after = decision.order
        if decision.changed:
            assert (str(before.status), str(command)) in DOCUMENTED, f"illegal {before.status} -{command}->"
            assert before.status not in domain.TERMINAL
            assert after.status == domain.TARGET[command]
            assert decision.event == domain.EVENT_OF[after.status]
            self.events[order_id].append(decision.event)
            self.moves[order_id].append((str(before.status), str(command), str(after.status)))
        else:
            assert after == before, "a repeat must change nothing"
            assert domain.TARGET[command] in before.history
        self.state[order_id] = after

    @rule(order_id=orders, command=st.sampled_from(Command))
    def repeat_is_a_no_op(self, order_id: str, command: Command) -> None:
        order = self.state[order_id]
        if domain.TARGET[command] in order.history:
            assert not domain.decide(order, command).changed

    @invariant()
    def events_emitted_are_the_transitions_made(self) -> None:
        for order_id, order in self.state.items():
            assert len(self.events[order_id]) == len(order.history) == len(self.moves[order_id]) + 1
            assert self.events[order_id] == [domain.EVENT_OF[s] for s in order.history]
            assert order.history[-1] == order.status

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        for order in self.state.values():
            for status in order.history[:-1]:
                assert status not in domain.TERMINAL, f"left terminal state {status}: {order.history}"
            if order.status in domain.TERMINAL:
                assert not any(_is_move(order, command) for command in Command)


def _is_move(order: Order, command: Command) -> bool:
    try:
        return domain.decide(order, command).changed
    except domain.Conflict:
        return False


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


def test_a_refused_transition_names_both_states_and_changes_nothing():
    order = new_order()
    with pytest.raises(domain.IllegalTransition) as refused:
        domain.decide(order, Command.FULFIL)
    assert refused.value.extensions == {"from_status": "pending", "to_status": "fulfilled"}
    assert order.status is OrderStatus.PENDING
    assert order.history == (OrderStatus.PENDING,)


def test_confirming_again_with_another_payment_is_a_conflict_not_a_repeat():
    confirmed = domain.decide(new_order(), Command.CONFIRM, payment_id="pay-1").order
    assert not domain.decide(confirmed, Command.CONFIRM, payment_id="pay-1").changed
    with pytest.raises(domain.Conflict, match="pay-1"):
        domain.decide(confirmed, Command.CONFIRM, payment_id="pay-2")


@pytest.mark.parametrize(
    ("start", "goal", "expected"),
    [("pending", "paid", True), ("confirmed", "refunded", True), ("cancelled", "paid", False), ("paid", "paid", True)],
)
def test_reachability_follows_the_table(start, goal, expected):
    assert domain.reachable(OrderStatus(start), OrderStatus(goal)) is expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": ()}, "lines"),
        ({"lines": (OrderLine("p-mug", 0, 1250),)}, "lines.0.quantity"),
        ({"lines": (OrderLine("p-mug", domain.MAX_QUANTITY + 1, 1),)}, "lines.0.quantity"),
        ({"lines": (OrderLine("p-mug", 1, -5),)}, "lines.0.unit_price_minor"),
        ({"lines": (OrderLine("p-mug", 1, 5), OrderLine("p-mug", 1, 5))}, "lines"),
        ({"subtotal_minor": 3498}, "subtotal_minor"),
        ({"total_minor": 3499}, "total_minor"),
        ({"shipping_minor": -1, "total_minor": 3498}, "shipping_minor"),
    ],
)
def test_orders_that_do_not_add_up_are_refused_naming_the_field(changes, field):
    with pytest.raises(domain.Invalid) as refused:
        domain.check_totals(new_order(**changes))
    assert refused.value.field == field


def test_a_consistent_order_passes_the_totals_check():
    domain.check_totals(new_order())
