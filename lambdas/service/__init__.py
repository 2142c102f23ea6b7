"""service: the deployed Lambda functions, in layers (ran-isenberg/aws-lambda-handler-cookbook).

``handlers`` (entry points: decode the event, call the logic) -> ``logic`` (the use cases: kills, digests,
alarm and rollout notices, the delivery protocol; and the pure decisions and texts: severity, hints,
alert text) -> ``dal`` (AWS access: state table, EC2, Logs, SNS, clients), with ``models`` (settings from the
environment, the instance view) shared by all. ``wiring`` builds the collaborators once per container.
Parsing is the stdlib package ``oomwatch``. See docs/architecture.md.
"""
