"""Name the workload behind a memory-cgroup path: systemd unit, user session, Docker, containerd, ECS, Kubernetes.

Paths come from ``task_memcg=``/``oom_memcg=`` or ``Task in A killed as a result of limit of B``. Both cgroup v1
and v2 layouts, and both kubelet cgroup drivers (cgroupfs and systemd), are recognised; a container runtime nested
in LXC (``/lxc/ID/ns/...``, ``/lxc.payload.NAME/...``) is named by its innermost workload, with the LXC container
kept as ``lxc``.
"""

from __future__ import annotations

import re
from types import MappingProxyType

_HEX_ID = r"[0-9a-f]{64}"
_K8S_POD = re.compile(
    r"kubepods(?:[./-](?:besteffort|burstable|guaranteed))*(?:\.slice)?"
    r"(?:/kubepods-(?P<qos_s>besteffort|burstable)\.slice)?"
    r"/(?:kubepods-(?:(?P<qos_s2>besteffort|burstable)-)?pod(?P<uid_s>[0-9a-f_]{36})\.slice"
    r"|(?:(?P<qos_c>besteffort|burstable)/)?pod(?P<uid_c>[0-9a-f-]{36}))"
    r"(?:/(?P<container>[^/]+))?"
)
_RUNTIME_SCOPE = re.compile(
    r"(?P<runtime>docker|cri-containerd|crio|containerd|nerdctl|libpod)-(?P<id>[0-9a-f]{12,64})\.scope"
)
_DOCKER_V1 = re.compile(rf"/docker/(?P<id>{_HEX_ID})")
_ECS = re.compile(r"/ecs(?:tasks)?[/-](?P<task>[0-9a-f]{32}|[0-9a-f-]{36})(?:\.slice)?(?:/(?P<container>[^/]+))?")
_LXC = re.compile(r"^/lxc(?:\.payload\.|/)(?P<name>[^/]+)")
_SESSION = re.compile(r"/user\.slice/user-(?P<uid>\d+)\.slice/(?P<session>session-[^/]+\.scope)")
_USER_UNIT = re.compile(r"/user\.slice/user-(?P<uid>\d+)\.slice/user@\d+\.service(?:/.*)?/(?P<unit>[^/]+)$")
_UNIT = re.compile(r"(?P<unit>[^/]+\.(?:service|scope|socket|mount|swap|slice))$")
_RUNTIMES = MappingProxyType({"cri-containerd": "containerd", "nerdctl": "containerd", "libpod": "podman"})


def workload(path: str | None) -> dict[str, object] | None:
    """The workload for a cgroup path, or None for the root or a path we know nothing about."""
    if not path or path == "/":
        return None
    lxc = _LXC.match(path)
    out = _k8s(path) or _container(path) or _ecs(path) or _systemd(path)
    if out is None and lxc:
        out = {"kind": "lxc", "name": lxc.group("name"), "id": lxc.group("name")}
    if out is None:
        leaf = path.rstrip("/").rsplit("/", 1)[-1]
        out = {"kind": "cgroup", "name": leaf or path, "id": None}
    elif lxc and out["kind"] != "lxc":
        out["lxc"] = lxc.group("name")
    out["path"] = path
    return out


def _container_id(leaf: str | None) -> tuple[str | None, str | None]:
    if not leaf:
        return None, None
    m = _RUNTIME_SCOPE.fullmatch(leaf)
    if m:
        return m.group("id"), _RUNTIMES.get(m.group("runtime"), m.group("runtime"))
    if re.fullmatch(r"[0-9a-f]{12,64}", leaf):
        return leaf, None
    return None, None


def _k8s(path: str) -> dict[str, object] | None:
    m = _K8S_POD.search(path)
    if not m:
        if "kubepods" in path:
            leaf = path.rstrip("/").rsplit("/", 1)[-1]
            cid, runtime = _container_id(leaf)
            return {
                "kind": "kubernetes",
                "name": leaf,
                "id": cid,
                "pod_uid": None,
                "qos": _qos(path, None),
                "runtime": runtime,
            }
        return None
    uid = m.group("uid_s") or m.group("uid_c") or ""
    uid = uid.replace("_", "-")
    qos = m.group("qos_s") or m.group("qos_s2") or m.group("qos_c")
    cid, runtime = _container_id(m.group("container"))
    return {
        "kind": "kubernetes",
        "name": f"pod {uid}",
        "id": cid,
        "pod_uid": uid,
        "qos": _qos(path, qos),
        "runtime": runtime,
    }


def _qos(path: str, found: str | None) -> str:
    if found:
        return found
    for q in ("besteffort", "burstable"):
        if q in path:
            return q
    return "guaranteed"


def _container(path: str) -> dict[str, object] | None:
    leaf = path.rstrip("/").rsplit("/", 1)[-1]
    m = _RUNTIME_SCOPE.fullmatch(leaf)
    if m:
        runtime = _RUNTIMES.get(m.group("runtime"), m.group("runtime"))
        kind = "docker" if runtime == "docker" else runtime
        return {"kind": kind, "name": m.group("id")[:12], "id": m.group("id")}
    d = _DOCKER_V1.search(path)
    if d:
        return {"kind": "docker", "name": d.group("id")[:12], "id": d.group("id")}
    return None


def _ecs(path: str) -> dict[str, object] | None:
    m = _ECS.search(path)
    if not m:
        return None
    container = m.group("container")
    cid, _ = _container_id(container)
    return {
        "kind": "ecs",
        "name": f"task {m.group('task')}",
        "id": cid or container,
        "task_id": m.group("task"),
    }


def _systemd(path: str) -> dict[str, object] | None:
    for kind, pattern, group in (("user-session", _SESSION, "session"), ("user-unit", _USER_UNIT, "unit")):
        # A path ending in "/" has no unit; without this test every "user@N.service" in it rescans the rest.
        m = pattern.search(path) if pattern is _SESSION or path[-1:] != "/" else None
        if m:
            unit = m.group(group)
            return {"kind": kind, "name": unit, "id": None, "uid": int(m.group("uid")), "unit": unit}
    m = _UNIT.fullmatch(path, path.rfind("/") + 1)  # the last segment: searching the path rescans each suffix
    if m:
        return {"kind": "systemd-unit", "name": m.group("unit"), "id": None, "unit": m.group("unit")}
    return None
