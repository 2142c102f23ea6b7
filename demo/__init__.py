"""``oomwatch demo``: deploy the app with the real CDK CLI to a local AWS emulator (moto) and play OOM logs
through it. Entry point: :func:`main` (also ``python -m demo``); docs/demo.md explains what is real
and what is emulated."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from demo.cli import main as _main

    return _main(argv)


__all__ = ["main"]
