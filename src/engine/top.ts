// `docker top` with `ps` options: the host's ps output, kept to the container's rows. Pure.
import { invalid } from '../base/index.js';
import { devMajor, devMinor } from '../image/index.js';
import { splitProcStat } from '../runtime/index.js';

/**
 * `ps` output -> Docker's top JSON, keeping rows whose PID is in `pids` (moby `daemon/top_unix.go`).
 *
 * @example
 * parsePsOutput('UID PID CMD\nroot 42 sh\n', new Set(['42'])) // { Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '42', 'sh']] }
 */
export function parsePsOutput(out: string, pids: ReadonlySet<string>): { Titles: string[]; Processes: string[][] } {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw invalid("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(fields[pidIndex] ?? '')) continue;
    // The last column (the command) may contain spaces.
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}

/** What `docker top`'s default row needs of one process, read from /proc by the host layer. */
export interface ProcFacts {
  pid: number;
  /** /proc/<pid>/status `Uid:` (real uid). */
  uid: string;
  /** /proc/<pid>/stat as read. */
  stat: string;
  /** /proc/<pid>/cmdline, NUL-separated. */
  cmdline: string;
}

/** Clock ticks per second of /proc's times: USER_HZ, 100 on every Linux ABI moat runs on. */
const USER_HZ = 100;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** procps' STIME: `HH:MM` when started in the last 24 hours, else `MonDD`, else the year. */
function startTimeText(start: Date, now: Date): string {
  if (now.getTime() - start.getTime() < 24 * 3600_000) return `${two(start.getHours())}:${two(start.getMinutes())}`;
  if (start.getFullYear() === now.getFullYear()) return `${MONTHS[start.getMonth()]}${two(start.getDate())}`;
  return String(start.getFullYear());
}

/** procps' TIME: cumulative CPU `[DD-]HH:MM:SS`. */
function cpuTimeText(seconds: number): string {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86400);
  const hms = `${two(Math.floor((s % 86400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return days > 0 ? `${two(days)}-${hms}` : hms;
}

/** A tty_nr as ps names it: `?` for none, `pts/N` for the pseudo-terminals (majors 136-143), else `?`. */
function ttyText(ttyNr: number): string {
  const major = devMajor(ttyNr);
  const minor = devMinor(ttyNr);
  return major >= 136 && major <= 143 ? `pts/${(major - 136) * 256 + minor}` : '?';
}

/**
 * One row of `docker top`'s default columns (UID PID PPID C STIME TTY TIME CMD, moby's `ps
 * -ef`) from /proc, as procps computes them: C is the CPU share over the process's life in
 * whole per cent, STIME its start, TIME its user + system CPU. `uptimeSeconds` is /proc/uptime's
 * first field, read with `now` (btime has whole seconds only, too coarse for C of a process a
 * second old). Undefined when the stat line does not parse (the process went away mid-read).
 *
 * @example
 * topRow({ pid: 42, uid: '0', stat: '42 (sleep) S 1 …', cmdline: 'sleep\0600\0' }, 38490.5, new Date()); // ['root', '42', '1', '0', '10:41', '?', '00:00:00', 'sleep 600']
 */
export function topRow(p: ProcFacts, uptimeSeconds: number, now: Date): string[] | undefined {
  const split = splitProcStat(p.stat);
  if (split === undefined) return undefined;
  const f = split.fields;
  // After the name: ppid is field 4 (f[1]), tty_nr 7 (f[4]), utime 14 (f[11]), stime 15 (f[12]), starttime 22 (f[19]).
  const [ppid, ttyNr, utime, stime, startTicks] = [f[1], f[4], f[11], f[12], f[19]].map(Number) as [number, number, number, number, number];
  if (![ppid, ttyNr, utime, stime, startTicks].every(Number.isFinite)) return undefined;
  const cpuSeconds = (utime + stime) / USER_HZ;
  const lived = uptimeSeconds - startTicks / USER_HZ;
  const startSeconds = now.getTime() / 1000 - lived;
  // procps' pr_c, in its whole numbers: CPU centiseconds over whole seconds alive, at most 99.
  const wholeSeconds = Math.floor(uptimeSeconds) - Math.floor(startTicks / USER_HZ);
  const c = wholeSeconds > 0 ? Math.min(99, Math.floor(Math.floor(((utime + stime) * 100) / USER_HZ) / wholeSeconds)) : 0;
  // A kernel thread or a zombie has no command line: ps shows its name in brackets.
  const argv = p.cmdline.split('\0').filter((x) => x !== '').join(' ');
  const cmd = argv !== '' ? argv : `[${split.comm}]`;
  return [p.uid === '0' ? 'root' : p.uid, String(p.pid), String(ppid), String(c), startTimeText(new Date(startSeconds * 1000), now), ttyText(ttyNr), cpuTimeText(cpuSeconds), cmd];
}
