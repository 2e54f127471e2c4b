/**
 * cgroups: host layout detection (v1 / v2 / hybrid), this process's own cgroup
 * directories, stats file parsers, Docker's stats JSON, and the host reader. Never
 * creates cgroups or moves a process between them (runc does that); its one write is a move of
 * moatd into the cgroup it is already in, which starts the kernel's wait for runc's move early
 * (prepay.ts).
 *
 * @example
 * import { readOwnCgroups, readCgroupStats, toDockerStats } from '../cgroups/index.js';
 * const { mode, dirs } = await readOwnCgroups();
 */

/**
 * The host's cgroup mode from /proc/self/mountinfo text.
 *
 * @example
 * detectCgroupMode(await readFile('/proc/self/mountinfo', 'utf8')); // 'hybrid'
 */
export { detectCgroupMode } from './layout.js';
/**
 * The cgroup/cgroup2 mounts of a mountinfo text.
 *
 * @example
 * cgroupMounts(text)[0]; // { version: 1, mountPoint: '/sys/fs/cgroup/cpu', root: '/', controllers: ['cpu'] }
 */
export { cgroupMounts } from './layout.js';
/**
 * Controller → cgroup path from /proc/self/cgroup text (`unified` for the v2 line).
 *
 * @example
 * ownCgroupPaths('4:memory:/x\n0::/\n'); // { memory: '/x', unified: '/' }
 */
export { ownCgroupPaths } from './layout.js';
/**
 * Controller → absolute cgroup directory, from the mounts and the own paths.
 *
 * @example
 * cgroupDirs(cgroupMounts(mountinfo), ownCgroupPaths(cgroup)).memory; // '/sys/fs/cgroup/memory/x'
 */
export { cgroupDirs } from './layout.js';
/**
 * The v1 controller names and the key of the unified hierarchy (`'unified'`).
 *
 * @example
 * V1_CONTROLLERS.includes('pids'); // true
 */
export { V1_CONTROLLERS, UNIFIED } from './layout.js';
/**
 * Parses a single-value cgroup file; `max` → null.
 *
 * @example
 * parseCgroupValue('max\n'); // null
 */
export { parseCgroupValue } from './stats.js';
/**
 * Parses a flat keyed file (memory.stat, cpu.stat, pids.events, memory.events, memory.oom_control).
 *
 * @example
 * parseKeyedFile('max 45\n').max; // 45
 */
export { parseKeyedFile } from './stats.js';
/**
 * Parses cpuacct.usage_percpu.
 *
 * @example
 * parsePercpu('10 20\n'); // [10, 20]
 */
export { parsePercpu } from './stats.js';
/**
 * Parses a v1 blkio file (`8:0 Read 4096` lines).
 *
 * @example
 * parseBlkioV1('8:0 Read 4096\nTotal 4096\n'); // [{ major: 8, minor: 0, op: 'Read', value: 4096 }]
 */
export { parseBlkioV1 } from './stats.js';
/**
 * Parses v2 io.stat.
 *
 * @example
 * parseIoStatV2('8:0 rbytes=1 wbytes=2\n'); // [{ major: 8, minor: 0, rbytes: 1, wbytes: 2 }]
 */
export { parseIoStatV2 } from './stats.js';
/**
 * /proc/stat text → Docker's system_cpu_usage (ns) and online_cpus.
 *
 * @example
 * parseProcStat('cpu 1 0 1 8 0 0 0\ncpu0 1 0 1 8 0 0 0\n'); // { systemCpuUsage: 1e9, onlineCpus: 1 }
 */
export { parseProcStat } from './stats.js';
/**
 * Builds a sample from v1 file texts, keyed by controller then file name.
 *
 * @example
 * sampleFromV1({ pids: { 'pids.current': '1\n', 'pids.max': 'max\n' } }).pids; // { current: 1, limit: null }
 */
export { sampleFromV1 } from './stats.js';
/**
 * Builds a sample from the file texts of a v2 cgroup dir.
 *
 * @example
 * sampleFromV2({ 'memory.current': '4096\n', 'memory.max': 'max\n' }).memory?.usage; // 4096
 */
export { sampleFromV2 } from './stats.js';
/**
 * Docker's stats JSON from the current and previous snapshot.
 *
 * @example
 * toDockerStats({ read, cgroup, systemCpuUsage, onlineCpus }, previous, { machineMemory, name: '/x1', id });
 */
export { toDockerStats, ZERO_TIME } from './stats.js';
/**
 * Reads a container's cgroup files into a sample (missing files tolerated).
 *
 * @example
 * await readCgroupStats({ mode: 'hybrid', paths: { memory: '/sys/fs/cgroup/memory/moat/abc', pids: '/sys/fs/cgroup/pids/moat/abc' } });
 */
export { readCgroupStats } from './cgroupfs.js';
/**
 * The `max` counter of pids.events (forks refused by the limit).
 *
 * @example
 * readPidsEvents('/sys/fs/cgroup/pids/moat/abc'); // 45
 */
export { readPidsEvents } from './cgroupfs.js';
/**
 * The oom_kill counter (v1 memory.oom_control, v2 memory.events).
 *
 * @example
 * readOomKillCount('/sys/fs/cgroup/memory/moat/abc', { mode: 'v1' }); // 0
 */
export { readOomKillCount } from './cgroupfs.js';
/**
 * Docker's system_cpu_usage and online_cpus from /proc/stat.
 *
 * @example
 * const { systemCpuUsage: sys, onlineCpus } = await systemCpuUsage();
 */
export { systemCpuUsage } from './cgroupfs.js';
/**
 * The host mode and this process's cgroup dirs, from /proc/self.
 *
 * @example
 * const { mode, dirs } = await readOwnCgroups(); // dirs.pids === '/sys/fs/cgroup/pids/…'
 */
export { readOwnCgroups } from './cgroupfs.js';
/**
 * One stats sample of a process's cgroups and of /proc/stat (pid 0: an empty sample).
 *
 * @example
 * const cur = await sampleProcessCgroups(pid); toDockerStats(cur, prev, { machineMemory: os.totalmem() });
 */
export { sampleProcessCgroups, rfc3339Nano } from './cgroupfs.js';
/**
 * Starts the wait runc's next cgroup move would begin with (an RCU grace period, 6–23 ms
 * here), by a move of moatd into its own cgroup; returns at once, never throws.
 *
 * @example
 * void prepayCgroupMove(); // then let conmon run `runc create`
 */
export { prepayCgroupMove, prepayTarget } from './prepay.js';
export type { CgroupMode, CgroupMount } from './layout.js';
export type {
  BlkioStatEntry, CgroupFiles, CgroupSample, DockerBlkioStats, DockerCpuStats, DockerMemoryStats, DockerNetworkStats,
  DockerStats, IoStatV2, StatsSnapshot,
} from './stats.js';
