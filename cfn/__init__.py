"""Infrastructure as code: one troposphere module per layer of the diagram, rendered by ``python -m cfn``.

Each layer module exposes small ``add_*`` functions and one ``build() -> Template``; stacks are
joined by exports (``shop-<stage>-<key>``) and deployed in the order of ``cfn.build.LAYERS``.
"""
