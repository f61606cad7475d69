"""The docs site's generator: stages docs/ and the generated pages into build/docs/src for Zensical.

``python -m docs.gen build`` (what ``nox -s docs`` runs) writes every generated page from the
running code and ``reference/``, then builds the site in strict mode into ``build/docs/site``.
Nothing it writes is checked in.
"""
