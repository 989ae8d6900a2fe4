"""The workloads perf/run can drive, and which servers each compares by default."""

from . import data


class Workload:
    def __init__(self, key, title, servers, queries):
        self.key = key
        self.title = title
        self.servers = servers   # default server keys, warpdns first
        self.queries = queries   # "hit", "nx", "mix", "miss", or None (bigzone: no dnsperf)


AUTH_SERVERS = ["warpdns", "knot", "nsd", "unbound-local"]
CACHE_SERVERS = ["dnsdist", "unbound-fwd"]

WORKLOADS = {
    "auth": Workload("auth", "authoritative hits, 10k-name zone",
                     AUTH_SERVERS, "hit"),
    "cache": Workload("cache", "cache hits behind forward (caches warmed first)",
                      ["warpdns"] + CACHE_SERVERS, "hit"),
    "mix": Workload("mix", "50% misses: every other query a never-seen name "
                    "(NXDOMAIN from an authoritative server, a real miss for a cache)",
                    AUTH_SERVERS + CACHE_SERVERS, "mix"),
    # Front-end CPU only: the NSD behind every forwarder answers the same queries the same way.
    "forward": Workload("forward", "cache misses behind forward: every query a never-seen name, "
                        "forwarded to NSD (front-end CPU only)",
                        ["warpdns"] + CACHE_SERVERS, "miss"),
    "nxdomain": Workload("nxdomain", "NXDOMAIN, 10k absent names (caches warmed)",
                         AUTH_SERVERS + CACHE_SERVERS, "nx"),
    "bigzone": Workload("bigzone", "1M-record zone: load time and memory",
                        ["warpdns", "knot", "nsd"], None),
    # DPDK mode, no client: a capture of 10k-name queries replayed by net_pcap (replay.py).
    "replay": Workload("replay", "DPDK fast path per core, authoritative hits replayed from a "
                       "capture (no client, no kernel)",
                       ["warpdns-replay", "warpdns-replay-stages", "warpdns-replay-observed",
                        "testpmd-io"], "replay"),
    # DPDK mode over a veth pair, client in another namespace (veth.py).
    "veth": Workload("veth", "DPDK mode on a veth, authoritative hits, 10k-name zone: kxdpgun "
                     "rate sweep and dnsperf latency from a client namespace",
                     ["warpdns-dpdk", "knot-xdp", "nsd-veth"], "veth"),
}
DEFAULT = ["auth", "cache"]
ORDER = ["auth", "cache", "mix", "forward", "nxdomain", "bigzone", "replay", "veth"]

# Setups of the workloads that are not driven by dnsperf on loopback (not in servers.BY_KEY).
OTHER_SETUPS = {"replay": ["warpdns-replay", "warpdns-replay-stages", "warpdns-replay-observed",
                           "testpmd-io"],
                "veth": ["warpdns-dpdk", "knot-xdp", "nsd-veth"]}


def valid_keys(workload, by_key):
    """The server/setup keys a workload can run."""
    return OTHER_SETUPS.get(workload.key) or list(by_key)


def query_file(workload, zone, path):
    """The fixed query file of a hit or nx workload (mix and miss files are made per round)."""
    if workload.queries == "hit":
        return data.hit_queries(path, zone)
    if workload.queries == "nx":
        return data.nxdomain_queries(path, zone)
    return None
