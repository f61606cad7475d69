"""Per-service pages: the settings table read from each service's settings class, the routes from its OpenAPI.

The app is built with ``create_app(settings)`` and asked for ``app.openapi()``; its lifespan never runs,
so nothing connects. The settings instance is made with ``model_construct()`` (defaults, no validation,
no environment), so a class that insists on a variable (a user pool id) still yields its table.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from docs.gen.resources import cell
from reference.access import Grant
from reference.model import Service

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


@dataclass(frozen=True)
class Setting:
    names: tuple[str, ...]  # environment variables, the first is the one to set
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    public: str | None  # the path through the gateway (/api/...), None when not routed from outside
    summary: str
    statuses: tuple[str, ...]


def settings_class(service: str) -> type[BaseSettings]:
    """The settings class ``create_app`` of ``services.<service>.app`` takes."""
    create_app = importlib.import_module(f"services.{service}.app").create_app
    hint = typing.get_type_hints(create_app).get("settings")
    for candidate in typing.get_args(hint) or (hint,):
        if inspect.isclass(candidate) and issubclass(candidate, BaseSettings):
            return candidate
    module = importlib.import_module(f"services.{service}.settings")  # the chassis may type it as a base class
    own = [c for c in vars(module).values() if inspect.isclass(c) and issubclass(c, BaseSettings)]
    own = [c for c in own if c.__module__ == module.__name__]
    if len(own) == 1:
        return own[0]
    raise TypeError(f"services.{service}: create_app names no settings class and settings.py has {len(own)}")


def settings_table(cls: type[BaseSettings]) -> list[Setting]:
    """Every field of ``cls`` (and its bases) as the variables that set it, its type, default and why."""
    prefix = cls.model_config.get("env_prefix", "")
    comments = _field_comments(cls)
    rows = []
    for name, info in cls.model_fields.items():
        rows.append(
            Setting(
                names=_env_names(name, info, prefix),
                type=_type_name(info.annotation),
                default=_default(info),
                description=info.description or comments.get(name, ""),
            )
        )
    return rows


def routes(service: Service) -> list[Route]:
    """The routes of the service's OpenAPI document, with the public path where the gateway routes one."""
    spec = openapi(service.name)
    found = []
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            if method not in HTTP_METHODS:
                continue
            public = None
            first = path.strip("/").split("/")[0]
            if first in service.public_prefixes and not path.startswith("/internal"):
                public = f"/api{path}"
            elif path.startswith("/api/"):  # the gateway itself: its routes are the front door's
                public = path
            found.append(
                Route(method.upper(), path, public, op.get("summary", ""), tuple(sorted(op.get("responses", {}))))
            )
    return found


def openapi(service: str) -> dict[str, Any]:
    """``create_app(settings).openapi()`` of a service, built without running its lifespan."""
    cls = settings_class(service)
    create_app = importlib.import_module(f"services.{service}.app").create_app
    quiet = logging.root.manager.disable
    logging.disable(logging.WARNING)  # some apps log their wiring at import
    try:
        return create_app(cls.model_construct()).openapi()
    finally:
        logging.disable(quiet)


def _env_names(name: str, info: FieldInfo, prefix: str) -> tuple[str, ...]:
    alias = info.validation_alias or info.alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(c for c in alias.choices if isinstance(c, str))
    if isinstance(alias, AliasPath):
        return (str(alias.path[0]),)
    return (f"{prefix}{name}".upper(),)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return " | ".join(repr(m.value) for m in annotation)
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "(required)"
    else:
        value = info.default
    if isinstance(value, Enum):
        value = value.value
    if value == "" or value == []:
        return '""' if value == "" else "[]"
    return str(value)


def _field_comments(cls: type) -> dict[str, str]:
    """The ``#`` comment lines just above each field of ``cls`` and its bases (a comment is the why)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, BaseSettings) or klass is BaseSettings:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                above.append(stripped.lstrip("#").strip())
                continue
            field = re.match(r"^\s{4}(\w+)\s*:", line)
            trailing = re.search(r"\s#\s*(.+)$", line)
            if field and (above or trailing):
                found[field.group(1)] = " ".join([*above, trailing.group(1) if trailing else ""]).strip()
            above = []
    return found


def page(service: Service, readme_link: str, diagram_link: str, grants: tuple[Grant, ...] = ()) -> str:
    """The Markdown page of one service (``grants``: from ``reference.access.grants()``)."""
    cls = settings_class(service.name)
    lines = [
        f"# {service.name}",
        "",
        f"{service.summary[0].upper()}{service.summary[1:]}. Diagram node `{service.node}` ({diagram_link}); "
        f"local port {service.port}; its README: {readme_link}.",
        "",
        "This page is generated at build time from the service's settings class and its OpenAPI document: "
        "it cannot drift from the code.",
        "",
        f"[![{service.name} and its arrows]({service.name}.svg)]({service.name}.svg)",
        "",
        f"- owns a database schema: {'yes' if service.database else 'no'}",
        f"- public prefixes: {', '.join(f'`/api/{p}`' for p in service.public_prefixes) or 'none'}",
        f"- anonymous GETs cached by the gateway: {f'{service.public_cache_s} s' if service.public_cache_s else 'no'}",
        f"- gateway timeout: {f'{service.gateway_timeout_s:g} s' if service.gateway_timeout_s else 'the default'}",
        "",
        "## What it may touch",
        "",
        "Its grants, derived in `reference/access.py` from the diagram's arrows and from the resources that name "
        "it; the templates turn each into IAM statements.",
        "",
        "| may | what | named | because of |",
        "|---|---|---|---|",
        *(
            f"| {g.verb.value} | {g.kind} | `{g.target}` | {cell(g.because)} |"
            for g in grants
            if g.service == service.name
        ),
        "",
        "## Routes",
        "",
        "| method | path in the service | through the front door | summary | responses |",
        "|---|---|---|---|---|",
    ]
    for r in routes(service):
        public = f"`{r.public}`" if r.public else "internal" if r.path.startswith("/internal") else "not routed"
        lines.append(f"| {r.method} | `{r.path}` | {public} | {cell(r.summary)} | {', '.join(r.statuses)} |")
    lines += [
        "",
        "## Settings",
        "",
        f"Read by `{cls.__module__}.{cls.__name__}` from the environment. Where a row names two variables, "
        "either sets it (the first wins).",
        "",
        "| variable | type | default | what it is for |",
        "|---|---|---|---|",
    ]
    for s in settings_table(cls):
        names = "<br>".join(f"`{n}`" for n in s.names)
        lines.append(f"| {names} | {cell(f'`{s.type}`')} | {cell(f'`{s.default}`')} | {cell(s.description)} |")
    return "\n".join(lines) + "\n"
