"""Work moto repeats on every call, done once or skipped, without changing one answer (issue 13).

The emulator is the stack's busiest process under the checkout load: a third of the CPU a checkout cost at 10/s
before these (58-61 of 173-182 CPU-ms, docs/commerce-core.md, the sixth pass).
py-spy of its worker at 8 checkouts/s (``nox -s bench -- checkout --rate 8 --profile``) showed where a call's time
went besides the work asked for, and each item below removes one such cost. Each replaces a moto function with
one that returns what moto's own returns for the same arguments (tests/unit/test_moto_speedups.py compares them
on the same inputs, and the integration tests run every service against the emulator with them on):

- **Which application serves a host name** (under a lock, listing its package's directories) and **the methods of
  a response class** (``inspect.getmembers``): remembered (an LRU cache; both answers never change).
- **A backend looked up by account** (``BackendDict.__getitem__``, on every call and again for IAM's "access key
  last used"): moto takes a lock shared by every backend and scans the list of backends in use (comparing each in
  Python) before reading the dictionary, to add the account if it is missing. With the account present and the
  backend listed (every call but the first), there is nothing to add: the dictionary is read without the lock.
- **An SQS message's retention checked on receipt**: moto builds every attribute of the queue (the approximate
  counts among them, each a pass over the queue's messages, twice) to read one, the retention period, for each
  message it hands out. The period is read from the queue itself.
- **A name turned from camel case to snake case** (``camelcase_to_underscores``, a loop in Python over its
  characters): remembered per name. moto does it for each attribute of an SQS queue it builds (on every message
  an SNS topic delivers to a queue) and for each action and parameter name of a request.
- **DynamoDB's expressions parsed**: an ``UpdateItem`` parses its update expression twice (validation, then the
  write) and its condition expression twice (in-process, the cart's expressions under ``timeit``: 0.56 ms a parse of
  the update expression, 1.21 ms of the condition; an ``UpdateItem`` with boto3's client in the same process took
  6.7-9.7 ms, a ``GetItem`` 1.7-2.3). The
  tokens of a condition expression depend on its text alone and are kept per text (each call gets new nodes, as
  from moto's lexer); an update expression's syntax tree is kept per text as its pickle, and each call gets a
  tree of its own, as from a parse, for about a tenth of a parse's time (moto's validator copies the tree
  before it rewrites it, but a caller may not).
  An expression that does not parse is not kept: it fails again, with moto's own error, every time.
- **Where each member of an answer is read from** (moto's serializer, ``ResponseSerializer.get_value``): for every
  member of the output's model, moto builds a context, asks six alias providers for the names it might go by
  (``Count``, ``count``, ``ShapePrefix``-less ...) and tries each; for every attribute value of a DynamoDB item
  that is ten members, nine of them absent. When the object is a plain ``dict`` (all of DynamoDB's answers), those
  names depend on the member and its model alone, so they are worked out once per member and tried in moto's
  order. Under cProfile, in one process, this was half of the emulator's time for a ``GetItem``; any other
  object, or a service with response transformers (SNS), goes moto's own way.
- **An update expression validated**: moto's validator copies the parsed tree with ``copy.deepcopy`` and walks it
  ten times, checking every node against abstract classes (``isinstance`` through ``ABCMeta``) twice a walk. The
  tree (nodes, strings, numbers) is copied by a pickle round trip, as deepcopy copies it, and each check's answer
  is kept per pair of classes (a processor's node classes are a dict literal). With the cart's expression,
  ``timeit`` in one process (a script not kept, eight rounds alternating): 2.1 ms a validation against 1.4 (load
  average 0.9).
- **The clock read by SQS's models**: moto's ``unix_time`` builds two ``datetime`` objects (now and the epoch) and
  subtracts them, and SQS reads it once or twice for every message it looks at: whether each is visible and whether
  it is delayed, for the queue's visible messages and for each approximate count. moto builds every attribute of a
  queue (the three counts among them) for every message SNS delivers to it, to read one flag
  (``ContentBasedDeduplication``), so a delivery cost a pass of clock readings over every message the queue held
  (in flight included): with up to 300 held, 14 ms of the emulator's CPU a ``PublishBatch`` to two queues, 2.6-3.0
  with this (docs/local-cloud.md).
  SQS's models now read the same clock with ``time.time()``; the values agree with moto's to the microsecond its
  ``datetime`` keeps. A time given as a ``datetime`` is converted by moto's own function.

``SHOP_MOTO_SPEEDUPS=0`` serves moto as it is: to measure them (``nox -s bench -- moto`` compares
``granian`` with ``granian-plain``), or to rule them out if the emulator misbehaves. The functions replaced are
moto's internals: ``pyproject.toml`` takes moto a minor version at a time, and a speed-up whose target moto no
longer has is skipped (``install`` returns the names of those installed; a test requires all of them).
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import time
from collections import deque
from typing import Any

ENV = "SHOP_MOTO_SPEEDUPS"
CACHED_EXPRESSIONS = 1024  # distinct expression texts kept (the shop writes a few dozen)


def enabled() -> bool:
    """Whether the emulator is to be served with them (``SHOP_MOTO_SPEEDUPS``: on unless "0", "false", "no", "off")."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def install(app: Any) -> list[str]:
    """Every speed-up into this process's moto (``app``: moto's ``DomainDispatcherApplication``); idempotent. The
    names of those installed."""
    done = []
    for name, speedup in (
        ("host lookups", functools.partial(remember_lookups, app)),
        ("backends by account", backends_by_account),
        ("sqs retention", sqs_retention),
        ("dynamodb expressions", dynamodb_expressions),
        ("camelcase names", camelcase_names),
        ("response keys", response_keys),
        ("dynamodb validation", dynamodb_validation),
        ("sqs clock", sqs_clock),
    ):
        if speedup():
            done.append(name)
    return done


