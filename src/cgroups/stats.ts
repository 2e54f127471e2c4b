// Pure parsers for cgroup v1/v2 statistics files and the conversion of a sample into the
// Docker stats JSON (`GET /containers/{id}/stats`, moby api/types/stats.go, v20.10 field
// set; docs/engine-api.md §7.5). Host reading lives in cgroupfs.ts.

/** USER_HZ: cpuacct.stat and /proc/stat count in 1/100 s on Linux. */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

/** A single number file (`pids.current`, `memory.current`); `max` → `null` (no limit). */
export function parseCgroupValue(text: string): number | null {
  const t = text.trim();
  if (t === 'max') return null;
  if (!/^-?[0-9]+$/.test(t)) throw new Error(`not a cgroup value: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t);
}

/** A flat keyed file (`memory.stat`, `cpu.stat`, `pids.events`, `memory.events`, `memory.oom_control`, `cpuacct.stat`). */
export function parseKeyedFile(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === undefined || k === '' || v === undefined || !/^-?[0-9]+$/.test(v)) continue;
    out[k] = Number(v);
  }
  return out;
}

/** `cpuacct.usage_percpu`: space-separated nanoseconds per CPU. */
export function parsePercpu(text: string): number[] {
  return text.trim().split(/\s+/).filter((s) => /^[0-9]+$/.test(s)).map(Number);
}

/** Docker's blkio entry (`io_service_bytes_recursive[]`). */
export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** A v1 blkio file (`blkio.throttle.io_service_bytes`, `…io_serviced`): `8:0 Read 4096` lines; the `Total` line is skipped. */
export function parseBlkioV1(text: string): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9]+):([0-9]+) (\S+) ([0-9]+)$/.exec(line.trim());
    if (m === null) continue;
    out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3] ?? '', value: Number(m[4]) });
  }
  return out;
}

/** One device of v2 `io.stat` (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`). */
export interface IoStatV2 {
  major: number;
  minor: number;
  [key: string]: number;
}

/** v2 `io.stat`. */
export function parseIoStatV2(text: string): IoStatV2[] {
  const out: IoStatV2[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const dev = /^([0-9]+):([0-9]+)$/.exec(parts[0] ?? '');
    if (dev === null) continue;
    const e: IoStatV2 = { major: Number(dev[1]), minor: Number(dev[2]) };
    for (const kv of parts.slice(1)) {
      const [k, v] = kv.split('=');
      if (k !== undefined && v !== undefined && /^[0-9]+$/.test(v)) e[k] = Number(v);
    }
    out.push(e);
  }
  return out;
}

/** /proc/stat → Docker's `system_cpu_usage` (ns: user..softirq of the `cpu` line, as moby) and `online_cpus`. */
export function parseProcStat(text: string): { systemCpuUsage: number; onlineCpus: number } {
  let systemCpuUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'cpu') {
      const ticks = parts.slice(1, 8).reduce((s, f) => s + Number(f), 0);
      systemCpuUsage = ticks * NS_PER_TICK;
    } else if (/^cpu[0-9]+$/.test(parts[0] ?? '')) {
      onlineCpus++;
    }
  }
  return { systemCpuUsage, onlineCpus };
}

// ---------------------------------------------------------------------------------------
// One sample, engine-side shape

