"""Run ``moto_server`` with one addition: EC2 instances can be given the id the caller asks for.

Moto assigns EC2 instance ids at random and has no API to choose one, but the demo plays log streams named
after instance ids the user picked (``--log i-0abc...=FILE``) and the handlers look those instances up. Moto's
own convention for caller-chosen ids is the ``_custom_id_`` tag (``moto.utilities.id_generator``); EC2
instances do not honour it in moto 5.2, so this launcher adds that for ``RunInstances`` with ``MinCount=1``.
The tag itself is dropped, so ``DescribeInstances`` shows only the caller's real tags.

Run as a script (``python _moto_launcher.py -H 127.0.0.1 -p PORT``); the arguments are moto_server's own.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from moto.ec2.models import instances as _instances
from moto.server import main as _moto_main

CUSTOM_ID_TAG = "_custom_id_"

_pending = threading.local()
_random_instance_id = _instances.random_instance_id  # type: ignore[attr-defined]
_run_instances = _instances.InstanceBackend.run_instances


def _instance_id() -> str:
    wanted: list[str] = getattr(_pending, "ids", [])
    if wanted:
        return wanted.pop(0)
    return _random_instance_id()


def _run_instances_with_custom_id(
    self: Any, image_id: str, count: int, user_data: Any, security_group_names: list[str], **kwargs: Any
) -> Any:
    tags: dict[str, dict[str, str]] = kwargs.get("tags") or {}
    custom = tags.get("instance", {}).pop(CUSTOM_ID_TAG, None)
    if custom is None:
        return _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    if count != 1 or any(instance.id == custom for instance in self.all_instances()):
        from moto.ec2.exceptions import InvalidParameterValueError

        raise InvalidParameterValueError(f"{CUSTOM_ID_TAG}={custom} needs MinCount=1 and an unused id")
    _pending.ids = [custom]
    try:
        return _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    finally:
        _pending.ids = []


_instances.random_instance_id = _instance_id  # type: ignore[attr-defined]
_instances.InstanceBackend.run_instances = _run_instances_with_custom_id  # type: ignore[method-assign]

if __name__ == "__main__":
    _moto_main(sys.argv[1:])
