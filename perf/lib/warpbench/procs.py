"""Processes the harness starts, and what /proc says about them.

Every process is started in its own session (so its process group id is its
PID) and registered here; stop_all() signals each registered group by that id
(SIGTERM, then SIGKILL after a grace period) and waits until no process of the
group is left. Nothing is ever looked up or signalled by name.
"""

import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

_registry = []  # Proc objects not yet stopped


class Proc:
    """A started process group: Popen plus where its output goes."""

    def __init__(self, name, argv, log_path, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                      start_new_session=True)
        self.pid = self.popen.pid
        self.start_time = time.monotonic()
        _registry.append(self)

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(data[-lines:])
        except OSError:
            return ""

    def stop(self, grace=5.0):
        """SIGTERM to the group, SIGKILL after `grace` seconds; waits until the group is empty."""
        if self in _registry:
            _registry.remove(self)
        pgid = self.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.popen.poll()
            if not group_members(pgid):
                break
            time.sleep(0.02)
        else:
            _signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while group_members(pgid) and time.monotonic() < deadline:
                self.popen.poll()
                time.sleep(0.02)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        left = group_members(pgid)
        if left:
            raise RuntimeError(f"{self.name}: processes {left} of group {pgid} did not exit")


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_all():
    """Stops every registered process group, newest first. Returns the errors."""
    errors = []
    for p in reversed(list(_registry)):
        try:
            p.stop()
        except Exception as e:  # keep stopping the others
            errors.append(str(e))
    return errors


def _read_stat(pid):
    """(ppid, pgrp, utime+stime ticks, state) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]), rest[0]


def _all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def group_members(pgid):
    """PIDs of live (non-zombie) processes whose process group is pgid."""
    out = []
    for pid in _all_pids():
        st = _read_stat(pid)
        if st and st[1] == pgid and st[3] != "Z":
            out.append(pid)
    return out


def tree(pid):
    """pid and all its live descendants."""
    children = {}
    for p in _all_pids():
        st = _read_stat(p)
        if st:
            children.setdefault(st[0], []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """utime+stime, in seconds, of the given processes and all their descendants
    (NSD serves from a forked child; threads are included in a process's stat)."""
    total = 0
    seen = set()
    for root in pids:
        for p in tree(root):
            if p in seen:
                continue
            seen.add(p)
            st = _read_stat(p)
            if st:
                total += st[2]
    return total / CLK_TCK


def memory_kb(pid):
    """(PSS summed over the process tree, RSS of the tree summed, peak RSS (VmHWM) max), in KiB.
    PSS does not double-count the pages NSD's forked children share with their parent."""
    pss = rss = hwm = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
    return pss, rss, hwm


_handed_out = set()


def free_port():
    """A loopback port free for both UDP and TCP right now, never handed out twice."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                t.close()
        finally:
            u.close()
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port")


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def busy_seconds():
    """CPU-seconds of process time (user, nice, system), summed over all CPUs, since boot
    (/proc/stat). irq, softirq and steal are left out: they are charged to no process."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2]) / CLK_TCK


def cpu_busy_fraction(seconds=1.0):
    """Fraction of all CPUs busy (not idle/iowait) over `seconds`, from /proc/stat."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)
