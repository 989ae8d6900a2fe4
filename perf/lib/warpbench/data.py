"""Zone and query files, generated deterministically (fixed seed) into the run's temp dir.

Every record is written fully qualified with explicit TTL and class, one per line,
so that every server's zone parser reads exactly the same data.
"""

import os
import random

ORIGIN = "example.test."
SOA_MINIMUM = 3600  # negative answers are cacheable for the whole run
_ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789"


def _labels(rng, count, taken):
    """`count` distinct DNS labels of 3-14 characters, none in `taken`."""
    out = []
    while len(out) < count:
        n = rng.randint(3, 14)
        label = rng.choice("abcdefghijklmnopqrstuvwxyz") + "".join(rng.choice(_ALPHA) for _ in range(n - 1))
        if label not in taken:
            taken.add(label)
            out.append(label)
    return out


class Zone:
    """A zone file and the names in it."""

    def __init__(self, path, names, probe_name):
        self.path = path
        self.origin = ORIGIN
        self.names = names          # fully qualified names with an A record
        self.probe_name = probe_name  # a name whose answer proves the zone is fully loaded


def _write_head(f):
    f.write(f"{ORIGIN} 3600 IN SOA ns1.{ORIGIN} hostmaster.{ORIGIN} 1 7200 3600 1209600 {SOA_MINIMUM}\n")
    f.write(f"{ORIGIN} 3600 IN NS ns1.{ORIGIN}\n")
    f.write(f"ns1.{ORIGIN} 3600 IN A 192.0.2.53\n")


def make_zone(path, count, seed=1):
    """A zone with `count` names, each with one A record (random labels)."""
    rng = random.Random(seed)
    taken = {"ns1"}
    labels = _labels(rng, count, taken)
    names = [f"{l}.{ORIGIN}" for l in labels]
    with open(path, "w") as f:
        _write_head(f)
        for i, name in enumerate(names):
            f.write(f"{name} 3600 IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
    z = Zone(path, names, names[-1])
    z.taken = taken
    return z


def make_big_zone(path, count):
    """A zone of `count` A records with cheap sequential names (for load time and memory)."""
    with open(path, "w", buffering=1 << 20) as f:
        _write_head(f)
        for i in range(count):
            f.write(f"h{i}.{ORIGIN} 3600 IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
    return Zone(path, None, f"h{count - 1}.{ORIGIN}")


def write_queries(path, names, qtype="A"):
    with open(path, "w") as f:
        for n in names:
            f.write(f"{n} {qtype}\n")
    return path


def hit_queries(path, zone, seed=2):
    """Every name of the zone once, shuffled (dnsperf -l loops over the file)."""
    names = list(zone.names)
    random.Random(seed).shuffle(names)
    return write_queries(path, names)


def nxdomain_queries(path, zone, count=10000, seed=3):
    """`count` names under the origin that are not in the zone."""
    rng = random.Random(seed)
    labels = _labels(rng, count, set(zone.taken))
    return write_queries(path, [f"{l}.{ORIGIN}" for l in labels])


def mix_queries(path, zone, lines, tag, seed=4):
    """`lines` queries, alternately a zone name (a hit) and a name never queried before
    (a miss: NXDOMAIN for an authoritative server, a real cache miss for a forwarder,
    because `tag` makes the names unique to this file)."""
    rng = random.Random(f"{seed}-{tag}")
    names = zone.names
    with open(path, "w", buffering=1 << 20) as f:
        for i in range(lines):
            if i & 1:
                f.write(f"m{i}-{tag}.{ORIGIN} A\n")
            else:
                f.write(f"{names[rng.randrange(len(names))]} A\n")
    return path


def miss_queries(path, zone, lines, tag):
    """`lines` names never queried before (`tag` makes them unique to this file): every
    query a cache miss for a forwarder, NXDOMAIN from the authoritative server behind it."""
    with open(path, "w", buffering=1 << 20) as f:
        for i in range(lines):
            f.write(f"f{i}-{tag}.{ORIGIN} A\n")
    return path


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
