"""alerting: the pure logic behind oomwatch's alerts (no AWS calls, no boto3).

The Lambda handlers in ``handlers`` do the I/O (CloudWatch Logs, EC2, DynamoDB, SNS) and
hand plain data to this package, which decides severity, noise fingerprints and hints and
renders the texts. Keeping it pure lets the unit tests pin every message without moto.
"""
