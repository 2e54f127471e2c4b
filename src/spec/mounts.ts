// HostConfig.Binds / Mounts / Tmpfs → one normalised MountRequest list, then → OCI mounts.
// Parsing and wording follow moby `volume/mounts/linux_parser.go` (v20.10), tmpfs options
// `daemon/oci_linux.go` WithMounts + `pkg/mount` MergeTmpfsOptions. Pure: symlinks, volume
// creation and the host side are the caller's job.

import { invalid } from '../base/index.js';
import type { Mount as OciMount } from './types.js';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
const PROPAGATIONS: readonly string[] = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
/** Docker's default propagation for binds, volumes and tmpfs. */
export const DEFAULT_PROPAGATION: Propagation = 'rprivate';

/** One requested mount, whatever field it came from. */
export interface MountRequest {
  kind: 'bind' | 'volume' | 'tmpfs';
  /** bind: cleaned absolute host path; volume: name (`''` = anonymous); tmpfs: `''`. */
  source: string;
  /** Cleaned absolute container path, never `/`. */
  target: string;
  readOnly: boolean;
  propagation: Propagation;
  /** tmpfs: the user's options (`size=65536k`, `mode=1777`, `exec` …), merged later. Else `[]`. */
  options: string[];
  /** SELinux relabel request from Binds (`z` shared, `Z` private). */
  label?: 'z' | 'Z';
  /** `nocopy` / VolumeOptions.NoCopy: do not copy image content into a new volume. */
  noCopy?: boolean;
  /** Which HostConfig field it came from. Binds auto-create a missing host dir (legacy); Mounts do not. */
  origin: 'Binds' | 'Mounts' | 'Tmpfs';
}

/** HostConfig.Mounts[] entry (Docker keys verbatim; unknown keys ignored). */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: unknown } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] } | null;
}

/**
 * Lexically cleans a path like Go's `path.Clean`: `//etc` → `/etc`, `/tmp/../etc` → `/etc`,
 * `a/./b/` → `a/b`, `''` → `.`. `..` never climbs above `/`.
 */
export function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else {
      out.push(seg);
    }
  }
  const joined = out.join('/');
  if (abs) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

class MountConfigError extends Error {}

function mountErr(type: string, message: string): MountConfigError {
  return new MountConfigError(`invalid mount config for type ${JSON.stringify(type)}: ${message}`);
}

