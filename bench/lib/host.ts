// Host helpers shared by the benchmarks: processes and their RSS, cgroups and mounts left
// behind, CLI invocations with wall time, statistics. Not engine code: bench/ only.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
  comm: string;
}

export function procs(): Proc[] {
  const out: Proc[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmdline = readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.push({ pid: Number(n), ppid, cmdline, comm });
    } catch {
      // gone
    }
  }
  return out;
}

export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every process whose argv mentions `needle` (a bench's own temporary root). */
export function killMentioning(needle: string): void {
  for (const p of procs()) {
    if (p.pid !== process.pid && p.cmdline.includes(needle) && pidAlive(p.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

export function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Directories named `name` at the root of each cgroup hierarchy or under this process's own cgroup. */
export function cgroupDirsNamed(name: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined) continue;
    const base = ctrls === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${ctrls.startsWith('name=') ? ctrls.slice(5) : ctrls}`;
    for (const dir of [join(base, path, name), join(base, name)]) if (existsSync(dir)) out.push(dir);
  }
  return [...new Set(out)];
}

export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy: left for the operator to see
  }
}

export function removeCgroupsNamed(name: string): void {
  for (const dir of cgroupDirsNamed(name)) removeCgroupTree(dir);
}

export function unmountUnder(prefix: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // not mounted any more
    }
  }
}

export interface CliResult {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (argv, no shell) and measures its wall time. */
export function timed(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    execFile(bin, args, { env, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, ms, stdout, stderr });
    });
  });
}

/** Peak RSS (KiB) of one run of a command, from GNU time's %M (the process's own ru_maxrss). */
export async function peakRssKb(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = await timed('/usr/bin/time', ['-f', 'MAXRSS=%M', bin, ...args], env);
  const m = /MAXRSS=(\d+)/.exec(r.stderr);
  return r.code === 0 && m ? Number(m[1]) : undefined;
}

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 10) / 10;
  return { n: s.length, median: r(quantile(s, 0.5)), min: r(s[0] ?? NaN), max: r(s[s.length - 1] ?? NaN), p25: r(quantile(s, 0.25)), p75: r(quantile(s, 0.75)) };
}

/**
 * Memory of a group of processes with the pages they share counted once: anonymous memory
 * summed, each file mapping (device, inode, offset) counted at its largest RSS in the group.
 * moatd and its listener pair are three node processes whose ~30 MiB of node binary pages
 * are the same pages; summed RSS counts them three times.
 */
export function groupRssKb(pids: readonly number[]): number {
  const files = new Map<string, number>();
  let anon = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    } catch {
      continue;
    }
    let key: string | undefined;
    for (const line of text.split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ ([0-9a-f]+) (\S+) (\d+)/.exec(line);
      if (head) {
        key = head[3] === '0' ? undefined : `${head[2]}:${head[3]}:${head[1]}`;
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (!rss) continue;
      const kb = Number(rss[1]);
      if (key === undefined) anon += kb;
      else files.set(key, Math.max(files.get(key) ?? 0, kb));
    }
  }
  let file = 0;
  for (const kb of files.values()) file += kb;
  return anon + file;
}

/** CPU time (ms) the whole machine spent busy since boot (all cores; /proc/stat, USER_HZ 100). */
export function busyCpuMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  return busy * 10;
}

/** Round-robin order that rotates each round, so no participant always goes first. */
export function rotated<T>(xs: readonly T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** CPU time (ms, utime + stime) of each of these processes since it started (/proc/PID/stat, USER_HZ 100). */
export function processCpuMs(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat(5); f[0] is field 3.
      out.set(pid, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * CPU (ms) a daemon's processes spent between two `processCpuMs` samples: a process that
 * started in between counts from zero; one that ended in between is lost (moatd's listener
 * pair, which lives for seconds after its last container, rarely is).
 */
export function cpuSpentMs(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** What a pid is, for the RSS breakdown: its comm, or for node processes the moat program it runs. */
export function roleOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const listener = cmd.some((a) => a.endsWith('moat-seccomp-listener'));
    if (listener) return cmd.includes('--standby') ? 'listener-standby' : 'listener';
    if (cmd.some((a) => a.endsWith('/moatd'))) return 'moatd';
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'gone';
  }
}

export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export function firstLine(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}
