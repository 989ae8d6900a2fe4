"""warpbench: the side-by-side benchmark behind perf/run.

Modules:
  procs      processes the harness starts (own session, stopped by PID), /proc CPU and memory
  data       zone and query files
  servers    how to configure, start and probe warpdns and each peer
  drivers    load generators (dnsperf now; kxdpgun and replay with the DPDK fast path)
  workloads  which servers run which query mix
  bench      the interleaved rounds and the bigzone load test
  report     medians with min-max, ratios, the table
  micro      Google Benchmark runs compared with perf/baselines/
"""
