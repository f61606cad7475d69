"""The ledger's rules as data: one SQL query per rule, returning ``(id, detail)`` for each violation.

Every query sees the same parameters: ``:since`` (start of the window), ``:settled`` (its end:
``until``, but never later than now minus the settle delay, so work still in flight is not
judged) and ``:now``. An entity is in the window when its ``created_at`` is in
``[since, settled)``. Each service's tables live in its own schema; the ledger reads them all
(read-only) because it is the auditor, not a service.

| rule | about | what must hold |
|---|---|---|
| charged_once | orders confirmed, paid, fulfilled | one captured payment (total, currency, `payment_id`), no other |
| refund_matches | orders refunded | one refunded payment of the total and currency; no money still held |
| cancelled_not_charged | orders cancelled | every payment declined, voided or refunded |
| stock_committed | orders confirmed or beyond | the reservation `chk-<checkout_id>` is committed |
| stock_returned | orders cancelled | the reservation `chk-<checkout_id>` is released or expired |
| order_settled | orders | none left pending or confirmed (the saga confirms or cancels; PaymentCaptured pays) |
| order_events_written | orders | every status the order reached has its event in the order outbox |
| no_orphan_charge | payments | the payment's order exists |
| payment_settled | payments | none left pending, authorized or failed (money may be held) |
| no_stale_hold | reservations | none still held past its expiry |
| hold_owned | reservations | a held reservation belongs to an unfinished checkout |
| checkout_finished | checkouts | completed or failed, none left in between |
| completed_has_order | checkouts completed | the order `ord-<checkout_id>` exists, confirmed or beyond |
| failed_compensated | checkouts failed | its order absent or cancelled, its reservation absent, released or expired |
| outbox_published:<schema> | every outbox table | every row is published |
| handled_by:<queue> | events of each subscription | recorded in the consumer's `processed_events` |
| email_recorded | events notification handled | an `emails` row: sent, or skipped with a reason |
| dead_letters | every DLQ | holds exactly the expected poison count (0 by default) |

A rule whose tables do not exist (that service does not run) is reported as skipped.
"""

# ruff: noqa: S608 - the SQL is assembled from this module's constants and reference/, never from input

from __future__ import annotations

from dataclasses import dataclass

from reference import RESOURCES


@dataclass(frozen=True)
class Rule:
    name: str
    about: str
    sql: str
    needs: tuple[str, ...]  # "schema.table" the query reads


def window(alias: str) -> str:
    return f"{alias}.created_at >= :since and {alias}.created_at < :settled"


HOLDING = "('pending', 'authorized', 'failed', 'captured', 'refunded')"
ORDERS, PAYMENTS, RESERVATIONS = '"order".orders', '"payment".payments', '"catalog".reservations'
CHECKOUTS = '"checkout".checkouts'


def _charges(statuses: str, settled_as: str) -> str:
    """Orders in ``statuses`` whose payments do not add up to one charge in ``settled_as`` of the total."""
    return f"""
select o.order_id, o.status || ': ' || coalesce(string_agg(p.status || ' ' || p.amount_minor || ' ' || p.currency
       || ' ' || p.id, ', '), 'no payment')
from {ORDERS} o left join {PAYMENTS} p on p.order_id = o.order_id
where o.status in {statuses} and {window("o")}
group by o.order_id, o.status, o.total_minor, o.currency, o.payment_id
having count(p.id) filter (where p.status = '{settled_as}' and p.amount_minor = o.total_minor
                          and p.currency = o.currency and p.id::text = o.payment_id) <> 1
    or count(p.id) filter (where p.status in {HOLDING}) <> 1"""


def _reservation(statuses: str, wanted: str) -> str:
    return f"""
select o.order_id, o.status || ', reservation ' || coalesce(r.id || ' ' || r.status, 'missing')
from {ORDERS} o left join {RESERVATIONS} r on r.id = 'chk-' || o.checkout_id
where o.status in {statuses} and {window("o")} and (r.status is null or r.status not in {wanted})"""


