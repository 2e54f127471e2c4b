// The one reader of Docker's mount specs: HostConfig.Binds (`-v src:dst[:opts]`),
// HostConfig.Mounts (`--mount`, and the CLI's `type=bind,src=…` flag), HostConfig.Tmpfs and
// volume names. The canonicalizer (which host paths a body names), the policy (which host
// paths a create mounts) and the engine (what it mounts) all read mounts here: two readers of
// one input are how authorization gets bypassed. Parsing and wording follow moby
// `volume/mounts/linux_parser.go` (v20.10), tmpfs options `daemon/oci_linux.go` WithMounts +
// `pkg/mount` MergeTmpfsOptions. Pure: symlinks, volume creation and the host side are the
// caller's job; spec/ turns a MountRequest into an OCI mount.
import { invalid } from '../base/index.js';
import { cleanPath } from './paths.js';

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
  /** `volume-label` / VolumeOptions.Labels: the labels of the volume when the create makes it. */
  volumeLabels?: Record<string, string>;
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

// --- volume names ------------------------------------------------------------------------

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Checks a local volume name like moby's local driver (`volume/local/local.go`
 * validateName); the error is the one `docker run -v ./x:/data` and `docker volume create`
 * print.
 *
 * @example
 * checkVolumeName('data'); // ok; checkVolumeName('bad/name') throws a 400
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

/** `src:dst[:mode]` split as moby's linux parser does; `rawSource` is `src` exactly as written. */
function splitBindSpec(raw: string): { rawSource: string; target: string; mode: string } {
  const spec = `invalid volume specification: '${raw}'`;
  const arr = raw.split(':');
  if (arr[0] === '') throw invalid(spec);
  if (arr.length === 1) return { rawSource: '', target: arr[0] ?? '', mode: '' };
  if (arr.length === 2) {
    if (validBindMode(arr[1] ?? '')) throw invalid(spec);
    return { rawSource: arr[0] ?? '', target: arr[1] ?? '', mode: '' };
  }
  if (arr.length === 3) return { rawSource: arr[0] ?? '', target: arr[1] ?? '', mode: arr[2] ?? '' };
  throw invalid(spec);
}

/**
 * Parses one HostConfig.Binds entry, `src:dst[:opts]` or a lone `dst` (anonymous volume).
 * An absolute `src` is a bind mount, anything else a named volume. Options: one of
 * `rw`/`ro`, one of `z`/`Z`, one propagation mode, `nocopy` (volumes only), one
 * consistency mode (ignored on Linux).
 *
 * @example
 * parseBind('/srv/data:/data:ro') // { kind: 'bind', source: '/srv/data', target: '/data', readOnly: true, … }
 */
