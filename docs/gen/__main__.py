"""``python -m docs.gen [build|serve|stage]``: what ``nox -s docs`` (and ``nox -s docs -- serve``) runs."""

from __future__ import annotations

import argparse
import sys

from docs.gen.build import DocsError, build, serve, stage
from docs.gen.code import ROOT, LinkError
from docs.gen.diagram import GraphvizMissing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docs.gen",
        description="Build the docs site: stage docs/ and the pages generated from reference/ and the services, "
        "then run Zensical in strict mode (a broken link, a missing page or a vanished symbol fails the build).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="build",
        choices=("build", "serve", "stage"),
        help="build (default): build/docs/site; serve: preview with reload; stage: sources only",
    )
    parser.add_argument("--address", default="127.0.0.1:8000", help="serve: where to listen (default %(default)s)")
    args = parser.parse_args(argv)  # fmt: skip
    try:
        if args.command == "serve":
            return serve(args.address)
        if args.command == "stage":
            print(f"staged {len(stage(ROOT / 'build' / 'docs' / 'src'))} pages")
            return 0
        build()
    except (DocsError, LinkError, GraphvizMissing) as exc:
        print(f"docs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
