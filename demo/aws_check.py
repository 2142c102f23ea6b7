"""``make e2e-aws``: the same pipeline on real AWS, opt-in and never in CI (see docs/demo.md).

With the current credentials and region it deploys a throwaway copy of the stack (its own stack name, its
SSM associations aimed at a tag no instance has), writes a synthetic OOM report into the stack's syslog log
group, waits for the alert on an SQS queue it subscribes to the topic, and destroys what it created, also
when something fails: the stack, the queue, and the log groups, table and key the stack retains on delete.

Without credentials it prints why it skipped and exits 0. Needs an environment already bootstrapped with
``cdk bootstrap`` (it does not bootstrap one for you). Exit status: 0 passed or skipped, 1 failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from demo import logplay
from demo.cdk import REPO, cdk_command

SAMPLE = REPO / "demo" / "samples" / "web-1.ubuntu-22.04.syslog"
RETAINED = ("AWS::Logs::LogGroup", "AWS::DynamoDB::Table", "AWS::KMS::Key")


def _say(message: str) -> None:
    print(f"[e2e-aws] {message}", file=sys.stderr, flush=True)


def _cdk(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        code = subprocess.call(  # noqa: S603 - fixed argv, no shell
            [*cdk_command(), *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"cdk {args[0]} failed (exit {code}); log {log}:\n{tail}")


def synthetic_report(now_s: float) -> list[dict[str, Any]]:
    """The bundled PHP-FPM report, restamped to end now (the lines keep their spacing)."""
    lines = logplay.read_lines(SAMPLE.read_text())
    batch = logplay.schedule("check", "check", lines, int(now_s * 1000))
    return [{"timestamp": e.timestamp, "message": e.message} for b in batch for e in b.events]


def _session() -> tuple[boto3.session.Session, str, str] | str:
    session = boto3.session.Session()
    region = session.region_name
    if session.get_credentials() is None:
        return "no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if not region:
        return "no AWS region (set AWS_REGION or a profile region)"
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError, NoCredentialsError) as exc:
        return f"the credentials do not work ({exc})"
    return session, str(account), str(region)


def run(timeout_s: float) -> int:  # noqa: C901, PLR0912, PLR0915 - opt-in live check: a linear script of steps
    found = _session()
    if isinstance(found, str):
        _say(f"SKIPPED: {found}. This check deploys to a real account and is never run in CI.")
        return 0
    session, account, region = found
    try:
        session.client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")
    except ClientError:
        _say(f"FAILED: aws://{account}/{region} is not bootstrapped; run `cdk bootstrap aws://{account}/{region}`")
        return 1
    suffix = secrets.token_hex(3)
    stack = f"OomWatchE2E{suffix}"
    workdir = Path(tempfile.mkdtemp(prefix="oomwatch-e2e-aws-"))
    log = workdir / "cdk.log"
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_DEFAULT_ACCOUNT": account,
           "CDK_DEFAULT_REGION": region}  # fmt: skip
    context = ["-c", f"stack_name={stack}", "-c", "target_tag_key=oomwatch:e2e-check", "-c",
               f"target_tag_value={suffix}"]  # fmt: skip
    cfn, sqs, sns, logs = (session.client(s) for s in ("cloudformation", "sqs", "sns", "logs"))
    queue_url = ""
    retained: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        _say(f"deploying {stack} to aws://{account}/{region} (log: {log})")
        _cdk(["deploy", stack, *context, "--require-approval", "never", "--ci", "--no-notices",
              "--outputs-file", str(workdir / "outputs.json")], env, log)  # fmt: skip
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        retained = [
            (r["ResourceType"], r["PhysicalResourceId"]) for r in resources if r.get("ResourceType") in RETAINED
        ]
        outputs = json.loads((workdir / "outputs.json").read_text()).get(stack, {})
        # The stack pins these logical ids; read them from the resources if the outputs are missing.
        physical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources}
        outputs.setdefault("AlertTopicArn", physical.get("AlertTopic"))
        outputs.setdefault("SyslogLogGroupName", physical.get("SyslogLogGroup"))
        queue_url = sqs.create_queue(QueueName=f"oomwatch-e2e-{suffix}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = outputs["AlertTopicArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                           "Action": "sqs:SendMessage", "Resource": queue_arn,
                           "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}],
        }  # fmt: skip
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        instance = "i-0" + secrets.token_hex(8)
        group = outputs["SyslogLogGroupName"]
        logs.create_log_stream(logGroupName=group, logStreamName=instance)
        logs.put_log_events(logGroupName=group, logStreamName=instance, logEvents=synthetic_report(time.time()))
        _say(f"wrote a PHP-FPM OOM report to {group}/{instance}; waiting up to {timeout_s:.0f}s for the alert")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20,
                                               MaxNumberOfMessages=10).get("Messages", []):  # fmt: skip
                envelope = json.loads(message["Body"])
                attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
                if attributes.get("instance_id") == instance:
                    _say(f"PASSED in {time.monotonic() - started:.0f}s: {envelope.get('Subject')}")
                    return 0
        _say(f"FAILED: no alert for {instance} within {timeout_s:.0f}s (see the stack's EventsLogGroup)")
        return 1
    except Exception as exc:
        _say(f"FAILED: {exc}")
        return 1
    finally:
        _say(f"destroying {stack} and what it left behind")
        if queue_url:
            with contextlib.suppress(ClientError):
                sqs.delete_queue(QueueUrl=queue_url)
        try:
            _cdk(["destroy", stack, *context, "--force", "--ci", "--no-notices"], env, log)
        except RuntimeError as exc:
            _say(f"WARNING: {exc}")
        for rtype, physical_id in retained:
            with contextlib.suppress(ClientError):
                if rtype == "AWS::Logs::LogGroup":
                    logs.delete_log_group(logGroupName=physical_id)
                elif rtype == "AWS::DynamoDB::Table":
                    session.client("dynamodb").delete_table(TableName=physical_id)
                elif rtype == "AWS::KMS::Key":
                    session.client("kms").schedule_key_deletion(KeyId=physical_id, PendingWindowInDays=7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.aws_check", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the alert (300)")
    args = parser.parse_args(argv)
    return run(args.timeout)


if __name__ == "__main__":
    sys.exit(main())