export function parseBind(raw: string): MountRequest {
  const spec = `invalid volume specification: '${raw}'`;
  const { rawSource: source, target, mode } = splitBindSpec(raw);
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

/**
 * One HostConfig.VolumesFrom entry, `container[:mode]`, read as moby's linux parser does:
 * the mode is `rw` (the default: each mount stays as the source has it) or `ro` (every
 * mount read-only), with an optional `z`/`Z` (taken and not applied, as for Binds);
 * propagation and `nocopy` are refused (the mounts keep the source's).
 *
 * @example
 * parseVolumesFrom('data:ro') // { container: 'data', readOnly: true }
 */
export function parseVolumesFrom(spec: string): { container: string; readOnly: boolean } {
  if (spec === '') throw invalid('volumes-from specification cannot be an empty string');
  const colon = spec.indexOf(':');
  const container = colon < 0 ? spec : spec.slice(0, colon);
  const mode = colon < 0 ? '' : spec.slice(colon + 1);
  if (container === '') throw invalid(`invalid volumes-from specification: '${spec}': no container`);
  if (mode === '') return { container, readOnly: false };
  const opts = mode.split(',');
  if (!validBindMode(mode) || opts.some((o) => PROPAGATIONS.includes(o) || COPY_MODES.has(o))) throw invalid(`invalid mode: ${mode}`);
  return { container, readOnly: opts.includes('ro') };
}

/**
 * The host path a Binds entry bind-mounts, cleaned (parseBind's `source`), or undefined for a
 * named or anonymous volume. Only the split is checked here (a spec that cannot be split is
 * the parser's 400); the rest of the spec is checked by parseBind at create.
 *
 * @example
 * bindHostPath('/tmp/../etc:/x:ro') // '/etc'
 */
export function bindHostPath(raw: string): string | undefined {
  const { rawSource } = splitBindSpec(raw);
  return rawSource.startsWith('/') ? cleanPath(rawSource) : undefined;
}

/**
 * The Binds entry `raw` with its host source replaced by `source` (the rest kept byte for
 * byte), for the canonical form: `/tmp/../etc:/x:ro` with `/etc` → `/etc:/x:ro`. Throws the
 * parser's 400 for a spec it cannot split.
 *
 * @example
 * withBindSource('/tmp/../etc:/x:ro', '/etc') // '/etc:/x:ro'
 */
export function withBindSource(raw: string, source: string): string {
  const { rawSource } = splitBindSpec(raw);
  return source + raw.slice(rawSource.length);
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

/**
 * The host path a Mounts entry names: its Source when absolute, cleaned (parseMount's
 * `source` for a bind). Any type counts: a volume or tmpfs with an absolute Source is
 * refused at create, but until then it is judged as the host path it names.
 *
 * @example
 * mountHostPath({ Type: 'bind', Source: '//srv/', Target: '/s' }) // '/srv'
 */
export function mountHostPath(m: ApiMount): string | undefined {
  return typeof m.Source === 'string' && m.Source.startsWith('/') ? cleanPath(m.Source) : undefined;
}

/**
 * Parses one HostConfig.Mounts entry (Type bind, volume or tmpfs) with moby's checks and words.
 *
 * @example
 * parseMount({ Type: 'bind', Source: '/srv', Target: '/s' }).source // '/srv'
 */
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
      // `volume-driver=` / `volume-opt=` were taken and dropped before: refused now, not ignored.
      const driver = m.VolumeOptions?.DriverConfig as { Name?: string; Options?: Record<string, string> | null } | null | undefined;
      if (driver?.Name && driver.Name !== 'local') throw mountErr(type, `volume driver ${JSON.stringify(driver.Name)} is not supported by moat: only "local"`);
      if (driver?.Options && Object.keys(driver.Options).length > 0) {
        throw mountErr(type, 'VolumeOptions.DriverConfig.Options (volume-opt) are not supported by moat yet: create the volume first (docker volume create --opt)');
      }
      const r: MountRequest = { kind: 'volume', source, propagation: DEFAULT_PROPAGATION, options: [], ...base };
      if (m.VolumeOptions?.NoCopy === true) r.noCopy = true;
      const labels = m.VolumeOptions?.Labels;
      if (labels != null && Object.keys(labels).length > 0) r.volumeLabels = { ...labels };
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

/**
 * `64m`, `1g`, `1024` → bytes, as docker/cli's RAMInBytes (`tmpfs-size`, `--memory`, `--shm-size`).
 *
 * @example
 * ramInBytes('64m') // 67108864
 */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw invalid(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/**
 * The CLI's `--mount type=bind,src=/a,dst=/b,ro` flag → a HostConfig.Mounts entry (docker/cli
 * `opts/mount.go`, the keys moat's CLI takes). Throws a 400 for an unknown key.
 *
 * @example
 * parseMountFlag('type=bind,src=/srv,dst=/s,readonly') // { Type: 'bind', Source: '/srv', Target: '/s', ReadOnly: true }
 */
export function parseMountFlag(spec: string): ApiMount {
  const out: ApiMount = {};
  for (const part of spec.split(',')) {
    const [k, v = ''] = part.split('=', 2) as [string, string | undefined];
    switch (k) {
      case 'type':
        out.Type = v;
        break;
      case 'source':
      case 'src':
        out.Source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        out.Target = v;
        break;
      case 'readonly':
      case 'ro':
        out.ReadOnly = v === '' || v === 'true' || v === '1';
        break;
      case 'bind-propagation':
        out.BindOptions = { Propagation: v };
        break;
      case 'tmpfs-size':
        out.TmpfsOptions = { ...(out.TmpfsOptions ?? {}), SizeBytes: ramInBytes(v) };
        break;
      case 'tmpfs-mode':
        out.TmpfsOptions = { ...(out.TmpfsOptions ?? {}), Mode: parseInt(v, 8) };
        break;
      default:
        throw invalid(`unexpected key '${k}' in '${spec}'`);
    }
  }
  return out;
}

// --- Tmpfs map ---------------------------------------------------------------------------

/**
 * Parses one HostConfig.Tmpfs entry (`"/run": "rw,size=65536k"`).
 *
 * @example
 * parseTmpfs('/run', 'size=64m').options // ['size=64m']
 */
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
  Binds?: readonly string[] | null | undefined;
  Mounts?: readonly ApiMount[] | null | undefined;
  Tmpfs?: Readonly<Record<string, string>> | null | undefined;
}

/**
 * All of a container's requested mounts, Binds then Mounts then Tmpfs; two mounts on the
 * same (cleaned) target are a 400 `Duplicate mount point: /x` (moby registerMountPoints;
 * moat extends the check to the Tmpfs map).
 *
 * @example
 * parseMountRequests({ Binds: ['/srv:/s'], Tmpfs: { '/run': '' } }).map((m) => m.kind) // ['bind', 'tmpfs']
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

/**
 * The host paths a HostConfig names as mount sources (bindHostPath of each Binds entry,
 * mountHostPath of each Mounts entry), for a policy. An entry whose path cannot be placed
 * is returned as written (a Binds spec that cannot be split, a bind Mounts entry with a
 * relative Source): a policy cannot put it under an allowed path, so it judges it as a bind
 * it may not allow (the create itself is refused by the same parser).
 *
 * @example
 * bindSourcesOf({ Binds: ['/tmp/../etc:/x', 'vol:/v'] }) // ['/etc']
 */
export function bindSourcesOf(hc: Pick<HostMounts, 'Binds' | 'Mounts'>): string[] {
  const out: string[] = [];
  for (const b of hc.Binds ?? []) {
    let path: string | undefined;
    try {
      path = bindHostPath(b);
    } catch {
      path = b;
    }
    if (path !== undefined) out.push(path);
  }
  for (const m of hc.Mounts ?? []) {
    const path = mountHostPath(m);
    if (path !== undefined) out.push(path);
    else if (m.Type === 'bind' && typeof m.Source === 'string') out.push(m.Source);
  }
  return out;
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
 *
 * @example
 * mergeTmpfsOptions(['noexec', 'exec', 'size=1m']) // ['exec', 'size=1m']
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
