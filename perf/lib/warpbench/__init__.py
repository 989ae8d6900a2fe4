"""warpbench: the side-by-side benchmark behind perf/run.

Modules:
  procs      processes the harness starts (own session, stopped by PID), /proc CPU and memory
  data       zone and query files
  servers    how to configure, start and probe warpdns and each peer
  drivers    load generators: dnsperf, and kxdpgun for the DPDK-mode rows
  workloads  which servers run which query mix
  bench      the interleaved rounds and the bigzone load test
  report     medians with min-max, ratios, the table
  micro      Google Benchmark runs compared with perf/baselines/
  replay     DPDK mode with no client: net_pcap replays a query capture; Mqps and cycles per core
  pcap       the query captures replay mode reads (struct, no scapy)
  veth       DPDK mode on a veth beside Knot XDP and NSD: kxdpgun sweep, dnsperf latency
  netns      the two namespaces and the veth pair of the veth workload
"""
