"""Chaos experiments that prove their fault took effect: ``nox -s chaos -- list | NAME | all`` (chaos/README.md)."""
