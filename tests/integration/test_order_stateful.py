"""The real order service and database, driven by hypothesis through random command sequences.

The pure domain model is the oracle: after every step the stored status and the outbox rows of
each order are what the model says, including when the same command is sent twice at once.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from order_support import order_body, outbox_rows, settings_for

from services.order import domain
from services.order.app import create_app
from services.order.domain import Command, Order, OrderStatus

BODIES = {Command.CONFIRM: {"payment_id": "pay-1"}, Command.CANCEL: {"reason": "customer asked"}}


class Service:
    """The app started in an event loop on a thread of its own, so hypothesis's synchronous rules can call it."""

    def __init__(self, order_settings):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app = create_app(order_settings)
        self.lifespan = self.run(self._start())
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test")

    async def _start(self) -> LifespanManager:
        lifespan = LifespanManager(self.app)  # it detects the async library, so it is made inside the loop
        await lifespan.__aenter__()
        return lifespan

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    async def send(self, order_id: str, command: Command) -> int:
        if command is Command.PAY:  # what the payment consumer runs for PaymentCaptured
            try:
                await self.app.state.service.apply(order_id, command)
            except domain.IllegalTransition:
                return 409
            return 200
        response = await self.client.post(f"/internal/orders/{order_id}/{command}", json=BODIES.get(command))
        return response.status_code

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.lifespan.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def expected_status(model: Order, command: Command) -> tuple[int, Order]:
    try:
        return 200, domain.decide(model, command, payment_id="pay-1", reason="customer asked").order
    except domain.IllegalTransition:
        return 409, model


def machine(service: Service) -> type[RuleBasedStateMachine]:
    class AgainstTheService(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            self.model: dict[str, Order] = {}

        @rule(target=orders)
        def place(self) -> str:
            order_id = f"ord-{uuid.uuid4().hex[:12]}"
            response = service.run(service.client.post("/internal/orders", json=order_body(order_id)))
            assert response.status_code == 201
            self.model[order_id] = Order(order_id, "sub-alice", "alice@example.com", "EUR", (), 0, 0)
            return order_id

        @rule(order_id=orders, command=st.sampled_from(Command))
        def send(self, order_id: str, command: Command) -> None:
            status, after = expected_status(self.model[order_id], command)
            assert service.run(service.send(order_id, command)) == status, f"{command} from {self.model[order_id]}"
            self.model[order_id] = after

        @rule(order_id=orders, command=st.sampled_from(Command))
        def send_twice_at_once(self, order_id: str, command: Command) -> None:
            status, after = expected_status(self.model[order_id], command)

            async def both() -> list[int]:
                return list(await asyncio.gather(service.send(order_id, command), service.send(order_id, command)))

            assert service.run(both()) == [status, status]
            self.model[order_id] = after

        @invariant()
        def the_database_and_the_outbox_match_the_model(self) -> None:
            for order_id, model in self.model.items():
                stored = service.run(service.app.state.service.get(order_id))
                assert stored.status is model.status
                assert stored.history == model.history
                events = service.run(outbox_rows(service.app, order_id))
                assert sorted(e for e, _ in events) == sorted(domain.EVENT_OF[s] for s in model.history)
                assert stored.history[0] is OrderStatus.PENDING

    return AgainstTheService


def test_random_command_sequences_against_the_service_keep_the_database_and_outbox_in_step_with_the_model(
    aws, database_secret
):
    service = Service(settings_for(aws, database_secret))
    try:
        run_state_machine_as_test(
            machine(service),
            settings=settings(
                max_examples=12,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        service.close()
