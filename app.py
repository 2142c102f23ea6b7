#!/usr/bin/env python3
"""The OOMWatch CDK app: ``cdk synth`` / ``cdk deploy`` run this (see ``cdk.json``).

Settings come from CDK context only: the defaults in ``cdk.json`` and ``-c key=value`` overrides
(``docs/configuration.md``). They are parsed into one validated :class:`infra.config.OomWatchConfig`
before any construct is built; a wrong value ends the run with one line
``oomwatch: config: <key>=<value>: <why>`` on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import KEYS, ConfigError, OomWatchConfig
from infra.stack import OomWatchStack

#: The Lambda code asset: the handlers and the parser, deployed as they are.
LAMBDA_CODE = Path(__file__).resolve().parent / "lambdas"


def read_config(app: cdk.App) -> OomWatchConfig:
    """The settings from the app's context (``cdk.json`` plus ``-c`` overrides), validated."""
    return OomWatchConfig.from_context({key: app.node.try_get_context(key) for key in KEYS})


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> tuple[cdk.App, OomWatchStack]:
    """Build the app: config first (raises :class:`ConfigError`), then the stack and cdk-nag.

    The CDK CLI passes its context through the environment, so ``main`` calls this with no arguments;
    tests pass ``context`` (a dict) instead.
    """
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    config = read_config(app)
    stack = OomWatchStack(app, config.stack_name, config=config, code_path=LAMBDA_CODE)
    # cdk-nag 3 runs as a policy-validation plugin at synth: any unacknowledged AwsSolutions finding
    # fails the synth. Acknowledgements (with reasons) are also written into the template metadata.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except ConfigError as error:
        print(f"oomwatch: config: {error}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
