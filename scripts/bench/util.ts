import { readdirSync, readFileSync } from 'node:fs';

// ------------------------------------------------------------------ statistics

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  const rank = (p: number): number => values[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)] ?? 0;
  return {
    count: values.length,
    p50: rank(0.5),
    p95: rank(0.95),
    p99: rank(0.99),
    max: values[values.length - 1] ?? 0,
  };
}

/** Least-squares slope of y over x (units of y per unit of x); 0 for fewer than two points. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const denominator = n * sxx - sx * sx;
  return denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
}

// ------------------------------------------------------------------ /proc

export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessUsage {
  /** utime + stime in seconds. */
  readonly cpuSeconds: number;
  /** Resident set size in MiB. */
  readonly rssMb: number;
}

/** CPU time (utime + stime of /proc/<pid>/stat) and VmRSS (/proc/<pid>/status); undefined once gone. */
export function processUsage(pid: number): ProcessUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    return { cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

export interface MachineUsage {
  /** Busy and total CPU time of all cores (/proc/stat), seconds. */
  readonly busySeconds: number;
  readonly totalSeconds: number;
  /** CPU seconds of the shared services' processes, by service. */
  readonly services: Record<ServiceName, number>;
}

export type ServiceName = 'rabbitmq' | 'postgres' | 'ferretdb' | 'ferretdb-postgres';
export const SERVICE_NAMES: readonly ServiceName[] = ['rabbitmq', 'postgres', 'ferretdb', 'ferretdb-postgres'];

function serviceOf(command: string): ServiceName | undefined {
  if (command.includes('beam.smp') || command.includes('rabbitmq')) return 'rabbitmq';
  if (command.startsWith('/usr/local/bin/ferretdb') || /(^|\/)ferretdb\s/.test(command)) return 'ferretdb';
  if (command.includes('15/ferretdb') || command.includes('/postgresql/15/ferretdb')) return 'ferretdb-postgres';
  if (command.includes('postgres')) return 'postgres';
  return undefined;
}

/** Whole-machine CPU and the CPU time of every RabbitMQ, PostgreSQL and FerretDB process. */
export function machineUsage(): MachineUsage | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = cpu.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const services: Record<ServiceName, number> = { rabbitmq: 0, postgres: 0, ferretdb: 0, 'ferretdb-postgres': 0 };
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
        const service = serviceOf(command);
        if (!service) continue;
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        services[service] += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      } catch {
        // The process ended meanwhile.
      }
    }
    return {
      busySeconds: (total - idle) / CLOCK_TICKS_PER_SECOND,
      totalSeconds: total / CLOCK_TICKS_PER_SECOND,
      services,
    };
  } catch {
    return undefined;
  }
}