RULES: tuple[Rule, ...] = (
    Rule("charged_once", "orders", _charges("('confirmed', 'paid', 'fulfilled')", "captured"),
         (ORDERS, PAYMENTS)),
    Rule("refund_matches", "orders", _charges("('refunded')", "refunded"), (ORDERS, PAYMENTS)),
    Rule("cancelled_not_charged", "orders", f"""
select o.order_id, string_agg(p.status || ' ' || p.id, ', ')
from {ORDERS} o join {PAYMENTS} p on p.order_id = o.order_id
where o.status = 'cancelled' and {window("o")} and p.status in ('pending', 'authorized', 'failed', 'captured')
group by o.order_id""", (ORDERS, PAYMENTS)),
    Rule("stock_committed", "orders", _reservation("('confirmed', 'paid', 'fulfilled', 'refunded')", "('committed')"),
         (ORDERS, RESERVATIONS)),
    Rule("stock_returned", "orders", _reservation("('cancelled')", "('released', 'expired')"),
         (ORDERS, RESERVATIONS)),
    Rule("order_settled", "orders", f"""
select o.order_id, 'left ' || o.status from {ORDERS} o
where o.status in ('pending', 'confirmed') and {window("o")}""", (ORDERS,)),
    Rule("order_events_written", "orders", f"""
select h.order_id, 'reached ' || h.to_status || ' without its event ' || h.event_id
from {ORDERS} o join "order".order_status_history h on h.order_id = o.order_id
where {window("o")} and not exists (select 1 from "order".outbox x where x.event_id = h.event_id)""",
         (ORDERS, '"order".order_status_history', '"order".outbox')),
    Rule("no_orphan_charge", "payments", f"""
select p.id::text, p.status || ' ' || p.amount_minor || ' ' || p.currency || ' for missing order ' || p.order_id
from {PAYMENTS} p left join {ORDERS} o on o.order_id = p.order_id
where {window("p")} and o.order_id is null""", (ORDERS, PAYMENTS)),
    Rule("payment_settled", "payments", f"""
select p.id::text, 'left ' || p.status || ' (order ' || p.order_id || ')' from {PAYMENTS} p
where p.status in ('pending', 'authorized', 'failed') and {window("p")}""", (PAYMENTS,)),
    Rule("no_stale_hold", "reservations", f"""
select r.id, 'held, expired at ' || r.expires_at from {RESERVATIONS} r
where r.status = 'held' and r.expires_at < :settled and {window("r")}""", (RESERVATIONS,)),
    Rule("hold_owned", "reservations", f"""
select r.id, 'held for checkout ' || coalesce(c.status, 'missing') from {RESERVATIONS} r
left join {CHECKOUTS} c on 'chk-' || c.checkout_id = r.id
where r.status = 'held' and {window("r")} and (c.status is null or c.status in ('completed', 'failed'))""",
         (RESERVATIONS, CHECKOUTS)),
    Rule("checkout_finished", "checkouts", f"""
select c.checkout_id, 'left ' || c.status from {CHECKOUTS} c
where c.status not in ('completed', 'failed') and {window("c")}""", (CHECKOUTS,)),
    Rule("completed_has_order", "checkouts", f"""
select c.checkout_id, 'order ' || coalesce(o.order_id || ' ' || o.status, 'missing') from {CHECKOUTS} c
left join {ORDERS} o on o.order_id = 'ord-' || c.checkout_id
where c.status = 'completed' and {window("c")}
  and (o.status is null or o.status not in ('confirmed', 'paid', 'fulfilled', 'refunded'))""", (CHECKOUTS, ORDERS)),
    Rule("failed_compensated", "checkouts", f"""
select c.checkout_id, 'order ' || coalesce(o.status, 'absent') || ', reservation ' || coalesce(r.status, 'absent')
from {CHECKOUTS} c
left join {ORDERS} o on o.order_id = 'ord-' || c.checkout_id
left join {RESERVATIONS} r on r.id = 'chk-' || c.checkout_id
where c.status = 'failed' and {window("c")}
  and (coalesce(o.status, 'cancelled') <> 'cancelled'
       or coalesce(r.status, 'released') not in ('released', 'expired'))""",
         (CHECKOUTS, ORDERS, RESERVATIONS)),
)  # fmt: skip


def event_rules(existing: set[str]) -> list[Rule]:
    """The outbox and consumer rules, one per outbox table and per subscription of reference/."""
    rules = [
        Rule(f"outbox_published:{schema}", "events", f"""
select x.event_id::text, x.event_type || ' unpublished after ' || x.attempts || ' attempt(s)'
from "{schema}".outbox x where x.published_at is null and {window("x")}""", (f'"{schema}".outbox',))
        for schema in sorted({t.split(".")[0].strip('"') for t in existing if t.endswith(".outbox")})
    ]  # fmt: skip
    for sub in RESOURCES.subscriptions:
        consumer = RESOURCES.queue(sub.queue).consumer
        for publisher in RESOURCES.topic(sub.topic).publishers:
            types = ", ".join(f"'{t}'" for t in sub.event_types)
            rules.append(Rule(f"handled_by:{sub.queue}", "events", f"""
select x.event_id::text, x.event_type || ' of ' || (x.body->>'subject') || ' not handled by {consumer}'
from "{publisher}".outbox x
where x.topic = '{sub.topic}' and x.event_type in ({types}) and {window("x")}
  and not exists (select 1 from "{consumer}".processed_events p where p.event_id = x.event_id)""",
                              (f'"{publisher}".outbox', f'"{consumer}".processed_events')))  # fmt: skip
    notified = [s for s in RESOURCES.subscriptions if s.queue == "notification"]
    for sub in notified:
        for publisher in RESOURCES.topic(sub.topic).publishers:
            types = ", ".join(f"'{t}'" for t in sub.event_types)
            rules.append(Rule("email_recorded", "events", f"""
select x.event_id::text, x.event_type || ' of ' || (x.body->>'subject') || ': ' || coalesce(e.status, 'no e-mail row')
from "{publisher}".outbox x
join "notification".processed_events p on p.event_id = x.event_id
left join "notification".emails e on e.event_id = x.event_id
where x.event_type in ({types}) and {window("x")}
  and (e.status is null or not (e.status = 'sent' or (e.status = 'skipped' and e.skip_reason is not null)))""",
                              (f'"{publisher}".outbox', '"notification".processed_events',
                               '"notification".emails')))  # fmt: skip
    return rules


# What the summary counts, per table: (label, "schema.table", the column grouped by).
COUNTS = (
    ("checkouts", CHECKOUTS, "status"),
    ("orders", ORDERS, "status"),
    ("payments", PAYMENTS, "status"),
    ("reservations", RESERVATIONS, "status"),
    ("emails", '"notification".emails', "status"),
)
