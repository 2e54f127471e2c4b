/**
 * User-namespace id maps: /etc/subuid and /etc/subgid lines, range allocation, the
 * `--userns-remap` value, and translation between container and host ids. Pure.
 *
 * Sources: shadow-utils `lib/subordinateio.c` (file format, allocation from 100000),
 * moby `pkg/idtools` (createIDMap, ToHost/ToContainer) and `daemon/daemon_unix.go`
 * (parseRemappedRoot).
 */
import { invalid } from '../base/index.js';

/** One `name-or-uid:start:count` line of /etc/subuid or /etc/subgid. */
export interface SubIdEntry {
  /** A user name or a numeric uid, as written. */
  name: string;
  start: number;
  count: number;
}

/** One line of an id map; keys as in the OCI runtime spec (`linux.uidMappings`). */
export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/** The default range size (shadow-utils SUB_UID_COUNT, Docker's dockremap). */
export const DEFAULT_RANGE_SIZE = 65536;
/** shadow-utils SUB_UID_MIN / SUB_GID_MIN: allocation starts here. */
export const SUBID_MIN = 100000;
/** The largest id + 1 (ids are u32; 4294967295 is the invalid id). */
export const ID_LIMIT = 4294967295;

const UINT = /^(0|[1-9][0-9]*)$/;

function parseUint(s: string): number | undefined {
  if (!UINT.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n <= ID_LIMIT ? n : undefined;
}

/**
 * Parse a subuid/subgid file. Blank and `#` lines are skipped; any other line must have
 * exactly three fields with a non-empty name and decimal start and count, else EngineError
 * `invalid` naming the file and line.
 *
 * @example
 * parseSubIdFile('dockremap:100000:65536\n') // [{ name: 'dockremap', start: 100000, count: 65536 }]
 */
export function parseSubIdFile(text: string, file = 'subid file'): SubIdEntry[] {
  const out: SubIdEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const f = line.split(':');
    const start = parseUint(f[1] ?? '');
    const count = parseUint(f[2] ?? '');
    if (f.length !== 3 || f[0] === '' || start === undefined || count === undefined || start + count > ID_LIMIT) {
      throw invalid(`Cannot parse ${file}: line ${i + 1}: ${JSON.stringify(raw)} is not "name:start:count"`);
    }
    out.push({ name: f[0]!, start, count });
  });
  return out;
}

/** The file line for an entry (no newline). */
export function formatSubIdEntry(e: SubIdEntry): string {
  return `${e.name}:${e.start}:${e.count}`;
}

