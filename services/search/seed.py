"""Build the search index after the catalog seed: ``nox -s up`` runs ``python -m services.search.seed``.

The supervisor runs seeds in reference/ order (catalog, then search), once every service is
ready, so the index starts from the seeded catalog (the catalog seed publishes no events;
see services/catalog/README.md). It is a full reindex; events keep the index in step after it.
"""

from __future__ import annotations

from services.search.reindex import run


def main() -> None:
    print(run(), flush=True)


if __name__ == "__main__":
    main()