def _mark(function: Any) -> Any:
    function.__speedup__ = True
    return function


def _installed(function: Any) -> bool:
    return getattr(function, "__speedup__", False) or hasattr(function, "cache_info")


def remember_lookups(app: Any) -> bool:
    """Which application serves a host name, and a response class's method names: remembered."""
    import moto.core.responses

    if not hasattr(app.get_backend_for_host, "cache_info"):
        app.get_backend_for_host = functools.lru_cache(maxsize=256)(app.get_backend_for_host)
    names = getattr(moto.core.responses, "method_names_from_class", None)
    if names is None:
        return False
    if not _installed(names):
        moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=1024)(names)  # type: ignore[assignment]
    return True


def backends_by_account() -> bool:
    """``BackendDict.__getitem__`` without moto's lock and scan when the account is there and the backend listed."""
    from moto.core.base_backend import BackendDict

    create = getattr(BackendDict, "_create_account_specific_backend", None)
    if create is None or not hasattr(BackendDict, "_instances"):
        return False
    if _installed(create):
        return True

    @functools.wraps(create)
    def ensure(self: BackendDict, account_id: str) -> None:
        # moto's adds the account when it is missing and lists the backend when it is not listed: with both
        # done (a dictionary read and an identity scan, atomic under the GIL) it would change nothing.
        if dict.__contains__(self, account_id) and any(listed is self for listed in BackendDict._instances):
            return
        create(self, account_id)

    BackendDict._create_account_specific_backend = _mark(ensure)  # type: ignore[method-assign]
    return True