/** What cgroupfs.ts reads from one container cgroup. Absent parts: file missing. */
export interface CgroupSample {
  version: 1 | 2;
  memory?: {
    usage: number;
    /** v1 only (`memory.max_usage_in_bytes`). */
    maxUsage?: number;
    /** `null`: unlimited. */
    limit: number | null;
    /** v1 `memory.failcnt`; v2: the `oom` count of memory.events, as Docker reports it. */
    failcnt?: number;
    oomKill?: number;
    stats: Record<string, number>;
  };
  cpu?: {
    /** All in nanoseconds. */
    totalUsage: number;
    percpu?: number[];
    kernel: number;
    user: number;
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  pids?: { current: number; limit: number | null; maxEvents?: number };
  blkio?: { serviceBytes: BlkioStatEntry[]; serviced: BlkioStatEntry[] };
}

/** The text of the files of one controller set, keyed by file name; missing files absent. */
export type CgroupFiles = Readonly<Record<string, string | undefined>>;

function valueOf(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  return parseCgroupValue(text);
}

/** Builds a v1 sample from the files of the memory, cpuacct, cpu, pids and blkio dirs. */
export function sampleFromV1(files: { memory?: CgroupFiles; cpuacct?: CgroupFiles; cpu?: CgroupFiles; pids?: CgroupFiles; blkio?: CgroupFiles }): CgroupSample {
  const s: CgroupSample = { version: 1 };
  const mem = files.memory;
  const usage = valueOf(mem?.['memory.usage_in_bytes']);
  if (mem !== undefined && typeof usage === 'number') {
    const m: NonNullable<CgroupSample['memory']> = { usage, limit: valueOf(mem['memory.limit_in_bytes']) ?? null, stats: parseKeyedFile(mem['memory.stat'] ?? '') };
    const max = valueOf(mem['memory.max_usage_in_bytes']);
    if (typeof max === 'number') m.maxUsage = max;
    const failcnt = valueOf(mem['memory.failcnt']);
    if (typeof failcnt === 'number') m.failcnt = failcnt;
    const oom = parseKeyedFile(mem['memory.oom_control'] ?? '')['oom_kill'];
    if (oom !== undefined) m.oomKill = oom;
    s.memory = m;
  }
  const acct = files.cpuacct;
  const total = valueOf(acct?.['cpuacct.usage']);
  if (acct !== undefined && typeof total === 'number') {
    const st = parseKeyedFile(acct['cpuacct.stat'] ?? '');
    const thr = parseKeyedFile(files.cpu?.['cpu.stat'] ?? '');
    const c: NonNullable<CgroupSample['cpu']> = {
      totalUsage: total,
      kernel: (st['system'] ?? 0) * NS_PER_TICK,
      user: (st['user'] ?? 0) * NS_PER_TICK,
      throttling: { periods: thr['nr_periods'] ?? 0, throttledPeriods: thr['nr_throttled'] ?? 0, throttledTime: thr['throttled_time'] ?? 0 },
    };
    const percpu = acct['cpuacct.usage_percpu'];
    if (percpu !== undefined) c.percpu = parsePercpu(percpu);
    s.cpu = c;
  }
  const pids = pidsFrom(files.pids);
  if (pids !== undefined) s.pids = pids;
  const bl = files.blkio;
  if (bl !== undefined) {
    // CFQ's recursive files when they have data, else the throttle files (containerd does the same)
    const pick = (a: string, b: string): BlkioStatEntry[] => {
      const first = parseBlkioV1(bl[a] ?? '');
      return first.length > 0 ? first : parseBlkioV1(bl[b] ?? '');
    };
    s.blkio = {
      serviceBytes: pick('blkio.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes'),
      serviced: pick('blkio.io_serviced_recursive', 'blkio.throttle.io_serviced'),
    };
  }
  return s;
}

function pidsFrom(files: CgroupFiles | undefined): CgroupSample['pids'] {
  const current = valueOf(files?.['pids.current']);
  if (files === undefined || typeof current !== 'number') return undefined;
  const p: NonNullable<CgroupSample['pids']> = { current, limit: valueOf(files['pids.max']) ?? null };
  const max = parseKeyedFile(files['pids.events'] ?? '')['max'];
  if (max !== undefined) p.maxEvents = max;
  return p;
}

/** Builds a v2 sample from the files of the container's unified cgroup dir. */
export function sampleFromV2(files: CgroupFiles): CgroupSample {
  const s: CgroupSample = { version: 2 };
  const usage = valueOf(files['memory.current']);
  if (typeof usage === 'number') {
    const events = parseKeyedFile(files['memory.events'] ?? '');
    const m: NonNullable<CgroupSample['memory']> = { usage, limit: valueOf(files['memory.max']) ?? null, stats: parseKeyedFile(files['memory.stat'] ?? '') };
    if (events['oom'] !== undefined) m.failcnt = events['oom'];
    if (events['oom_kill'] !== undefined) m.oomKill = events['oom_kill'];
    s.memory = m;
  }
  const cpuStat = files['cpu.stat'];
  if (cpuStat !== undefined) {
    const st = parseKeyedFile(cpuStat);
    s.cpu = {
      totalUsage: (st['usage_usec'] ?? 0) * 1000,
      kernel: (st['system_usec'] ?? 0) * 1000,
      user: (st['user_usec'] ?? 0) * 1000,
      throttling: { periods: st['nr_periods'] ?? 0, throttledPeriods: st['nr_throttled'] ?? 0, throttledTime: (st['throttled_usec'] ?? 0) * 1000 },
    };
  }
  const pids = pidsFrom(files);
  if (pids !== undefined) s.pids = pids;
  const io = files['io.stat'];
  if (io !== undefined) {
    const devs = parseIoStatV2(io);
    s.blkio = {
      serviceBytes: devs.flatMap((d) => [
        { major: d.major, minor: d.minor, op: 'read', value: d['rbytes'] ?? 0 },
        { major: d.major, minor: d.minor, op: 'write', value: d['wbytes'] ?? 0 },
      ]),
      serviced: devs.flatMap((d) => [
        { major: d.major, minor: d.minor, op: 'read', value: d['rios'] ?? 0 },
        { major: d.major, minor: d.minor, op: 'write', value: d['wios'] ?? 0 },
      ]),
    };
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Docker's JSON

export interface DockerCpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface DockerMemoryStats {
  usage?: number;
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

export interface DockerBlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

/** Docker's per-interface network counters (`networks.<if>`), filled by the caller. */
export interface DockerNetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** The stats object, keys in Docker's order. */
export interface DockerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: DockerBlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: DockerCpuStats;
  precpu_stats: DockerCpuStats;
  memory_stats: DockerMemoryStats;
  name?: string;
  id?: string;
  networks?: Record<string, DockerNetworkStats>;
}

/** One sample with its time and the host's CPU counters at that time. */
export interface StatsSnapshot {
  /** RFC 3339 with nanoseconds, e.g. `2026-11-28T23:29:36.672865391Z`. */
  read: string;
  cgroup: CgroupSample;
  systemCpuUsage: number;
  onlineCpus: number;
}

/** Go's zero time, what Docker sends as `preread` for the first sample of a stream. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** memory.stat keys Docker 20.10 reports on cgroup v1 (the rest are dropped). */
const V1_MEMORY_KEYS: readonly string[] = [
  'active_anon', 'active_file', 'cache', 'dirty', 'hierarchical_memory_limit', 'hierarchical_memsw_limit',
  'inactive_anon', 'inactive_file', 'mapped_file', 'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'rss',
  'rss_huge', 'total_active_anon', 'total_active_file', 'total_cache', 'total_dirty', 'total_inactive_anon',
  'total_inactive_file', 'total_mapped_file', 'total_pgfault', 'total_pgmajfault', 'total_pgpgin',
  'total_pgpgout', 'total_rss', 'total_rss_huge', 'total_unevictable', 'total_writeback', 'unevictable', 'writeback',
];

function cpuStats(snap: StatsSnapshot | undefined): DockerCpuStats {
  const c = snap?.cgroup.cpu;
  const out: DockerCpuStats = {
    cpu_usage: { total_usage: c?.totalUsage ?? 0, usage_in_kernelmode: c?.kernel ?? 0, usage_in_usermode: c?.user ?? 0 },
    throttling_data: { periods: c?.throttling.periods ?? 0, throttled_periods: c?.throttling.throttledPeriods ?? 0, throttled_time: c?.throttling.throttledTime ?? 0 },
  };
  if (c?.percpu !== undefined && c.percpu.length > 0) {
    out.cpu_usage = { total_usage: out.cpu_usage.total_usage, percpu_usage: c.percpu, usage_in_kernelmode: out.cpu_usage.usage_in_kernelmode, usage_in_usermode: out.cpu_usage.usage_in_usermode };
  }
  if (snap !== undefined && snap.systemCpuUsage > 0) out.system_cpu_usage = snap.systemCpuUsage;
  if (snap !== undefined && snap.onlineCpus > 0) out.online_cpus = snap.onlineCpus;
  return out;
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] ?? 0;
  return out;
}

/**
 * One Docker stats object from the current and the previous sample (undefined for the
 * first of a stream: `preread` is Go's zero time and `precpu_stats` zero, as dockerd
 * sends). Zero values are left out where Docker's `omitempty` drops them; an unlimited or
 * larger-than-host memory limit is reported as `machineMemory`.
 */
export function toDockerStats(
  current: StatsSnapshot,
  previous: StatsSnapshot | undefined,
  options: { machineMemory: number; name?: string; id?: string; networks?: Record<string, DockerNetworkStats> },
): DockerStats {
  const cg = current.cgroup;
  const pids: DockerStats['pids_stats'] = {};
  if (cg.pids !== undefined && cg.pids.current !== 0) pids.current = cg.pids.current;
  if (cg.pids?.limit !== undefined && cg.pids.limit !== null && cg.pids.limit > 0) pids.limit = cg.pids.limit;

  const v1 = cg.version === 1;
  const blkio: DockerBlkioStats = {
    io_service_bytes_recursive: v1 ? (cg.blkio?.serviceBytes ?? []) : nonEmpty(cg.blkio?.serviceBytes),
    io_serviced_recursive: v1 ? (cg.blkio?.serviced ?? []) : null,
    io_queue_recursive: v1 ? [] : null,
    io_service_time_recursive: v1 ? [] : null,
    io_wait_time_recursive: v1 ? [] : null,
    io_merged_recursive: v1 ? [] : null,
    io_time_recursive: v1 ? [] : null,
    sectors_recursive: v1 ? [] : null,
  };

  const memory: DockerMemoryStats = {};
  const m = cg.memory;
  if (m !== undefined) {
    if (m.usage !== 0) memory.usage = m.usage;
    if (v1 && m.maxUsage !== undefined && m.maxUsage !== 0) memory.max_usage = m.maxUsage;
    const stats = v1 ? Object.fromEntries(V1_MEMORY_KEYS.map((k) => [k, m.stats[k] ?? 0])) : m.stats;
    if (Object.keys(stats).length > 0) memory.stats = sortedRecord(stats);
    if (m.failcnt !== undefined && m.failcnt !== 0) memory.failcnt = m.failcnt;
    let limit = m.limit ?? options.machineMemory;
    if (options.machineMemory > 0 && limit > options.machineMemory) limit = options.machineMemory;
    if (limit !== 0) memory.limit = limit;
  }

  const out: DockerStats = {
    read: current.read,
    preread: previous?.read ?? ZERO_TIME,
    pids_stats: pids,
    blkio_stats: blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(current),
    precpu_stats: cpuStats(previous),
    memory_stats: memory,
  };
  if (options.name !== undefined) out.name = options.name;
  if (options.id !== undefined) out.id = options.id;
  if (options.networks !== undefined) out.networks = options.networks;
  return out;
}

function nonEmpty<T>(a: T[] | undefined): T[] | null {
  return a === undefined || a.length === 0 ? null : a;
}
