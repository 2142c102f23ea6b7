#!/usr/bin/env python3
"""The OOMWatch CDK app: ``cdk synth`` / ``cdk deploy`` run this (see ``cdk.json``).

Settings come from CDK context only: the defaults in ``cdk.json`` and ``-c key=value`` overrides
(``docs/configuration.md``). They are parsed into one validated :class:`infra.config.OomWatchConfig`
before any construct is built; a wrong value or an unknown key ends the run with one line
``oomwatch: config: <key>=<value>: <why>`` on stderr and exit status 2 (the CDK CLI then adds its own
``<app>: Subprocess exited with error 2`` and exits 1: ``docs/configuration.md``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The jsii runtime (the Node process behind ``aws_cdk``) prints an 11-line banner when Node's major
#: version is deprecated, end-of-life or untested, before anything of ours: on stderr, as Python byte
#: strings. It says nothing about OOMWatch, and would bury the one-line config error, so the app silences
#: it for every run (``cdk synth``/``deploy`` run this file directly, not through the Makefile). The
#: end-of-life switch takes a list of majors (jsii ``@jsii/check-node``); a value already set is kept.
JSII_QUIET: Mapping[str, str] = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": ",".join(str(major) for major in range(1, 100)),
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}
for _name, _value in JSII_QUIET.items():
    os.environ.setdefault(_name, _value)

# The jsii runtime starts on the first import of a jsii library: after the environment above.
import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.bytecode import find_python, python_candidates  # noqa: E402
from infra.config import ConfigError, OomWatchConfig  # noqa: E402
from infra.processing import PYTHON_VERSION  # noqa: E402
from infra.stack import OomWatchStack  # noqa: E402

#: The Lambda code asset: the handlers and the parser, deployed as they are.
LAMBDA_CODE = Path(__file__).resolve().parent / "lambdas"


def read_config(app: cdk.App) -> OomWatchConfig:
    """The settings from the app's context (``cdk.json`` plus ``-c`` overrides), validated.

    All of the context, so that a key that is no setting (``alert_email``) is refused, not ignored.
    """
    context: Mapping[str, Any] = app.node.get_all_context()
    return OomWatchConfig.from_context(context)


def bytecode_python() -> str | None:
    """A CPython of the Lambda runtime's version to compile the asset's bytecode with, or None
    (:mod:`infra.bytecode`): this interpreter, ``python3.13`` on PATH, or a pyenv/uv install."""
    return find_python(PYTHON_VERSION, python_candidates(PYTHON_VERSION, current=sys.executable, home=Path.home()))


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> tuple[cdk.App, OomWatchStack]:
    """Build the app: config first (raises :class:`ConfigError`), then the stack and cdk-nag.

    The CDK CLI passes its context through the environment, so ``main`` calls this with no arguments;
    tests pass ``context`` (a dict) instead.
    """
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    config = read_config(app)
    stack = OomWatchStack(
        app, config.stack_name, config=config, code_path=LAMBDA_CODE, bytecode_python=bytecode_python()
    )
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
