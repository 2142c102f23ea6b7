"""cgroup paths (as real reports print them) name the right workload."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest
from oomwatch.cgroup import workload
from oomwatch.event import Workload, WorkloadKind

CID = "b27201334a41cd0749d053b18378d7ea65617b8e26277197ea25c974da1a5a8a"


@pytest.mark.parametrize(
    ("path", "want"),
    [
        # corpus 25: k8s, systemd driver, cgroup v1, docker
        (
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0330b2c1_a15b_4cdd_b5e5_72d4a90bee82.slice/"
            f"docker-{CID}.scope",
            {
                "kind": "kubernetes",
                "pod_uid": "0330b2c1-a15b-4cdd-b5e5-72d4a90bee82",
                "qos": "burstable",
                "id": CID,
                "runtime": "docker",
            },
        ),
        # cadvisor fixture shape: k8s, cgroupfs driver
        (
            "/kubepods/burstable/pod951f6bc5-c5a5-11ea-8707-80e455f266a2/"
            "024952d653ef1cd852f875a61bd27cf45cb1fd6cab3659ca7e5f12f03e9f5d1a",
            {"kind": "kubernetes", "pod_uid": "951f6bc5-c5a5-11ea-8707-80e455f266a2", "qos": "burstable"},
        ),
        # guaranteed pods have no QoS slice
        (
            "/kubepods.slice/kubepods-pod7c3b4f1e_2d5a_4c1b_9e8f_0a1b2c3d4e5f.slice/"
            "cri-containerd-ec9ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e02fe9252985e084a95.scope",
            {"kind": "kubernetes", "qos": "guaranteed", "runtime": "containerd"},
        ),
        (
            "/kubepods/besteffort/pod6687d6d7-fcae-11e8-b0b0-5e61144ba466",
            {"kind": "kubernetes", "qos": "besteffort", "id": None},
        ),
        # Talos: kubepods under /system/docker
        (
            "/system/docker/kubepods/burstable/pod6687d6d7-fcae-11e8-b0b0-5e61144ba466/"
            "58f8a9bf6a469f0c94d42be34ad1bdff84fad63f236baedde981139a15aa5287",
            {"kind": "kubernetes", "pod_uid": "6687d6d7-fcae-11e8-b0b0-5e61144ba466"},
        ),
        # corpus 33: k8s nested in LXC
        (
            "/lxc.payload.ny2g2r5hh3-lxc/kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-podeded8c65_6e8e_4c6e_a889_3e427565c740.slice/"
            "cri-containerd-ec9ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e02fe9252985e084a95.scope",
            {"kind": "kubernetes", "pod_uid": "eded8c65-6e8e-4c6e-a889-3e427565c740", "lxc": "ny2g2r5hh3-lxc"},
        ),
        # corpus 03: docker inside LXC (Proxmox)
        (
            "/lxc/39004/ns/system.slice/docker-a59e4e7d3090c04c6ce5a4b7a8bc85228eb9b96ac00b1284643a8c7c11dda661.scope",
            {"kind": "docker", "name": "a59e4e7d3090", "lxc": "39004"},
        ),
        (f"/docker/{CID}", {"kind": "docker", "id": CID, "name": CID[:12]}),
        (f"/system.slice/docker-{CID}.scope", {"kind": "docker", "id": CID}),
        (
            f"/ecs/5a0d5ceddf6c44a1928d367a3ede1cc6/{CID}",
            {"kind": "ecs", "task_id": "5a0d5ceddf6c44a1928d367a3ede1cc6", "id": CID},
        ),
        (
            "/system.slice/unattended-upgrades.service",
            {"kind": "systemd-unit", "name": "unattended-upgrades.service", "unit": "unattended-upgrades.service"},
        ),
        (
            "/system.slice/system-postgresql.slice/postgresql@14-main.service",
            {"kind": "systemd-unit", "name": "postgresql@14-main.service"},
        ),
        ("/podruntime.slice/kubelet.service", {"kind": "systemd-unit", "name": "kubelet.service"}),
        (
            "/user.slice/user-1000.slice/session-1.scope",
            {"kind": "user-session", "name": "session-1.scope", "uid": 1000},
        ),
        (
            "/user.slice/user-1001.slice/user@1001.service/app.slice/app-org.gnome.Terminal.slice/"
            "vte-spawn-dbb4a75e-031f-480d-924b-5de5af7579d2.scope",
            {"kind": "user-unit", "uid": 1001, "name": "vte-spawn-dbb4a75e-031f-480d-924b-5de5af7579d2.scope"},
        ),
        ("/lxc/39004", {"kind": "lxc", "name": "39004"}),
        ("/mem2", {"kind": "cgroup", "name": "mem2"}),
    ],
)
def test_workload_of_a_cgroup_path(path: str, want: dict[str, object]) -> None:
    got = workload(path)
    assert got is not None
    assert {k: got.get(k) for k in want} == want
    assert got["path"] == path
    # AND it has only the keys and kinds of the event's Workload type (the parser casts it to that type)
    hints = get_type_hints(Workload)
    assert set(got) <= set(hints) and set(Workload.__required_keys__) <= set(got)
    assert got["kind"] in get_args(WorkloadKind)


@pytest.mark.parametrize("path", ["/", "", None])
def test_root_or_missing_path_has_no_workload(path: str | None) -> None:
    assert workload(path) is None
