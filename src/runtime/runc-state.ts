// runc 1.1's state dir, read by moatd so that starting a created container and deleting a
// stopped one need no runc process (two Go start-ups per container; docs/performance.md).
// Only the layout of runc 1.1 is known here: `<root>/<id>/state.json` and `exec.fifo`. Any
// other version, or a container these plans do not cover, is left to runc. Pure.
import { parseJsonObject } from '../base/index.js';

/** The fields of runc 1.1's `state.json` moatd reads (libcontainer's `State`, JSON keys verbatim). */
export interface RuncStateFile {
  init_process_pid: number;
  /** The init's start time, field 22 of /proc/<pid>/stat: a reused pid has another. */
  init_process_start: number;
  cgroup_paths?: Record<string, string> | null;
  intel_rdt_path?: string;
  config?: {
    namespaces?: Array<{ type: string; path?: string }> | null;
    Hooks?: Record<string, unknown[] | null> | null;
    cgroups?: { Systemd?: boolean } | null;
  };
}

/**
 * True when `runc --version` names a runc whose state layout moatd knows (1.1.x).
 *
 * @example
 * directStateSupported('runc version 1.1.5\ncommit: v1.1.5\n'); // true
 * directStateSupported('runc version 1.2.0\n'); // false
 */
export function directStateSupported(versionOutput: string): boolean {
  return /^runc version 1\.1\.\d+(?:[-+~][^\s]*)?\s*$/m.test(versionOutput);
}

/** `state.json`'s text, or undefined when it is not a runc 1.1 state moatd can read. */
export function tryParseRuncState(text: string): RuncStateFile | undefined {
  const v = parseJsonObject(text);
  if (v === undefined) return undefined;
  const s = v as Partial<RuncStateFile>;
  if (!Number.isInteger(s.init_process_pid) || (s.init_process_pid ?? 0) <= 0) return undefined;
  if (!Number.isInteger(s.init_process_start)) return undefined;
  return s as RuncStateFile;
}

/**
 * The fields of a parsed state that {@link RuncStateFile} names, and nothing else of its
 * config (a cache keeps this, not the whole file).
 *
 * @example
 * essentialRuncState(tryParseRuncState(text)!); // { init_process_pid, init_process_start, cgroup_paths, config: { namespaces, Hooks, cgroups } }
 */
export function essentialRuncState(s: RuncStateFile): RuncStateFile {
  const out: RuncStateFile = { init_process_pid: s.init_process_pid, init_process_start: s.init_process_start };
  if (s.cgroup_paths !== undefined) out.cgroup_paths = s.cgroup_paths;
  if (s.intel_rdt_path !== undefined) out.intel_rdt_path = s.intel_rdt_path;
  const c = s.config;
  if (c !== undefined) {
    out.config = {};
    if (c.namespaces !== undefined) out.config.namespaces = c.namespaces;
    if (c.Hooks !== undefined) out.config.Hooks = c.Hooks;
    if (c.cgroups !== undefined) out.config.cgroups = c.cgroups === null ? null : { ...(c.cgroups.Systemd !== undefined ? { Systemd: c.cgroups.Systemd } : {}) };
  }
  return out;
}

/**
 * /proc/<pid>/stat split: the command name (which the process sets, and which may hold
 * spaces and parentheses) and the fields after it, from field 3 on (cut at the last `)`).
 *
 * @example
 * splitProcStat('42 (a b) S 1 42'); // { comm: 'a b', fields: ['S', '1', '42'] }
 */
export function splitProcStat(text: string): { comm: string; fields: string[] } | undefined {
  const open = text.indexOf('(');
  const end = text.lastIndexOf(')');
  if (open < 0 || end < open) return undefined;
  return { comm: text.slice(open + 1, end), fields: text.slice(end + 2).split(' ') };
}

/**
 * The state letter and start time of /proc/<pid>/stat (the command name may hold spaces and
 * parentheses: fields follow the last `)`).
 *
 * @example
 * tryParseProcStat('42 (sh) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9001 ...'); // { state: 'S', startTime: 9001 }
 */
export function tryParseProcStat(text: string): { state: string; startTime: number } | undefined {
  const fields = splitProcStat(text)?.fields;
  if (fields === undefined) return undefined;
  // After the name: field 3 (state) is fields[0], field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = Number(fields[19]);
  if (state === undefined || state === '' || !Number.isInteger(startTime)) return undefined;
  return { state, startTime };
}

/** The name runc 1.1's init gives itself (prctl PR_SET_NAME in nsexec) until it execs. */
const RUNC_INIT_NAME = 'runc:[2:INIT]';

/**
 * Whether the init named in `procStat` has already exec'd the container's process: its name is
 * no longer runc's. runc says "created" while the exec FIFO exists, so a start cut between the
 * exec and the FIFO's removal (a crash of the reader) leaves a running process runc calls
 * created; opening the FIFO again would wait for a writer that is gone.
 *
 * @example
 * initExeced('9 (runc:[2:INIT]) S 1 …'); // false
 * initExeced('9 (sleep) S 1 …'); // true
 */
export function initExeced(procStat: string | undefined): boolean {
  if (procStat === undefined) return false;
  const open = procStat.indexOf('(');
  const close = procStat.lastIndexOf(')');
  return open >= 0 && close > open && procStat.slice(open + 1, close) !== RUNC_INIT_NAME;
}

/**
 * Whether the container's init still runs, as runc 1.1 decides it: the pid exists, is not a
 * zombie (or dead), and started when the state says (else the pid was reused).
 */
export function initRunning(state: RuncStateFile, procStat: string | undefined): boolean {
  const st = procStat === undefined ? undefined : tryParseProcStat(procStat);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTime === state.init_process_start;
}

/**
 * The cgroup dirs to remove when deleting a stopped container without runc, or undefined when
 * runc must do it: hooks to run (poststop), a pid namespace not its own (processes may outlive
 * the init and runc kills them first), systemd-managed cgroups, Intel RDT.
 *
 * @example
 * planDirectDelete({ init_process_pid: 9, init_process_start: 1, cgroup_paths: { pids: '/sys/fs/cgroup/pids/p/c' }, config: { namespaces: [{ type: 'NEWPID', path: '' }] } });
 * // ['/sys/fs/cgroup/pids/p/c']
 */
export function planDirectDelete(state: RuncStateFile): string[] | undefined {
  const config = state.config;
  if (config === undefined) return undefined;
  const pidNs = (config.namespaces ?? []).find((n) => n.type === 'NEWPID');
  if (pidNs === undefined || (pidNs.path ?? '') !== '') return undefined;
  if (Object.values(config.Hooks ?? {}).some((h) => (h ?? []).length > 0)) return undefined;
  if (config.cgroups?.Systemd === true) return undefined;
  if ((state.intel_rdt_path ?? '') !== '') return undefined;
  const paths = Object.values(state.cgroup_paths ?? {});
  if (paths.some((p) => typeof p !== 'string' || !p.startsWith('/sys/fs/cgroup/') || p.split('/').includes('..'))) return undefined;
  return [...new Set(paths)];
}