def sqs_retention() -> bool:
    """A received message's retention checked against the queue's period alone (moto builds every attribute)."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    check = getattr(SQSBackend, "is_message_valid_based_on_retention_period", None)
    if check is None:
        return False
    if _installed(check):
        return True

    @functools.wraps(check)
    def valid(self: SQSBackend, queue_name: str, message: Any) -> bool:
        # moto's: get_queue_attributes(queue_name, ["MessageRetentionPeriod"])["MessageRetentionPeriod"], which is
        # the queue's message_retention_period (Queue.attributes reads each attribute from the queue itself).
        retention_period = self.get_queue(queue_name).message_retention_period
        return retention_period + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = _mark(valid)  # type: ignore[method-assign]
    return True


def dynamodb_expressions() -> bool:
    """A condition expression's tokens and an update expression's syntax tree, kept per expression text."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    lex = getattr(ConditionExpressionParser, "_lex_condition_expression", None)
    make = UpdateExpressionParser.__dict__.get("make")
    if lex is None or not isinstance(make, classmethod):
        return False
    if not _installed(lex):
        node = ConditionExpressionParser.Node

        @functools.lru_cache(maxsize=CACHED_EXPRESSIONS)
        def tokens(text: str) -> tuple[Any, ...]:
            return tuple(lex(ConditionExpressionParser(text, {}, {})))

        @functools.wraps(lex)
        def lexed(self: ConditionExpressionParser) -> deque[Any]:
            # A lexed node is a leaf (children an empty list): each call gets new ones, as moto's lexer makes.
            return deque(node(t.nonterminal, t.kind, t.text, t.value, []) for t in tokens(self.condition_expression))

        ConditionExpressionParser._lex_condition_expression = _mark(lexed)  # type: ignore[method-assign]
    if not _installed(make.__func__):
        parse = make.__func__

        @functools.lru_cache(maxsize=CACHED_EXPRESSIONS)
        def pickled(cls: type, text: str) -> bytes:
            return pickle.dumps(parse(cls, text), protocol=pickle.HIGHEST_PROTOCOL)

        @functools.wraps(parse)
        def parsed(cls: type, expression_str: str) -> Any:
            return pickle.loads(pickled(cls, expression_str))  # noqa: S301 - bytes this process pickled

        UpdateExpressionParser.make = classmethod(_mark(parsed))  # type: ignore[method-assign,assignment]
    return True


def camelcase_names() -> bool:
    """``camelcase_to_underscores`` remembered per name, in moto's modules imported so far and those to come."""
    import moto.core.utils

    convert = getattr(moto.core.utils, "camelcase_to_underscores", None)
    if convert is None:
        return False
    if _installed(convert):
        return True
    remembered = functools.lru_cache(maxsize=4096)(convert)
    for module in list(sys.modules.values()):  # those that imported it by name already; later ones get this one
        if (
            getattr(module, "__name__", "").startswith("moto")
            and getattr(module, "camelcase_to_underscores", None) is convert
        ):
            module.camelcase_to_underscores = remembered  # type: ignore[attr-defined]
    return True


def response_keys() -> bool:
    """Where a response's member is read from a ``dict`` (the names moto's serializer tries), kept per member."""
    from moto.core import serialize

    pickers, base = (serialize.AttributePicker, serialize.XFormedAttributePicker), serialize.ResponseSerializer
    get_value = base.__dict__.get("get_value")
    aliases = [
        getattr(serialize, name, None)
        for name in ("ExplicitAlias", "ShapeNameAlias", "NoAlias", "ShapePrefixAlias", "ClassPrefixAlias", "ModelAlias")
    ]
    if get_value is None or getattr(serialize, "DEFAULT_ALIAS_PROVIDERS", None) != aliases:
        return False  # another moto: its aliases may read the object, not only its type and the model
    if _installed(get_value):
        return True
    default, missing, value_of = serialize.DEFAULT_ALIAS_PROVIDERS, serialize.MISSING, serialize.get_value
    names: dict[tuple[Any, ...], tuple[str, ...]] = {}

    @functools.wraps(get_value)
    def member(self: Any, value: Any, key: str, shape: Any) -> Any:
        chooser = self._value_picker
        if (
            type(value) is not dict
            or type(chooser) not in pickers
            or chooser.alias_providers is not default
            or chooser.response_transformers
        ):
            return get_value(self, value, key, shape)
        # For a plain dict, every alias moto tries depends on the member's name and shape (its parent's, which the
        # serializer sets) and on the object's type alone (a dict has no Meta and is named "dict"): the names are
        # the same on every call. They are tried in moto's order, the first one present wins, as in moto's.
        at = (type(chooser), key, shape, getattr(shape, "parent", None))
        tried = names.get(at)
        if tried is None:
            context = serialize.AttributePickerContext(value, key, shape, self.operation_model, self.service_model)
            tried = names.setdefault(at, tuple(chooser.get_possible_keys(context)))
        for name in tried:
            found = value_of(value, name, missing)
            if found is not missing:
                return found
        return None

    base.get_value = _mark(member)
    return True


