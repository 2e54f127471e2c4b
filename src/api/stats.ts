// `GET /containers/{id}/stats`: samples a container's cgroups (found through
// /proc/<pid>/cgroup of its init process) and /proc/stat. Host side; the JSON shape comes
// from cgroups/toDockerStats.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import {
  cgroupDirs,
  cgroupMounts,
  detectCgroupMode,
  ownCgroupPaths,
  readCgroupStats,
  systemCpuUsage,
  toDockerStats,
  type DockerStats,
  type StatsSnapshot,
} from '../cgroups/index.js';

/** RFC 3339 with 9 fractional digits, as Go prints time.Time in JSON. */
export function rfc3339Nano(ms: number, subMsNs: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}${String(subMsNs % 1_000_000).padStart(6, '0')}Z`;
}

/** One sample of the container whose init process is `pid` (0: stopped, an empty sample). */
export async function sampleContainer(pid: number): Promise<StatsSnapshot> {
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

export function dockerStats(cur: StatsSnapshot, prev: StatsSnapshot | undefined, who: { name: string; id: string }): DockerStats {
  return toDockerStats(cur, prev, { machineMemory: os.totalmem(), name: who.name, id: who.id });
}
