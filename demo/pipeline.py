"""The whole oomwatch pipeline on the local emulator: deploy, seed, play logs, deliver, alarm, collect.

:class:`Demo` is shared by ``oomwatch demo`` (``demo.main``) and the end-to-end tests. Use it as a
context manager, or call :meth:`Demo.down` in a ``finally``: it stops the Lambda environments and the
emulator, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from demo import cdk, emulator, fleet, logplay, memory_history
from demo.agent_filter import HostFilter, configuration_from_template
from demo.assembly import PSEUDO, Alarm, Assembly, Function, Rule, SubscriptionFilter
from demo.emulator import CHAT_ENDPOINT
from demo.eventpattern import matches as event_matches
from demo.filterpattern import compile_pattern
from demo.runtime import DeployedFunction, Invocation, LambdaRuntime

Progress = Callable[[str], None]
#: CDK context the demo deploys with: an e-mail subscription, so the alerts can be shown as e-mailed, and the two
#: opt-ins a newcomer should see at work: the memory before each kill and the OOMKills metric (both default off).
DEMO_CONTEXT = {"alert_emails": "oncall@example.com", "sparkline": "true", "kill_metric": "true"}
CAPTURE_QUEUE = "oomwatch-demo-capture"
#: The demo's catch-all rule on the functions' event bus, and its queue: what the handlers really PutEvents'd.
BUS_CAPTURE = "oomwatch-demo-bus"
#: The message of the handlers' structured event records (``service.wiring.PowertoolsTelemetry.event``).
EVENT_MESSAGE = "oom_kill"
#: The keys Powertools' Logger adds to every record.
POWERTOOLS_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "sampling_rate",
    }
)


def _no_progress(_message: str) -> None:
    return None


@dataclass
class Timing:
    name: str
    seconds: float


@dataclass
class Delivery:
    """One asynchronous invocation as CloudWatch Logs or EventBridge would make it, with its retries."""

    source: str
    function: str
    attempts: list[Invocation]
    event: Any = None

    @property
    def ok(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok


@dataclass
class Demo:
    workdir: Path | None = None
    progress: Progress = _no_progress
    context: dict[str, str] = field(default_factory=lambda: dict(DEMO_CONTEXT))
    app_dir: Path = cdk.REPO

    emu: emulator.Emulator | None = None
    assembly: Assembly | None = None
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    physical: dict[tuple[str, str], str] = field(default_factory=dict)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    functions: dict[str, DeployedFunction] = field(default_factory=dict)
    runtime: LambdaRuntime | None = None
    queue_url: str = ""
    bus_queue_url: str = ""  # the demo's queue behind a catch-all rule on the functions' bus ("" when off)
    event_bus: str = ""
    bus_events: list[dict[str, Any]] = field(default_factory=list)
    local_dir: Path | None = None
    captured: list[dict[str, Any]] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    emulated: list[str] = field(default_factory=list)
    hosts: list[fleet.Host] = field(default_factory=list)
    _tmp: Path | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Demo:
        self.up()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    def _time(self, name: str, started: float) -> None:
        self.timings.append(Timing(name, time.monotonic() - started))

    def up(self) -> None:
        if self.workdir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="oomwatch-demo-"))
            self.workdir = self._tmp
        try:
            self._up(self.workdir)
        except BaseException:
            self.down()
            raise

    def _up(self, workdir: Path) -> None:
        started = time.monotonic()
        self.progress("starting moto_server on 127.0.0.1 ...")
        self.emu = emulator.start(workdir / "emulator")
        self._time("start emulator", started)
        self.progress(f"emulator at {self.emu.endpoint} (pid {self.emu.pid}); cdk synth + cdk bootstrap ...")
        out_dir = workdir / "cdk.out"
        for step in cdk.synth_and_bootstrap(self.emu, out_dir, self.context, app_dir=self.app_dir):
            self.timings.append(Timing(f"cdk {step.name}", step.seconds))
        self._seed_layers(Assembly.load(out_dir))
        self.progress("cdk deploy ...")
        try:
            step, self.outputs = cdk.deploy(self.emu, out_dir)
        except cdk.CdkError as error:
            errors = [ln for ln in self.emu.log_tail(400).splitlines() if "Error" in ln or "Exception" in ln]
            raise cdk.CdkError(f"{error}\nmoto_server errors:\n" + "\n".join(errors[-10:])) from None
        self.timings.append(Timing("cdk deploy", step.seconds))
        started = time.monotonic()
        self._connect(out_dir, workdir)
        self._time("read back + emulated pieces", started)

    def _connect(self, out_dir: Path, local_dir: Path) -> None:
        """Everything after the deploy that each process using the deployment needs of its own."""
        self.assembly = Assembly.load(out_dir)
        self.local_dir = local_dir
        self._read_back()
        self._fill_skipped()
        self.runtime = LambdaRuntime(self.aws)

    def shared_state(self) -> dict[str, Any]:
        """What :meth:`attach` needs to use this deployment from another process (the e2e test workers)."""
        if self.workdir is None:
            raise RuntimeError("the demo is not up")
        return {
            "emulator": self.aws.state(),
            "out_dir": str(self.workdir / "cdk.out"),
            "outputs": self.outputs,
            "emulated": [e for e in self.emulated if e.startswith("layer ")],
        }

    @classmethod
    def attach(cls, state: dict[str, Any], local_dir: Path, progress: Progress = _no_progress) -> Demo:
        """A Demo on a deployment another process made; :meth:`down` leaves that emulator running."""
        demo = cls(progress=progress)
        demo.emu = emulator.attach(state["emulator"])
        demo.outputs = state["outputs"]
        demo.emulated = list(state.get("emulated", []))
        try:
            demo._connect(Path(state["out_dir"]), local_dir)
        except BaseException:
            demo.down()
            raise
        return demo

    def _seed_layers(self, assembly: Assembly) -> None:
        """Public layers the functions use (the Powertools layer, account 017000801446) do not exist in moto,
        whose CreateFunction rejects unknown layer versions; nor does AWS's public SSM parameter naming it.
        moto looks a layer up by name and version in the
        function's own account, so the demo publishes a stand-in of that name up to that version. The code
        that runs is the installed aws-lambda-powertools, the release that layer version ships."""
        client = self.aws.client("lambda")
        stub = io.BytesIO()
        with zipfile.ZipFile(stub, "w") as archive:
            archive.writestr("python/README.txt", "stand-in for a public Lambda layer (oomwatch demo)\n")
        for parameter in assembly.layer_parameters():
            # AWS's public parameter /aws/service/powertools/python/<arch>/python3.13/<version>: its layer,
            # AWSLambdaPowertoolsPythonV3-python313-<arch>, as a stand-in, and the parameter pointing at it
            # (the launcher lets the demo write this one reserved /aws/service/powertools/ path).
            parts = parameter.strip("/").split("/")
            if len(parts) != 7 or parts[:4] != ["aws", "service", "powertools", "python"]:
                continue
            arch, python = parts[4], parts[5].replace(".", "")
            name = f"AWSLambdaPowertoolsPythonV3-{python}-{arch}"
            version = client.publish_layer_version(LayerName=name, Content={"ZipFile": stub.getvalue()})["Version"]
            arn = f"arn:aws:lambda:{PSEUDO['AWS::Region']}:017000801446:layer:{name}:{version}"
            self.aws.client("ssm").put_parameter(Name=parameter, Value=arn, Type="String", Overwrite=True)
            self.emulated.append(
                f"layer {name}:{version} (017000801446): stand-in published to moto, and AWS's public parameter"
                f" {parameter} set to it"
            )
        for arn in assembly.layer_arns():
            parts = arn.split(":")
            if len(parts) != 8 or not parts[7].isdigit():
                continue
            name, version = parts[6], int(parts[7])
            published = 0
            while published < version:
                published = client.publish_layer_version(LayerName=name, Content={"ZipFile": stub.getvalue()})[
                    "Version"
                ]
            self.emulated.append(f"layer {name}:{version} ({parts[4]}): stand-in published to moto")

    def down(self) -> None:
        if self.runtime is not None:
            self.runtime.close()
        if self.emu is not None:
            self.emu.stop()
        if self._tmp is not None:
            if os.environ.get("OOMWATCH_DEMO_KEEP"):
                self.progress(f"kept {self._tmp} (OOMWATCH_DEMO_KEEP is set)")
            else:
                shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # --- deployment read-back --------------------------------------------------------------------------------

    @property
    def aws(self) -> emulator.Emulator:
        if self.emu is None:
            raise RuntimeError("the demo is not up")
        return self.emu

    @property
    def asm(self) -> Assembly:
        if self.assembly is None:
            raise RuntimeError("the demo is not up")
        return self.assembly

    def _read_back(self) -> None:
        cfn = self.aws.client("cloudformation")
        for stack in self.asm.stacks:
            deployed = set()
            paginator = cfn.get_paginator("list_stack_resources")
            for page in paginator.paginate(StackName=stack.name):
                for summary in page["StackResourceSummaries"]:
                    if summary.get("LogicalResourceId"):
                        deployed.add(summary["LogicalResourceId"])
                        self.physical[(stack.name, summary["LogicalResourceId"])] = summary["PhysicalResourceId"]
            for lid, res in stack.resources.items():
                if lid not in deployed:
                    self.skipped.append((stack.name, lid, str(res.get("Type"))))
        for fn in self.asm.functions():
            self.functions[fn.logical_id] = self._deployed_function(fn)

    def functions_by_handler(self, handler: str) -> DeployedFunction:
        for fn in self.functions.values():
            if fn.handler == handler:
                return fn
        raise KeyError(handler)

    def physical_id(self, stack: str, logical_id: str) -> str:
        return self.physical[(stack, logical_id)]

    def _deployed_function(self, fn: Function) -> DeployedFunction:
        name = self.physical_id(fn.stack, fn.logical_id)
        config = self.aws.client("lambda").get_function_configuration(FunctionName=name)
        logging = {**(fn.properties.get("LoggingConfig") or {}), **(config.get("LoggingConfig") or {})}
        if fn.log_group:
            log_group = self.physical_id(fn.stack, fn.log_group)
        else:
            log_group = fn.log_group_name or f"/aws/lambda/{name}"
        return DeployedFunction(
            name=name,
            arn=config["FunctionArn"],
            handler=config["Handler"],
            runtime=config.get("Runtime", fn.runtime),
            memory_mb=int(config.get("MemorySize", fn.memory_mb)),
            timeout_s=int(config.get("Timeout", fn.timeout_s)),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            asset_dir=self._deployed_code(fn, name),
            log_group=log_group,
            log_format=str(logging.get("LogFormat", fn.log_format)),
            application_log_level=logging.get("ApplicationLogLevel"),
            system_log_level=logging.get("SystemLogLevel"),
        )

    def _deployed_code(self, fn: Function, name: str) -> Path:
        """The code as deployed: the zip CDK published to the bootstrap bucket, unpacked (a Lambda's
        /var/task). Falls back to the asset directory in cdk.out if the zip cannot be fetched."""
        code = fn.properties.get("Code", {})
        key = code.get("S3Key")
        target = (self.local_dir or self.aws.workdir) / "task" / name
        if isinstance(key, str):
            bucket = f"cdk-hnb659fds-assets-{emulator.ACCOUNT}-{emulator.REGION}"
            with contextlib.suppress(Exception):
                body = self.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    archive.extractall(target)
                return target
        if fn.asset_dir is None:
            raise RuntimeError(f"{fn.path}: no code asset to run")
        return fn.asset_dir

    # --- the pieces moto's CloudFormation skips -------------------------------------------------------------

    def _fill_skipped(self) -> None:
        sns = self.aws.client("sns")
        sqs = self.aws.client("sqs")
        asm = self.asm
        skipped_types = sorted({t for _, _, t in self.skipped})
        if skipped_types:
            self.emulated.append(f"moto's CloudFormation skipped: {', '.join(skipped_types)}")
        for stack_name, lid, rtype in self.skipped:
            if rtype != "AWS::SNS::Subscription":
                continue
            props = asm.stack(stack_name).resources[lid].get("Properties", {})
            topic = self._resolve(stack_name, props.get("TopicArn"))
            endpoint = self._resolve(stack_name, props.get("Endpoint"))
            if isinstance(topic, str) and isinstance(endpoint, str):
                sns.subscribe(TopicArn=topic, Protocol=str(props.get("Protocol")), Endpoint=endpoint)
                self.emulated.append(f"{lid}: SNS subscription ({props.get('Protocol')}) created from the template")
        self.queue_url = sqs.create_queue(QueueName=f"{CAPTURE_QUEUE}-{os.getpid()}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for topic in self.topic_arns():
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
            sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=CHAT_ENDPOINT)
        if self.topic_arns():
            self.emulated.append(
                "Amazon Q Developer's HTTPS subscription (what a slack_channels or teams_channels entry creates) "
                "subscribed by the demo; what SNS would POST to it (the https key: the chat form) is caught, not sent"
            )
        for sub in asm.subscription_filters():
            self.emulated.append(
                f"{sub.logical_id}: subscription filter {sub.filter_pattern!r} applied by the demo "
                f"(CloudWatch Logs delivery emulated: gzip+base64 DATA_MESSAGE payloads, async invoke)"
            )
        self.emulated.append(
            "Lambda: handlers run in a local Python process per function (moto runs Lambda code only under "
            "Docker) with the deployed handler, code zip and environment; Powertools from the installed "
            "aws-lambda-powertools (same version as the pinned layer)"
        )
        self.emulated.append("EventBridge: rule patterns from the template matched by the demo, targets invoked")
        self._capture_bus()

    def _capture_bus(self) -> None:
        """A rule ``{"source": ["oomwatch"]}`` to an SQS queue on the bus the functions put to (``EVENT_BUS``), so
        the demo shows the events the handlers put, as moto received and matched them."""
        buses = {fn.environment.get("EVENT_BUS", "") for fn in self.functions.values()} - {"", "off"}
        if len(buses) != 1:
            return
        (self.event_bus,) = buses
        sqs = self.aws.client("sqs")
        events = self.aws.client("events")
        name = f"{BUS_CAPTURE}-{os.getpid()}"
        self.bus_queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.bus_queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name=name, EventBusName=self.event_bus, EventPattern=json.dumps({"source": ["oomwatch"]}))
        events.put_targets(Rule=name, EventBusName=self.event_bus, Targets=[{"Id": "demo-queue", "Arn": arn}])
        self.emulated.append(
            f"EventBridge events: the handlers' PutEvents go to moto's {self.event_bus!r} bus; the demo adds a "
            "catch-all rule (source oomwatch) to an SQS queue to show them (a rule of its own, not the stack's)"
        )

    def _resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, dict):
            ref = value.get("Ref")
            if isinstance(ref, str) and (stack, ref) in self.physical:
                return self.physical[(stack, ref)]
            getatt = value.get("Fn::GetAtt")
            if isinstance(getatt, list) and (stack, getatt[0]) in self.physical:
                return self._attribute(stack, getatt[0], str(getatt[1]))
        return value

    def _attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        physical = self.physical[(stack, logical_id)]
        rtype = self.asm.resource_type(stack, logical_id)
        if attribute == "Arn" and rtype == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{emulator.REGION}:{emulator.ACCOUNT}:function:{physical}"
        if attribute == "Arn" and rtype == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{emulator.REGION}:{emulator.ACCOUNT}:{physical.rsplit('/', 1)[-1]}"
        if attribute == "Arn" and rtype == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{emulator.REGION}:{emulator.ACCOUNT}:log-group:{physical}:*"
        return physical

    def alarm_name(self, alarm: Alarm) -> str:
        if (alarm.stack, alarm.logical_id) in self.physical:
            return self.physical[(alarm.stack, alarm.logical_id)]
        name = alarm.properties.get("AlarmName")
        if isinstance(name, str):
            return name
        # What CloudFormation would generate: <stack>-<logical id>-<suffix>
        suffix = fleet.contributor_id({"alarm": alarm.logical_id})[:12].upper()
        return f"{alarm.stack}-{alarm.logical_id}-{suffix}"

    def topic_arns(self) -> list[str]:
        return [
            self.physical[(stack.name, lid)]
            for stack in self.asm.stacks
            for lid in stack.of_type("AWS::SNS::Topic")
            if (stack.name, lid) in self.physical
        ]

    # --- seeding ---------------------------------------------------------------------------------------------

    def fleet_tag(self) -> tuple[str, str]:
        """The tag the stack targets instances by (its SSM associations' ``tag:KEY``), else the default."""
        for stack in self.asm.stacks:
            for res in stack.of_type("AWS::SSM::Association").values():
                for target in res.get("Properties", {}).get("Targets", []):
                    key = str(target.get("Key", ""))
                    values = target.get("Values") or []
                    if key.startswith("tag:") and values:
                        return key[4:], str(values[0])
        return fleet.DEFAULT_TAG

    def seed(self, hosts: list[fleet.Host]) -> None:
        started = time.monotonic()
        fleet.seed_instances(self.aws.client("ec2"), self.aws.client("autoscaling"), hosts, self.fleet_tag())
        self.hosts.extend(hosts)
        self._time("seed EC2 + ASG", started)

    # --- log delivery ----------------------------------------------------------------------------------------

    def source_filters(self) -> list[SubscriptionFilter]:
        return [s for s in self.asm.subscription_filters() if s.destination in self.functions]

    def log_group_of(self, sub: SubscriptionFilter) -> str:
        if sub.log_group is not None:
            return self.physical_id(sub.stack, sub.log_group)
        if sub.log_group_name is None:
            raise RuntimeError(f"{sub.logical_id}: no log group")
        return sub.log_group_name

    def filter_name(self, sub: SubscriptionFilter) -> str:
        if sub.filter_name:
            return sub.filter_name
        suffix = fleet.contributor_id({"filter": sub.logical_id})[:12].upper()
        return f"{sub.stack}-{sub.logical_id}-{suffix}"

    def syslog_filter(self) -> SubscriptionFilter:
        filters = self.source_filters()
        if not filters:
            raise RuntimeError("the deployed app has no subscription filter with a Lambda destination")
        return filters[0]

    def send_control_messages(self) -> list[Delivery]:
        sent = []
        for sub in self.source_filters():
            fn = self.functions[sub.destination or ""]
            payload = logplay.control_payload(int(time.time() * 1000))
            sent.append(self.invoke_async(f"logs:{sub.logical_id}:control", fn, logplay.lambda_event(payload)))
        return sent

    def host_filter(self) -> HostFilter:
        """What the deployed agent configuration ships from a host (the SSM parameter in the template)."""
        for stack in self.asm.stacks:
            config = configuration_from_template(stack.template)
            if config is not None:
                return HostFilter.from_config(config)
        raise RuntimeError("the deployed app hands hosts no agent configuration with a logs section")

    def play(
        self,
        streams: dict[str, str],
        now_ms: int | None = None,
        host_filter: HostFilter | None = None,
        clock_offset_s: float = 0.0,
    ) -> list[Delivery]:
        """Write each stream's text into the syslog group and deliver the filtered batches to the function.

        With ``host_filter``, only the lines the host's agent would ship are written (``oomwatch demo``);
        without, every line is (the e2e tests, which play what a ``full``-mode host ships)."""
        started = time.monotonic()
        sub = self.syslog_filter()
        group = self.log_group_of(sub)
        matcher = compile_pattern(sub.filter_pattern)
        fn = self.functions[sub.destination or ""]
        now_ms = now_ms or int(time.time() * 1000)
        batches: list[logplay.Batch] = []
        for stream, text in streams.items():
            lines = logplay.read_lines(text)
            if host_filter is not None:
                lines = [line for line in lines if host_filter.ships(line.message)]
            if lines:
                batches += logplay.schedule(group, stream, lines, now_ms)
        batches.sort(key=lambda b: (b.events[0].timestamp, b.stream))
        logs = self.aws.client("logs")
        batches = logplay.put_batches(logs, group, batches)
        # what the hosts' agents sent in the hour before their kills (the kill alerts' memory sparkline)
        memory_history.put_before_kills(self.aws.client("cloudwatch"), batches, self.hosts)
        self._time("write log streams", started)
        started = time.monotonic()
        sent = []
        for payload in logplay.deliveries(emulator.ACCOUNT, group, self.filter_name(sub), matcher, batches):
            event = logplay.lambda_event(payload)
            sent.append(self.invoke_async(f"logs:{sub.logical_id}", fn, event, clock_offset_s=clock_offset_s))
        self._time("deliver to the log handler", started)
        return sent

    def invoke_async(
        self, source: str, fn: DeployedFunction, event: dict[str, Any], retries: int = 2, clock_offset_s: float = 0.0
    ) -> Delivery:
        """An asynchronous invoke: on a function error Lambda retries (2 times by default)."""
        if self.runtime is None:
            raise RuntimeError("the demo is not up")
        attempts = [self.runtime.invoke(fn, event, clock_offset_s)]
        while not attempts[-1].ok and len(attempts) <= retries:
            attempts.append(self.runtime.invoke(fn, event, clock_offset_s))
        delivery = Delivery(source, fn.name, attempts, event)
        self.deliveries.append(delivery)
        return delivery

    # --- alarms and schedules --------------------------------------------------------------------------------

    def memory_alarm(self) -> Alarm | None:
        alarms = self.asm.alarms()
        for alarm in alarms:
            if "mem_used_percent" in json.dumps(alarm.properties):
                return alarm
        return alarms[0] if alarms else None

    def rule_targets(self, event: dict[str, Any]) -> list[tuple[Rule, DeployedFunction, Any]]:
        found = []
        for rule in self.asm.rules():
            pattern = self.deployed_pattern(rule)
            if pattern is None or not event_matches(pattern, event):
                continue
            for target in rule.targets:
                if target.function in self.functions:
                    found.append((rule, self.functions[target.function], target.input))
        return found

    def deployed_pattern(self, rule: Rule) -> dict[str, Any] | None:
        """The rule's event pattern as deployed (intrinsics such as an alarm's Arn resolved by CloudFormation)."""
        name = self.physical.get((rule.stack, rule.logical_id))
        if name is None:
            return rule.event_pattern
        raw = self.aws.client("events").describe_rule(Name=name).get("EventPattern")
        return json.loads(raw) if raw else None

    def fire_alarm(self, instance_id: str, now: dt.datetime | None = None) -> list[Delivery]:
        started = time.monotonic()
        now = now or dt.datetime.now(dt.UTC)
        alarm = self.memory_alarm()
        if alarm is None:
            raise RuntimeError("the deployed app has no CloudWatch alarm")
        fleet.put_memory_metrics(self.aws.client("cloudwatch"), self.aws.client("ec2"), self.hosts, instance_id, now)
        name = self.alarm_name(alarm)
        with contextlib.suppress(Exception):
            # The contributor, for DescribeAlarmContributors (see _moto_launcher.py).
            self.aws.client("cloudwatch").set_alarm_state(
                AlarmName=name,
                StateValue="ALARM",
                StateReason="1 out of 1 time series evaluated to ALARM",
                StateReasonData=json.dumps({"contributors": [{"InstanceId": instance_id}]}),
            )
        sent = []
        for event in fleet.alarm_events(name, alarm.properties, instance_id, 97.1, now):
            for rule, fn, static_input in self.rule_targets(event):
                payload = static_input if static_input is not None else event
                sent.append(self.invoke_async(f"events:{rule.logical_id}:{event['detail-type']}", fn, payload))
        self._time("fire the memory alarm", started)
        return sent

    def noise_window_s(self) -> int:
        """The OOM function's noise window as deployed (``NOISE_WINDOW_MINUTES``; the handlers' default 15)."""
        for fn in self.functions.values():
            raw = fn.environment.get("NOISE_WINDOW_MINUTES")
            if raw and raw.isdigit():
                return int(raw) * 60
        return 15 * 60

    def run_schedules(self, now: dt.datetime | None = None, clock_offset_s: float = 0.0) -> list[Delivery]:
        """Fire every scheduled rule's targets once; ``clock_offset_s`` runs them that much "later" (their
        handlers' clock moved ahead, see runtime.py), as a schedule firing after the noise window would."""
        now = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=clock_offset_s)
        sent = []
        for rule in self.asm.rules():
            if not rule.schedule:
                continue
            name = self.physical.get((rule.stack, rule.logical_id), rule.logical_id)
            arn = f"arn:aws:events:{emulator.REGION}:{emulator.ACCOUNT}:rule/{name}"
            for target in rule.targets:
                if target.function in self.functions:
                    event = target.input if target.input is not None else fleet.scheduled_event(arn, now)
                    fn = self.functions[target.function]
                    sent.append(
                        self.invoke_async(f"schedule:{rule.logical_id}", fn, event, clock_offset_s=clock_offset_s)
                    )
        return sent

    # --- what came out ---------------------------------------------------------------------------------------

    def drain_topic(self, wait_s: float = 1.0) -> list[dict[str, Any]]:
        """Everything the topic delivered to the capture queue so far, as JSON Lines records."""
        found = [self._sns_record(json.loads(body)) for body in self._drain(self.queue_url, wait_s)]
        self.captured += found
        return found

    @staticmethod
    def _sns_record(envelope: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
        return {
            "channel": "sns",
            "subject": envelope.get("Subject"),
            "message": envelope.get("Message"),
            "attributes": attributes,
            "topic": envelope.get("TopicArn"),
            "message_id": envelope.get("MessageId"),
        }

    def drain_bus(self, wait_s: float = 0.5) -> list[dict[str, Any]]:
        """The EventBridge events the handlers put so far (through the demo's catch-all rule), oldest first."""
        if not self.bus_queue_url:
            return []
        found = [
            {"channel": "eventbridge", "eventbridge": json.loads(b)} for b in self._drain(self.bus_queue_url, wait_s)
        ]
        self.bus_events += found
        return found

    def _drain(self, queue_url: str, wait_s: float) -> list[str]:
        """The bodies of every message of a capture queue (each deleted once read), until it stays empty for
        ``wait_s`` seconds."""
        sqs = self.aws.client("sqs")
        bodies: list[str] = []
        deadline = time.monotonic() + wait_s
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and time.monotonic() >= deadline:
                return bodies
            if not messages:
                time.sleep(0.1)

    def messages_for(self, instance_id: str, wait_s: float = 0.3) -> list[dict[str, Any]]:
        """Every message the topic delivered so far whose ``instance_id`` attribute is ``instance_id``."""
        self.drain_topic(wait_s)
        return [r for r in self.captured if (r.get("attributes") or {}).get("instance_id") == instance_id]

    def events_for(self, stream: str) -> list[dict[str, Any]]:
        """The structured events of one log stream (instance id)."""
        return [r["event"] for r in self.structured_events() if r["event"].get("stream") == stream]

    def mail(self) -> dict[str, list[dict[str, Any]]]:
        """What the e-mail subscriptions were sent so far (moto_server's mail catcher), by SNS message id."""
        return self._caught(("email", "email-json"))

    def chat(self) -> dict[str, list[dict[str, Any]]]:
        """What SNS would have POSTed to Amazon Q Developer (the chat form), by SNS message id."""
        return self._caught(("https",))

    def _caught(self, protocols: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if self.aws.outbox.exists():
            for line in self.aws.outbox.read_text().splitlines():
                record = json.loads(line)
                if record.get("protocol") in protocols:
                    found.setdefault(str(record.get("message_id")), []).append(record)
        return found

    def dashboards(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Each dashboard the stack created in the emulator, with its widgets (from GetDashboard)."""
        cloudwatch = self.aws.client("cloudwatch")
        found = []
        for entry in cloudwatch.list_dashboards().get("DashboardEntries", []):
            body = json.loads(cloudwatch.get_dashboard(DashboardName=entry["DashboardName"])["DashboardBody"])
            found.append((entry["DashboardName"], list(body.get("widgets", []))))
        return found

    def log_groups(self) -> list[str]:
        return [
            self.physical[(stack.name, lid)]
            for stack in self.asm.stacks
            for lid in stack.of_type("AWS::Logs::LogGroup")
            if (stack.name, lid) in self.physical
        ]

    def read_group(self, group: str) -> list[dict[str, Any]]:
        logs = self.aws.client("logs")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": group, "interleaved": True}
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                events += page.get("events", [])
                if not page.get("nextToken"):
                    return events
                kwargs["nextToken"] = page["nextToken"]
        except logs.exceptions.ResourceNotFoundException:
            return []

    def events_log_group(self) -> str | None:
        """The log group of the structured events: the stack output ``EventsLogGroupName`` if there is
        one, else a template log group whose logical id names events."""
        for outputs in self.outputs.values():
            for key, value in outputs.items():
                if key == "EventsLogGroupName":
                    return value
        for stack in self.asm.stacks:
            for lid in stack.of_type("AWS::Logs::LogGroup"):
                if "event" in lid.lower() and (stack.name, lid) in self.physical:
                    return self.physical[(stack.name, lid)]
        return None

    def structured_events(self, group: str | None = None) -> list[dict[str, Any]]:
        """The handlers' structured events in the events log group: the Powertools records whose message is
        ``oom_kill`` (``PowertoolsTelemetry.event``), the Powertools envelope keys left out. The function's
        other records (warnings, Lambda's platform lines) are its log, not events, and are never counted."""
        group = group or self.events_log_group()
        if group is None:
            return []
        found = []
        for event in self.read_group(group):
            try:
                doc = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("message") == EVENT_MESSAGE and "type" not in doc:
                found.append({"channel": "event", "event": {k: v for k, v in doc.items() if k not in POWERTOOLS_KEYS}})
        return found


def streams_from_files(pairs: Iterable[tuple[str, Path]]) -> dict[str, str]:
    return {instance_id: path.read_text(errors="replace") for instance_id, path in pairs}
