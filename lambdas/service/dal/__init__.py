"""Data access: the AWS adapters (state table, EC2, CloudWatch Logs, SNS) and the lazily made boto3 clients."""