/** Append an entry to a file's text, keeping every existing byte and ending in a newline. */
export function appendSubIdEntry(text: string, e: SubIdEntry): string {
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}${formatSubIdEntry(e)}\n`;
}

/** Entries that belong to a user: matched by name or by numeric uid, in file order. */
export function rangesFor(entries: readonly SubIdEntry[], user: { name: string; uid: number }): SubIdEntry[] {
  return entries.filter((e) => e.name === user.name || e.name === String(user.uid));
}

/**
 * The lowest start ≥ `min` (100000) such that [start, start+size) overlaps no entry, as
 * shadow-utils and Docker pick: walk the ranges by start and jump past each one that would
 * overlap. Throws EngineError `invalid` when no room is left below `max`.
 *
 * @example
 * allocateRange([{ name: 'a', start: 100000, count: 65536 }]) // 165536
 */
export function allocateRange(entries: readonly SubIdEntry[], size = DEFAULT_RANGE_SIZE, opts: { min?: number; max?: number } = {}): number {
  const min = opts.min ?? SUBID_MIN;
  const max = opts.max ?? ID_LIMIT;
  if (!Number.isSafeInteger(size) || size <= 0) throw invalid(`Cannot allocate a subordinate id range: bad size ${size}`);
  const sorted = [...entries].filter((e) => e.count > 0).sort((a, b) => a.start - b.start);
  let candidate = min;
  for (const e of sorted) {
    if (e.start + e.count <= candidate) continue;
    if (e.start >= candidate + size) break; // every later range starts later still
    candidate = e.start + e.count;
  }
  if (candidate + size > max) throw invalid(`Cannot allocate a subordinate id range of ${size}: no free range below ${max}`);
  return candidate;
}

/** True when two entries' ranges share an id. */
export function rangesOverlap(a: Pick<SubIdEntry, 'start' | 'count'>, b: Pick<SubIdEntry, 'start' | 'count'>): boolean {
  return a.start < b.start + b.count && b.start < a.start + a.count;
}

/** The parsed value of `--userns-remap`. User and group are names or decimal ids, unresolved. */
export type RemapSpec =
  | { mode: 'off'; warning: string }
  | { mode: 'default'; user: 'dockremap'; group: 'dockremap' }
  | { mode: 'user'; user: string; group: string | undefined };

/** The user Docker creates for `--userns-remap=default`. */
export const DEFAULT_REMAP_USER = 'dockremap';

const ROOT_WARNING = 'User namespaces: root cannot be remapped with itself; user namespaces are OFF';

/**
 * Parse `--userns-remap`: `default`, `user`, `user:group`, `uid`, `uid:gid` (mixed allowed).
 * `root` / `0` turn remapping off with Docker's warning. Throws EngineError `invalid` with
 * Docker's message for anything else.
 *
 * @example
 * parseRemapSpec('default')      // { mode: 'default', user: 'dockremap', group: 'dockremap' }
 * parseRemapSpec('1000:1000')    // { mode: 'user', user: '1000', group: '1000' }
 */
export function parseRemapSpec(value: string): RemapSpec {
  const bad = (): never => {
    throw invalid(`Invalid user/group specification in --userns-remap: ${JSON.stringify(value)}`);
  };
  const parts = value.split(':');
  if (parts.length > 2 || parts.some((p) => p === '' || /\s/.test(p))) bad();
  const [user, group] = parts as [string, string | undefined];
  if (parts.length === 1 && user === 'default') return { mode: 'default', user: DEFAULT_REMAP_USER, group: DEFAULT_REMAP_USER };
  if (user === 'root' || user === '0') return { mode: 'off', warning: ROOT_WARNING };
  return { mode: 'user', user, group };
}

/** The warning used when a spec resolves to uid 0. */
export function rootRemapWarning(): string {
  return ROOT_WARNING;
}

/**
 * Id maps from a user's ranges, in file order: container ids are consecutive across them,
 * starting at 0 (moby `createIDMap`).
 *
 * @example
 * idMapsFromRanges([{ name: 'dockremap', start: 100000, count: 65536 }])
 * // [{ containerID: 0, hostID: 100000, size: 65536 }]
 */
export function idMapsFromRanges(ranges: readonly Pick<SubIdEntry, 'start' | 'count'>[]): IdMap[] {
  let next = 0;
  return ranges.map((r) => {
    const m = { containerID: next, hostID: r.start, size: r.count };
    next += r.count;
    return m;
  });
}

/** The host id of container id `id`, or undefined when it is not mapped. */
export function toHost(maps: readonly IdMap[], id: number): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The container id of host id `id`, or undefined when it is not mapped. */
export function toContainer(maps: readonly IdMap[], id: number): number | undefined {
  for (const m of maps) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return undefined;
}

/** The OCI `linux.uidMappings` / `linux.gidMappings` pair. */
export function ociIdMappings(uidRanges: readonly Pick<SubIdEntry, 'start' | 'count'>[], gidRanges: readonly Pick<SubIdEntry, 'start' | 'count'>[]): { uidMappings: IdMap[]; gidMappings: IdMap[] } {
  return { uidMappings: idMapsFromRanges(uidRanges), gidMappings: idMapsFromRanges(gidRanges) };
}

// ---- /etc/passwd and /etc/group --------------------------------------------------------

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  /** Home directory ('' when the line has none). */
  home: string;
}
export interface GroupEntry {
  name: string;
  gid: number;
  /** Supplementary members by user name. */
  members: string[];
}

/** Users from /etc/passwd text; malformed lines are skipped (as getpwent does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const uid = parseUint(f[2] ?? '');
    const gid = parseUint(f[3] ?? '');
    if (f.length >= 4 && f[0] && uid !== undefined && gid !== undefined) out.push({ name: f[0], uid, gid, home: f[5] ?? '' });
  }
  return out;
}

/** Groups from /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const gid = parseUint(f[2] ?? '');
    if (f.length >= 3 && f[0] && gid !== undefined) out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

/** A user by name or decimal uid. */
export function findUser(entries: readonly PasswdEntry[], ref: string): PasswdEntry | undefined {
  const id = parseUint(ref);
  return entries.find((e) => e.name === ref) ?? (id === undefined ? undefined : entries.find((e) => e.uid === id));
}

/** A group by name or decimal gid. */
export function findGroup(entries: readonly GroupEntry[], ref: string): GroupEntry | undefined {
  const id = parseUint(ref);
  return entries.find((e) => e.name === ref) ?? (id === undefined ? undefined : entries.find((e) => e.gid === id));
}
