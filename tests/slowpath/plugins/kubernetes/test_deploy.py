"""scripts/deploy.sh prints valid YAML whose objects carry what CoreDNS's
deployment manifest has (RBAC, ConfigMap, Deployment, kube-dns Service), and
the dedicated-NIC variant adds what DPDK needs."""
import os
import pathlib
import subprocess
import tempfile

import pytest

from harness import BIN

yaml = pytest.importorskip("yaml")

SCRIPT = pathlib.Path(__file__).resolve().parents[4] / "scripts" / "deploy.sh"


def deploy(*args, check=True, kube_dns_ip=""):
    """Runs deploy.sh with a stand-in kubectl that knows a kube-dns Service
    at `kube_dns_ip` (or fails, as without a cluster)."""
    with tempfile.TemporaryDirectory() as bin_dir:
        kubectl = pathlib.Path(bin_dir) / "kubectl"
        kubectl.write_text("#!/bin/sh\n" + ("printf %s\n" % kube_dns_ip if kube_dns_ip else
                                            "echo 'connection refused' >&2; exit 1\n"))
        kubectl.chmod(0o755)
        env = {**os.environ, "PATH": bin_dir + ":/usr/bin:/bin"}
        p = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def objects(*args, kube_dns_ip=""):
    docs = [d for d in yaml.safe_load_all(deploy(*args, kube_dns_ip=kube_dns_ip).stdout) if d is not None]
    return {d["kind"]: d for d in docs}, docs


def pod_spec(kinds):
    return kinds["Deployment"]["spec"]["template"]["spec"]


def test_prints_every_object_once_in_kube_system():
    kinds, docs = objects("10.3.0.0/24")
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                         "ConfigMap", "Deployment", "Service"]
    for d in docs:
        if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "kube-system"


