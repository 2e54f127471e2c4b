// Host side of cgroups: reads the files of a container's cgroup directories and
// /proc. Parsing is in stats.ts and layout.ts; this file only reads. It never writes,
// creates or removes cgroups (runc does that).

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cgroupDirs, cgroupMounts, detectCgroupMode, ownCgroupPaths, UNIFIED, type CgroupMode } from './layout.js';
import { parseKeyedFile, parseProcStat, sampleFromV1, sampleFromV2, type CgroupFiles, type CgroupSample, type StatsSnapshot } from './stats.js';

const TOLERATED = new Set(['ENOENT', 'ENOTDIR', 'ENODEV', 'ESRCH']);

/**
 * A small cgroupfs file, synchronously: the kernel makes its text on the read, no disk is
 * waited for, and a thread-pool readFile is four round trips (~0.2 ms each under load).
 */
function readNowIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (TOLERATED.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

/** Reads a file, or `undefined` when it (or its cgroup) does not exist. */
async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (TOLERATED.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

async function readFiles(dir: string | undefined, names: readonly string[]): Promise<CgroupFiles | undefined> {
  if (dir === undefined) return undefined;
  const texts = await Promise.all(names.map((n) => readIfExists(`${dir}/${n}`)));
  const out: Record<string, string | undefined> = {};
  names.forEach((n, i) => {
    if (texts[i] !== undefined) out[n] = texts[i];
  });
  return out;
}

const V1_FILES = {
  memory: ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.stat', 'memory.max_usage_in_bytes', 'memory.failcnt', 'memory.oom_control'],
  cpuacct: ['cpuacct.usage', 'cpuacct.usage_percpu', 'cpuacct.stat'],
  cpu: ['cpu.stat'],
  pids: ['pids.current', 'pids.max', 'pids.events'],
  blkio: ['blkio.io_service_bytes_recursive', 'blkio.io_serviced_recursive', 'blkio.throttle.io_service_bytes', 'blkio.throttle.io_serviced'],
} as const;

const V2_FILES = ['memory.current', 'memory.max', 'memory.stat', 'memory.events', 'cpu.stat', 'pids.current', 'pids.max', 'pids.events', 'io.stat'] as const;

/**
 * Reads one container's cgroup statistics. `paths` maps a controller to the container's
 * absolute cgroup directory (`memory`, `cpuacct`, `cpu`, `pids`, `blkio` on v1 and hybrid
 * hosts; `unified` on v2). Missing files and directories are tolerated: the parts they
 * feed are left out of the sample.
 */
export async function readCgroupStats(options: { mode: CgroupMode; paths: Readonly<Record<string, string>> }): Promise<CgroupSample> {
  const p = options.paths;
  if (options.mode === 'v2') {
    const dir = p[UNIFIED];
    const files = (await readFiles(dir, V2_FILES)) ?? {};
    return sampleFromV2(files);
  }
  const [memory, cpuacct, cpu, pids, blkio] = await Promise.all([
    readFiles(p['memory'], V1_FILES.memory),
    readFiles(p['cpuacct'], V1_FILES.cpuacct),
    readFiles(p['cpu'], V1_FILES.cpu),
    readFiles(p['pids'], V1_FILES.pids),
    readFiles(p['blkio'], V1_FILES.blkio),
  ]);
  const files: Parameters<typeof sampleFromV1>[0] = {};
  if (memory !== undefined) files.memory = memory;
  if (cpuacct !== undefined) files.cpuacct = cpuacct;
  if (cpu !== undefined) files.cpu = cpu;
  if (pids !== undefined) files.pids = pids;
  if (blkio !== undefined) files.blkio = blkio;
  return sampleFromV1(files);
}

/**
 * The `max` counter of `pids.events` in a pids cgroup dir (v1 or v2): how many forks the
 * limit refused. `undefined` when the file is missing.
 */
export function readPidsEvents(dir: string): number | undefined {
  const text = readNowIfExists(`${dir}/pids.events`);
  if (text === undefined) return undefined;
  return parseKeyedFile(text)['max'] ?? 0;
}

/**
 * The OOM-kill count of a memory cgroup dir: v1 `memory.oom_control` `oom_kill` (kernel
 * ≥ 4.13), v2 `memory.events` `oom_kill`. `undefined` when the file or field is missing.
 */
export function readOomKillCount(dir: string, options: { mode: CgroupMode }): number | undefined {
  const file = options.mode === 'v2' ? 'memory.events' : 'memory.oom_control';
  const text = readNowIfExists(`${dir}/${file}`);
  if (text === undefined) return undefined;
  return parseKeyedFile(text)['oom_kill'];
}

/** Docker's `system_cpu_usage` (ns) and `online_cpus` from /proc/stat. */
export async function systemCpuUsage(options: { procStat?: string } = {}): Promise<{ systemCpuUsage: number; onlineCpus: number }> {
  return parseProcStat(await readFile(options.procStat ?? '/proc/stat', 'utf8'));
}

/**
 * The host's cgroup mode and this process's own cgroup directory per controller (and
 * `unified`), from /proc/self/mountinfo and /proc/self/cgroup.
 */
export async function readOwnCgroups(options: { procSelf?: string } = {}): Promise<{ mode: CgroupMode; dirs: Record<string, string> }> {
  const base = options.procSelf ?? '/proc/self';
  const [mountinfo, cgroup] = await Promise.all([readFile(`${base}/mountinfo`, 'utf8'), readFile(`${base}/cgroup`, 'utf8')]);
  return { mode: detectCgroupMode(mountinfo), dirs: cgroupDirs(cgroupMounts(mountinfo), ownCgroupPaths(cgroup)) };
}

/** RFC 3339 with 9 fractional digits, as Go prints time.Time in JSON. */
export function rfc3339Nano(ms: number, subMsNs: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}${String(subMsNs % 1_000_000).padStart(6, '0')}Z`;
}

/**
 * One stats sample of the cgroups of process `pid` (a container's init, found through
 * /proc/<pid>/cgroup) and of /proc/stat; pid 0 (a stopped container) gives an empty sample.
 */
export async function sampleProcessCgroups(pid: number): Promise<StatsSnapshot> {
  const [mountinfo, cgroupText, sys] = await Promise.all([
    readFile('/proc/self/mountinfo', 'utf8'),
    pid > 0 ? readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '') : Promise.resolve(''),
    systemCpuUsage(),
  ]);
  const mode = detectCgroupMode(mountinfo);
  const paths = cgroupText === '' ? {} : cgroupDirs(cgroupMounts(mountinfo), ownCgroupPaths(cgroupText));
  const cgroup = cgroupText === '' ? { version: mode === 'v2' ? (2 as const) : (1 as const) } : await readCgroupStats({ mode, paths });
  return { read: rfc3339Nano(Date.now(), Number(process.hrtime.bigint() % 1_000_000n)), cgroup, systemCpuUsage: sys.systemCpuUsage, onlineCpus: sys.onlineCpus };
}
