"""``multichat bench``: the streaming benchmark, direct against the simulators vs through the gateway.

What it does, in order:

1. Raises RLIMIT_NOFILE, splits the machine's cores: the gateway gets the first core, everything
   else (this process with the load generator, the simulators, the embedded PostgreSQL) the
   rest. On a 2-core machine that is core 0 for the gateway and core 1 for the load side.
2. Starts PostgreSQL (embedded, in a temporary data directory; or the server of DATABASE_URL)
   and the simulators (``multichat simulate``, a separate process).
3. For each relay scenario, starts a fresh gateway (``multichat serve``, a separate process, with
   SIMULATOR_URL pointing at the simulators, no keys, no ``.env``), warms it up, measures its
   idle RSS, then runs rounds: the same load direct (``loadtest --direct``), through the
   gateway and, for the scenarios that name a floor, through nginx (one process, unbuffered,
   on the gateway's core, in front of the same simulators), the order turning each round. While the gateway runs it samples the gateway's
   user+sys CPU and RSS from /proc and the simulators' count of open streams.
4. Writes bench-results/latest.json and latest.md and prints the Markdown table.

Numbers, and how each is computed:

* added TTFT p50/p99: gateway percentile minus direct percentile, over every sample of every
  round (the samples are not paired, so this is a difference of percentiles).
* added gap p99: the same for the gap between consecutive deltas of one provider.
* gateway CPU per relayed token: the gateway process's CPU time (the scheduler's, in ns, of every thread) over
  its rounds, divided by the delta events the load generator received through it. Turn set-up,
  database writes and everything else the gateway does in that time is included.
* peak RSS: VmHWM of the gateway over its rounds (reset through /proc/<pid>/clear_refs when
  allowed, else the sampled maximum of VmRSS); RSS per open upstream stream: (peak RSS - idle
  RSS) / the peak number of streams the simulators had open.
* against the floor: the gateway's CPU per token over nginx's, its TTFT p50 minus nginx's;
  ratios in one run, which mean the same on a quiet machine and a busy one.
* answers stored: complete assistant messages in PostgreSQL after a round minus before, against
  the turns the gateway accepted times the providers per turn.

The modules, one idea each: ``scenarios`` and ``targets`` (what is run and what is judged),
``processes`` (starting and pinning the simulators and gateways), ``floor`` (nginx),
``measure`` (CPU and memory from /proc), ``database``, ``harness`` (what every scenario runs
on, and one measured round), ``run`` (each scenario by the runner of its kind: ``relay``,
``scale``; a new kind is a module and a line in ``run.KINDS``), ``rounds``, ``summary`` (the
figures of a scenario), ``report`` (Markdown and JSON), ``command``.
"""

from gateway.tools.arguments import add_bench_arguments as add_arguments
from gateway.tools.bench.command import chosen_scenarios, main
from gateway.tools.bench.scenarios import Scenario, scenarios
from gateway.tools.bench.targets import TARGETS, Target, judge

__all__ = [
    "TARGETS",
    "Scenario",
    "Target",
    "add_arguments",
    "chosen_scenarios",
    "judge",
    "main",
    "scenarios",
]