function checkTarget(type: string, target: string): string {
  if (target === '') throw mountErr(type, 'field Target must not be empty');
  if (cleanPath(target) === '/' && target.startsWith('/')) throw mountErr(type, "invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) throw mountErr(type, `invalid mount path: '${target}' mount path must be absolute`);
  return cleanPath(target);
}

const rethrow = (err: unknown, prefix?: string): never => {
  if (err instanceof MountConfigError) throw invalid(prefix === undefined ? err.message : `${prefix}: ${err.message}`, { cause: err });
  throw err;
};

// --- Binds -------------------------------------------------------------------------------

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

function validBindMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const i = RW_MODES.has(o) ? 0 : LABEL_MODES.has(o) ? 1 : PROPAGATIONS.includes(o) ? 2 : COPY_MODES.has(o) ? 3 : CONSISTENCY_MODES.has(o) ? 4 : -1;
    if (i < 0) return false;
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts.every((c) => c <= 1);
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Checks a local volume name like moby's local driver; the error is the one
 * `docker run -v ./x:/data` prints.
 */
export function checkVolumeName(name: string): void {
  if (name.length === 1) throw invalid('volume name is too short, names should be at least two alphanumeric characters');
  // The name becomes a directory name: longer than NAME_MAX (255) cannot be made.
  if (name.length > 255) throw invalid(`create ${name.slice(0, 32)}…: volume name is too long: ${name.length} characters, at most 255`);
  if (!VOLUME_NAME.test(name)) {
    throw invalid(
      `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/**
 * Parses one HostConfig.Binds entry, `src:dst[:opts]` or a lone `dst` (anonymous volume).
 * An absolute `src` is a bind mount, anything else a named volume. Options: one of
 * `rw`/`ro`, one of `z`/`Z`, one propagation mode, `nocopy` (volumes only), one
 * consistency mode (ignored on Linux).
 */
export function parseBind(raw: string): MountRequest {
  const spec = `invalid volume specification: '${raw}'`;
  const arr = raw.split(':');
  if (arr[0] === '') throw invalid(spec);
  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) {
    target = arr[0] ?? '';
  } else if (arr.length === 2) {
    if (validBindMode(arr[1] ?? '')) throw invalid(spec);
    source = arr[0] ?? '';
    target = arr[1] ?? '';
  } else if (arr.length === 3) {
    source = arr[0] ?? '';
    target = arr[1] ?? '';
    mode = arr[2] ?? '';
  } else {
    throw invalid(spec);
  }
  if (!validBindMode(mode)) throw invalid(`invalid mode: ${mode}`);
  const opts = mode === '' ? [] : mode.split(',');
  const kind = source.startsWith('/') ? 'bind' : 'volume';
  const propagation = opts.find((o) => PROPAGATIONS.includes(o)) as Propagation | undefined;
  const label = opts.find((o) => LABEL_MODES.has(o)) as 'z' | 'Z' | undefined;
  const noCopy = opts.includes('nocopy');
  try {
    const t = checkTarget(kind, target);
    if (kind === 'bind' && noCopy) throw mountErr(kind, 'field VolumeOptions must not be specified');
    if (kind === 'volume' && propagation !== undefined) throw mountErr(kind, 'field BindOptions must not be specified');
    const readOnly = opts.includes('ro');
    if (kind === 'volume' && source === '' && readOnly) throw mountErr(kind, 'must not set ReadOnly mode when using anonymous volumes');
    if (kind === 'volume' && source !== '') checkVolumeName(source);
    const m: MountRequest = {
      kind,
      source: kind === 'bind' ? cleanPath(source) : source,
      target: t,
      readOnly,
      propagation: propagation ?? DEFAULT_PROPAGATION,
      options: [],
      origin: 'Binds',
    };
    if (label !== undefined) m.label = label;
    if (noCopy) m.noCopy = true;
    return m;
  } catch (err) {
    return rethrow(err, spec);
  }
}

// --- Mounts ------------------------------------------------------------------------------

/** `TmpfsOptions` → tmpfs option strings, like moby `ConvertTmpfsOptions` (size with g/m/k suffix, octal mode). */
export function tmpfsOptionsFromApi(opt: ApiMount['TmpfsOptions'], readOnly: boolean): string[] {
  const out: string[] = [];
  if (readOnly) out.push('ro');
  if (opt?.Mode !== undefined && opt.Mode !== 0) out.push(`mode=${opt.Mode.toString(8)}`);
  if (opt?.SizeBytes !== undefined && opt.SizeBytes !== 0) {
    let size = opt.SizeBytes;
    let suffix = '';
    for (const [s, d] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
      if (size % d === 0) {
        size = size / d;
        suffix = s;
        break;
      }
    }
    out.push(`size=${size}${suffix}`);
  }
  for (const o of opt?.Options ?? []) out.push(o.join('='));
  return out;
}

/** Parses one HostConfig.Mounts entry (Type bind, volume or tmpfs) with moby's checks and words. */
export function parseMount(m: ApiMount): MountRequest {
  const type = m.Type ?? '';
  try {
    if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw mountErr(type, 'mount type unknown');
    const target = checkTarget(type, m.Target ?? '');
    const source = m.Source ?? '';
    const readOnly = m.ReadOnly === true;
    const base = { target, readOnly, origin: 'Mounts' as const };
    if (type === 'bind') {
      if (source === '') throw mountErr(type, 'field Source must not be empty');
      const p = m.BindOptions?.Propagation ?? '';
      if (p !== '' && !PROPAGATIONS.includes(p)) throw mountErr(type, `invalid propagation mode: ${p}`);
      if (m.VolumeOptions != null) throw mountErr(type, 'field VolumeOptions must not be specified');
      if (m.TmpfsOptions != null) throw mountErr(type, 'field TmpfsOptions must not be specified');
      if (!source.startsWith('/')) throw mountErr(type, `invalid mount path: '${source}' mount path must be absolute`);
      return { kind: 'bind', source: cleanPath(source), propagation: (p || DEFAULT_PROPAGATION) as Propagation, options: [], ...base };
    }
    if (type === 'volume') {
      if (m.BindOptions != null) throw mountErr(type, 'field BindOptions must not be specified');
      if (m.TmpfsOptions != null) throw mountErr(type, 'field TmpfsOptions must not be specified');
      if (source === '' && readOnly) throw mountErr(type, 'must not set ReadOnly mode when using anonymous volumes');
      if (source !== '') checkVolumeName(source);
      const r: MountRequest = { kind: 'volume', source, propagation: DEFAULT_PROPAGATION, options: [], ...base };
      if (m.VolumeOptions?.NoCopy === true) r.noCopy = true;
      return r;
    }
    if (m.BindOptions != null) throw mountErr(type, 'field BindOptions must not be specified');
    if (m.VolumeOptions != null) throw mountErr(type, 'field VolumeOptions must not be specified');
    if (source !== '') throw mountErr(type, 'field Source must not be specified');
    const options = tmpfsOptionsFromApi(m.TmpfsOptions, false);
    mergeTmpfsOptions(options); // validate now: 400 at create, not a failed start
    return { kind: 'tmpfs', source: '', propagation: DEFAULT_PROPAGATION, options, ...base };
  } catch (err) {
    return rethrow(err);
  }
}

// --- Tmpfs map ---------------------------------------------------------------------------

/** Parses one HostConfig.Tmpfs entry (`"/run": "rw,size=65536k"`). */
export function parseTmpfs(target: string, data: string): MountRequest {
  if (target === '' || cleanPath(target) === '/') throw invalid("invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) throw invalid(`invalid mount path: '${target}' mount path must be absolute`);
  const options = data === '' ? [] : data.split(',');
  mergeTmpfsOptions(options);
  const readOnly = mergeTmpfsOptions(['rw', ...options]).includes('ro');
  return { kind: 'tmpfs', source: '', target: cleanPath(target), readOnly, propagation: DEFAULT_PROPAGATION, options, origin: 'Tmpfs' };
}

/** The three HostConfig mount fields. */
export interface HostMounts {
  Binds?: readonly string[] | null;
  Mounts?: readonly ApiMount[] | null;
  Tmpfs?: Readonly<Record<string, string>> | null;
}

/**
 * All of a container's requested mounts, Binds then Mounts then Tmpfs; two mounts on the
 * same (cleaned) target are a 400 `Duplicate mount point: /x` (moby registerMountPoints;
 * moat extends the check to the Tmpfs map).
 */
export function parseMountRequests(hc: HostMounts): MountRequest[] {
  const out: MountRequest[] = [
    ...(hc.Binds ?? []).map((b) => parseBind(b)),
    ...(hc.Mounts ?? []).map((m) => parseMount(m)),
    ...Object.entries(hc.Tmpfs ?? {}).map(([t, d]) => parseTmpfs(t, d)),
  ];
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.target)) throw invalid(`Duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }
  return out;
}

// --- to OCI ------------------------------------------------------------------------------

/**
 * A bind or volume request → OCI bind mount, as Docker writes it: `rbind`, `ro` when
 * read-only, then the propagation (rprivate by default). For a volume, pass the volume's
 * host directory as `source`; for a bind, `source` overrides the request's (e.g. after the
 * lead resolved symlinks).
 */
export function bindToOciMount(m: MountRequest, options: { source?: string } = {}): OciMount {
  if (m.kind === 'tmpfs') return tmpfsToOciMount(m);
  const source = options.source ?? m.source;
  if (!source.startsWith('/')) throw invalid(`Cannot mount ${m.kind} ${JSON.stringify(m.source)} on ${m.target}: no host path`);
  const opts = ['rbind'];
  if (m.readOnly) opts.push('ro');
  opts.push(m.propagation);
  return { destination: m.target, type: 'bind', source, options: opts };
}

/** Docker's defaults for a tmpfs mount before the user's options. */
export const TMPFS_DEFAULT_OPTIONS: readonly string[] = Object.freeze(['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION]);

/**
 * A tmpfs request → OCI tmpfs mount: Docker's `noexec,nosuid,nodev,rprivate` then the
 * user's options, merged so the later option of a pair wins (`exec` undoes `noexec`).
 */
export function tmpfsToOciMount(m: MountRequest): OciMount {
  const opts = [...TMPFS_DEFAULT_OPTIONS, ...m.options];
  if (m.readOnly) opts.push('ro');
  return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(opts) };
}

// Flag options: name → collision key (opposites share one; all propagation modes share one).
// moby's list also has `bind`, `rbind` and `remount`: they are not tmpfs options but change
// what the mount is (runc turns a "tmpfs" with `rbind` into a bind of a bundle path), so
// they are refused like any unknown option (issue 11).
const FLAG_KEYS: Readonly<Record<string, string>> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev',
  exec: 'noexec', noexec: 'noexec', sync: 'sync', async: 'sync', dirsync: 'dirsync',
  mand: 'mand', nomand: 'mand', atime: 'noatime', noatime: 'noatime',
  diratime: 'nodiratime', nodiratime: 'nodiratime',
  relatime: 'relatime', norelatime: 'relatime', strictatime: 'strictatime', nostrictatime: 'strictatime',
  private: 'prop', rprivate: 'prop', shared: 'prop', rshared: 'prop', slave: 'prop', rslave: 'prop',
  unbindable: 'prop', runbindable: 'prop',
};
const TMPFS_DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/**
 * moby's MergeTmpfsOptions: later options win, each flag pair and each `key=value` kept
 * once, `defaults` dropped; unknown options → 400 `Invalid tmpfs option ["x"]`.
 */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i] ?? '';
    if (o === 'defaults') continue;
    const key = FLAG_KEYS[o];
    if (key !== undefined) {
      if (!seenFlags.has(key)) {
        out.unshift(o);
        seenFlags.add(key);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const parts = eq < 0 ? [o] : [o.slice(0, eq), o.slice(eq + 1)];
    const name = parts[0] ?? '';
    if (parts.length !== 2 || !TMPFS_DATA_KEYS.has(name)) {
      throw invalid(`Invalid tmpfs option [${parts.map((p) => JSON.stringify(p)).join(' ')}]`);
    }
    if (!seenData.has(name)) {
      out.unshift(o);
      seenData.add(name);
    }
  }
  return out;
}
