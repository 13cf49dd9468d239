/**
 * How much CPU the machine gave to processes that are not this run's own, second by second.
 * "Own" = this bench process and everything below it: Postgres, nats-server, wal2nats, the
 * subscriber, the probe. Everything else is foreign: on the machines we measure on, services
 * started before the session (RabbitMQ's Erlang VM starting helper VMs, its disk monitor) took
 * bursts of 100+ ms of CPU at moments that matched latency spikes of 100-370 ms in `steady`
 * (seen with `perf sched`, docs/benchmarks.md). A latency figure is read together with this.
 */
import { descendants, machineBusySeconds, processTable } from './proc-stats.js';

export interface ForeignCpu {
  /** Foreign CPU per second of the phase, in ms (a 2-CPU machine has 2,000 ms per second). */
  perSecondMs: number[];
  /** Foreign CPU over the phase, as a share of the whole machine. */
  share: number;
  /** The worst second: its index in perSecondMs and its foreign CPU in ms. */
  worstSecond: number;
  worstMs: number;
}

export class ForeignCpuMonitor {
  private readonly perSecondMs: number[] = [];
  private busy = machineBusySeconds();
  private own = this.ownCpu();
  private readonly startedAt = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly cpus: number) {
    this.timer = setInterval(() => this.sample(), 1000);
  }

  stop(): ForeignCpu {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const total = this.perSecondMs.reduce((a, b) => a + b, 0);
    let worstSecond = 0;
    this.perSecondMs.forEach((ms, i) => {
      if (ms > this.perSecondMs[worstSecond]!) worstSecond = i;
    });
    return {
      perSecondMs: this.perSecondMs.map(Math.round),
      share: seconds > 0 ? total / 1000 / (seconds * this.cpus) : NaN,
      worstSecond,
      worstMs: Math.round(this.perSecondMs[worstSecond] ?? 0),
    };
  }

  private ownCpu(): Map<number, number> {
    const table = processTable();
    const own = new Map<number, number>();
    for (const pid of descendants(table, process.pid)) own.set(pid, table.get(pid)!.cpuSeconds);
    return own;
  }

  private sample(): void {
    const busy = machineBusySeconds();
    const own = this.ownCpu();
    let ownDelta = 0;
    // Processes present in both samples; one that ended in between loses its last second here.
    for (const [pid, cpu] of own) ownDelta += cpu - (this.own.get(pid) ?? cpu);
    this.perSecondMs.push(Math.max(0, (busy - this.busy - ownDelta) * 1000));
    this.busy = busy;
    this.own = own;
  }
}
