"""The Templates port on Jinja2: ``<template>.subject.txt``, ``<template>.txt`` and ``<template>.html`` per event.

HTML is autoescaped (a product name is customer-visible text, never markup); undefined
values raise, so a broken template fails the event (it is redelivered, then dead-lettered)
instead of sending a half-empty e-mail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notification.domain import Email
from services.notification.ports import Templates

PACKAGED = Path(__file__).resolve().parent.parent / "templates"


class JinjaTemplates(Templates):
    def __init__(self, folder: str | Path = "", **shared: Any):
        self.env = Environment(
            loader=FileSystemLoader(str(folder or PACKAGED)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.shared = shared

    def render(self, template: str, to: str, values: dict[str, Any]) -> Email:
        context = {**self.shared, **values, "to": to}
        subject = self.env.get_template(f"{template}.subject.txt").render(context)
        return Email(
            to=to,
            subject=" ".join(subject.split()),  # one line: a header cannot hold a newline
            text=self.env.get_template(f"{template}.txt").render(context),
            html=self.env.get_template(f"{template}.html").render(context),
        )