def dynamodb_validation() -> bool:
    """moto's validation of an update expression: each walk's class checks answered once per class, and the tree
    it validates copied by pickle instead of ``copy.deepcopy``."""
    import moto.dynamodb.parsing.validators as validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    walk = DepthFirstTraverser.__dict__.get("traverse_node_recursively")
    copy = getattr(validators, "deepcopy", None)
    if walk is None or copy is None or "nodes_to_be_processed" not in DepthFirstTraverser.__dict__:
        return False
    processors = _subclasses(DepthFirstTraverser)
    if any({"nodes_to_be_processed", "traverse_node_recursively"} & c.__dict__.keys() for c in processors):
        return False  # a processor that picks its nodes its own way: moto's walk for all
    if _installed(walk):
        return True
    nodes: dict[type, bool] = {}
    processed: dict[tuple[type, type], bool] = {}

    @functools.wraps(walk)
    def walked(self: DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
        # moto's, line for line, but for its two isinstance checks against abstract classes (Node, and the node
        # classes of the processor's _processing_map, a dict literal in every processor), made on every node of
        # each of a validation's ten walks: they depend on the two classes alone, so they are kept per pair.
        kind = type(node)
        is_node = nodes.get(kind)
        if is_node is None:
            is_node = nodes.setdefault(kind, isinstance(node, Node))
        if is_node:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            pair = (type(self), kind)
            wanted = processed.get(pair)
            if wanted is None:
                wanted = processed.setdefault(pair, isinstance(node, self.nodes_to_be_processed()))
            if wanted:
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    @functools.wraps(copy)
    def copied(value: Any, memo: Any = None) -> Any:
        # The validator copies the parsed tree before rewriting it: a tree of nodes, strings and numbers, which a
        # pickle round trip copies as deepcopy does (shared nodes stay shared), in about 0.4 of its time.
        if memo is not None or not isinstance(value, Node):
            return copy(value, memo)
        try:
            pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - anything pickle cannot copy, deepcopy does
            return copy(value, memo)
        return pickle.loads(pickled)  # noqa: S301 - bytes this process pickled

    DepthFirstTraverser.traverse_node_recursively = _mark(walked)  # type: ignore[method-assign]
    validators.deepcopy = _mark(copied)
    return True


def sqs_clock() -> bool:
    """SQS's models read the clock with ``time.time()``, not through two ``datetime`` objects a reading."""
    import moto.sqs.models

    seconds, millis = getattr(moto.sqs.models, "unix_time", None), getattr(moto.sqs.models, "unix_time_millis", None)
    if seconds is None or millis is None:
        return False
    if _installed(seconds) and _installed(millis):
        return True

    @functools.wraps(seconds)
    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else seconds(dt)

    @functools.wraps(millis)
    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else millis(dt)

    moto.sqs.models.unix_time = _mark(unix_time)
    moto.sqs.models.unix_time_millis = _mark(unix_time_millis)
    return True


def _subclasses(cls: type) -> list[type]:
    found, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found