def test_rbac_lets_the_service_account_list_and_watch_what_the_plugin_reads():
    kinds, _ = objects("10.3.0.0/24")
    rules = {(group, resource): set(rule["verbs"])
             for rule in kinds["ClusterRole"]["rules"]
             for group in rule["apiGroups"] for resource in rule["resources"]}
    for key in [("", "services"), ("", "pods"), ("", "namespaces"), ("", "endpoints"),
                ("discovery.k8s.io", "endpointslices")]:
        assert rules[key] >= {"list", "watch"}, key
    assert kinds["ClusterRole"]["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    binding = kinds["ClusterRoleBinding"]
    assert binding["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": kinds["ClusterRole"]["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": kinds["ServiceAccount"]["metadata"]["name"],
                                    "namespace": "kube-system"}]
    assert pod_spec(kinds)["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]


def test_the_corefile_serves_the_domain_and_the_probes():
    kinds, _ = objects("10.96.0.0/12", "k8s.example.")
    corefile = kinds["ConfigMap"]["data"]["Corefile"]
    assert corefile.startswith(".:53 {\n")
    assert "    kubernetes k8s.example in-addr.arpa ip6.arpa {\n" in corefile
    for line in ("    health {", "    ready", "    prometheus :9153", "    errors"):
        assert line + "\n" in corefile


def test_deployment_is_apps_v1_with_health_and_ready_probes():
    kinds, _ = objects("10.3.0.0/24")
    d = kinds["Deployment"]
    assert d["apiVersion"] == "apps/v1"
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    spec = pod_spec(kinds)
    assert spec["dnsPolicy"] == "Default"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in spec["tolerations"]
    [c] = spec["containers"]
    assert c["args"] == ["-conf", "/etc/warpdns/Corefile"]
    [mount] = [m for m in c["volumeMounts"] if m["name"] == "config-volume"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "config-volume"]
    assert volume["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
    assert volume["configMap"]["items"] == [{"key": "Corefile", "path": "Corefile"}]
    assert mount["mountPath"] == "/etc/warpdns"
    assert {(p["containerPort"], p["protocol"]) for p in c["ports"]} == {(53, "UDP"), (53, "TCP"), (9153, "TCP")}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8080, "scheme": "HTTP"}
    assert (c["livenessProbe"]["initialDelaySeconds"], c["livenessProbe"]["timeoutSeconds"],
            c["livenessProbe"]["successThreshold"], c["livenessProbe"]["failureThreshold"]) == (60, 5, 1, 5)
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8181, "scheme": "HTTP"}
    assert "hostNetwork" not in spec


def test_kube_dns_service_takes_the_tenth_address_and_selects_the_pods():
    kinds, _ = objects("10.3.0.0/24")
    s = kinds["Service"]
    assert s["metadata"]["name"] == "kube-dns"
    assert s["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"
    assert s["spec"]["clusterIP"] == "10.3.0.10"
    assert s["spec"]["selector"].items() <= kinds["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    assert {(p["name"], p["port"], p["protocol"]) for p in s["spec"]["ports"]} >= {
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")}
    assert objects("10.96.0.0/12")[0]["Service"]["spec"]["clusterIP"] == "10.96.0.10"
    assert objects("--dns-ip", "10.3.0.53", "10.3.0.0/24")[0]["Service"]["spec"]["clusterIP"] == "10.3.0.53"
    assert objects("--dns-ip", "fd00::a", "fd00::/108")[0]["Service"]["spec"]["clusterIP"] == "fd00::a"
    # Replacing a running kube-dns keeps its address.
    assert objects("10.3.0.0/24", kube_dns_ip="10.3.0.3")[0]["Service"]["spec"]["clusterIP"] == "10.3.0.3"


def test_dedicated_nic_variant(tmp_path):
    kinds, _ = objects("--dpdk", "--nic", "0000:03:00.0", "10.3.0.0/24")
    spec = pod_spec(kinds)
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "Default"
    assert spec["nodeSelector"]["warpdns.io/dpdk"] == "true"
    [c] = spec["containers"]
    resources = c["resources"]
    assert resources["limits"]["hugepages-2Mi"] == resources["requests"]["hugepages-2Mi"]
    assert "memory" in resources["requests"] and "cpu" in resources["requests"]
    # /dev/vfio opens only for a privileged container (or through a device plugin).
    assert c["securityContext"]["privileged"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["hugepages"]["emptyDir"]["medium"] == "HugePages"
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/dev/hugepages", "/etc/warpdns"}
    assert kinds["Service"]["spec"]["clusterIP"] == "10.3.0.10"
    # The pod really serves from the NIC: the Corefile's io dpdk block names it, and the
    # node's address comes from the downward API.
    corefile = kinds["ConfigMap"]["data"]["Corefile"]
    assert "io dpdk {" in corefile and "eal --in-memory -a 0000:03:00.0" in corefile
    assert "port 0000:03:00.0 address {$WARPDNS_NODE_IP}" in corefile
    [env] = c["env"]
    assert env["name"] == "WARPDNS_NODE_IP"
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    # An AF_XDP vdev needs no PCI scan.
    vdev = objects("--dpdk", "--nic", "net_af_xdp0,iface=eth1", "10.3.0.0/24")[0]
    assert "eal --in-memory --no-pci" in vdev["ConfigMap"]["data"]["Corefile"]
    # The real binary takes the Corefile as far as DPDK's start (no hugepages or NIC here):
    # the io block parses.
    (tmp_path / "Corefile").write_text(corefile.replace(".:53 {", ".:5399 {"))
    p = subprocess.run([BIN, "-conf", str(tmp_path / "Corefile")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "WARPDNS_NODE_IP": "192.0.2.53"}, cwd=tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "io dpdk" in out, out
    assert not any("Corefile:%d - " % n in out for n in range(1, 8)), out


def test_usage_errors():
    p = deploy(check=False)
    assert p.returncode == 1 and "SERVICE_CIDR" in p.stderr
    p = deploy("fd00::/108", check=False)
    assert p.returncode == 1 and "use --dns-ip" in p.stderr
    p = deploy("--bogus", "10.3.0.0/24", check=False)
    assert p.returncode == 1
    p = deploy("--dpdk", "10.3.0.0/24", check=False)
    assert p.returncode == 1 and "--dpdk needs --nic" in p.stderr
    p = deploy("300.1.2.3/24", check=False)
    assert p.returncode == 1 and "use --dns-ip" in p.stderr
    p = deploy("--dns-ip", "1.2.3", "10.3.0.0/24", check=False)
    assert p.returncode == 1 and "is not an IP address" in p.stderr
