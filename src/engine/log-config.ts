// Container log settings: `--log-driver json-file|local|none`, `--log-opt max-size=…,max-file=…`
// (per container and daemon-wide), with Docker's option names and moat's default cap, so a
// noisy container cannot fill the disk. Options moat cannot honour are a 400 naming them,
// never ignored. Pure.
import { invalid } from '../base/index.js';

/** The drivers moat implements; inspect reports these names (docker-py reads `json-file`). */
export const LOG_DRIVERS = ['json-file', 'local', 'none'] as const;
export type LogDriver = (typeof LOG_DRIVERS)[number];

/** moat's cap when nothing is set: 20 MB per file (Docker's decimal units), 5 files. */
export const DEFAULT_LOG_MAX_SIZE = '20m';
export const DEFAULT_LOG_MAX_FILE = '5';

/** The daemon's `--log-driver` / `--log-opt` (daemon.json `log-driver` / `log-opts`). */
export interface DaemonLogConfig {
  readonly driver: LogDriver;
  readonly opts: Readonly<Record<string, string>>;
}

export const DEFAULT_DAEMON_LOG_CONFIG: DaemonLogConfig = { driver: 'json-file', opts: {} };

/** What the log keeper and conmon need. */
export interface LogSettings {
  readonly driver: LogDriver;
  /** Bytes per file; conmon starts a new file before a line would cross it. */
  readonly maxSize: number;
  /** Files kept, the current one included (Docker's meaning). */
  readonly maxFile: number;
}

/** The stored, Docker-shaped form: `HostConfig.LogConfig` as inspect shows it. */
export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/**
 * Docker's `units.FromHumanSize` (what the json-file driver uses for max-size): decimal
 * units, an optional `i` and `b` ignored: `10m`, `10MB`, `1.5k`, `100`.
 */
export function parseHumanSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!;
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

/** Options each driver accepts in Docker, and what moat does with them. */
const KNOWN_OPTS: Readonly<Record<LogDriver, readonly string[]>> = {
  'json-file': ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-size', 'max-file', 'compress'],
  none: [],
};

function checkOpts(driver: LogDriver, opts: Readonly<Record<string, string>>, where: string): void {
  for (const [key, value] of Object.entries(opts)) {
    if (!KNOWN_OPTS[driver].includes(key)) throw invalid(`${where}: unknown log opt '${key}' for ${driver} log driver`);
    if (key === 'max-size') {
      const n = parseHumanSize(value);
      if (n === undefined) throw invalid(`${where}: invalid max-size ${JSON.stringify(value)}: expected a size such as 10m`);
      if (n <= 0) throw invalid(`${where}: max-size must be a positive number`);
      // conmon writes a line header per line; a file must hold at least a few lines.
      if (n < 4096) throw invalid(`${where}: max-size ${JSON.stringify(value)} is too small: moat needs at least 4k per file`);
    } else if (key === 'max-file') {
      if (!/^[0-9]+$/.test(value)) throw invalid(`${where}: invalid max-file ${JSON.stringify(value)}: expected a whole number`);
      const n = Number(value);
      if (n < 1) throw invalid(`${where}: max-file cannot be less than 1`);
      if (n > 100) throw invalid(`${where}: max-file ${value} is more than moat keeps (100)`);
    } else if (key === 'compress') {
      // Rotated files stay plain text; only "no compression" can be honoured.
      if (value !== 'false') throw invalid(`${where}: log opt compress=${value} is not supported by moat: rotated logs are not compressed`);
    } else {
      throw invalid(`${where}: log opt '${key}' is not supported by moat: moat's log files carry only the container's output`);
    }
  }
}

function asDriver(type: string, where: string): LogDriver {
  // k8s-file is what conmon writes; older moat records and podman users name it so.
  if (type === 'k8s-file') return 'json-file';
  if ((LOG_DRIVERS as readonly string[]).includes(type)) return type as LogDriver;
  throw invalid(`${where}: logging driver ${JSON.stringify(type)} is not supported by moat (json-file, local, none)`);
}

/**
 * Check the daemon's settings (flags or daemon.json); throws a 400-kind error naming the option.
 *
 * @example
 * parseDaemonLogConfig('json-file', ['max-size=10m', 'max-file=3']);
 */
export function parseDaemonLogConfig(driver: string, opts: readonly string[] | Readonly<Record<string, string>>): DaemonLogConfig {
  const d = asDriver(driver, '--log-driver');
  const map: Record<string, string> = {};
  if (Array.isArray(opts)) {
    for (const o of opts as readonly string[]) {
      const eq = o.indexOf('=');
      if (eq <= 0) throw invalid(`--log-opt: expected KEY=VALUE, got ${JSON.stringify(o)}`);
      map[o.slice(0, eq)] = o.slice(eq + 1);
    }
  } else Object.assign(map, opts);
  checkOpts(d, map, '--log-opt');
  return { driver: d, opts: map };
}

/**
 * The LogConfig a container keeps (and inspect shows): the container's driver or the daemon's,
 * the daemon's options when the drivers match (as dockerd merges them), and moat's cap where
 * neither sets a size. Throws a 400-kind error naming a bad option.
 *
 * @example
 * effectiveLogConfig(undefined, DEFAULT_DAEMON_LOG_CONFIG); // { Type: 'json-file', Config: { 'max-size': '20m', 'max-file': '5' } }
 */
export function effectiveLogConfig(requested: LogConfig | undefined | null, daemon: DaemonLogConfig): LogConfig {
  const type = requested?.Type ?? '';
  const driver = type === '' ? daemon.driver : asDriver(type, 'HostConfig.LogConfig.Type');
  const own = requested?.Config ?? {};
  if (typeof own !== 'object' || own === null || Array.isArray(own)) throw invalid('HostConfig.LogConfig.Config must be an object of strings');
  for (const [k, v] of Object.entries(own)) if (typeof v !== 'string') throw invalid(`HostConfig.LogConfig.Config.${k} must be a string`);
  checkOpts(driver, own, 'HostConfig.LogConfig.Config');
  if (driver === 'none') return { Type: 'none', Config: {} };
  const merged: Record<string, string> = { ...(driver === daemon.driver ? daemon.opts : {}), ...own };
  merged['max-size'] ??= DEFAULT_LOG_MAX_SIZE;
  merged['max-file'] ??= DEFAULT_LOG_MAX_FILE;
  return { Type: driver, Config: merged };
}

/**
 * The keeper's settings from a stored LogConfig (records made before log settings existed
 * get the daemon's).
 *
 * @example
 * logSettings({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } }, DEFAULT_DAEMON_LOG_CONFIG); // { driver: 'json-file', maxSize: 1000000, maxFile: 3 }
 */
export function logSettings(stored: LogConfig | undefined | null, daemon: DaemonLogConfig): LogSettings {
  const c = stored && stored.Config && stored.Config['max-size'] !== undefined ? stored : effectiveLogConfig(stored, daemon);
  const driver = asDriver(c.Type === '' ? daemon.driver : c.Type, 'HostConfig.LogConfig.Type');
  if (driver === 'none') return { driver, maxSize: 0, maxFile: 0 };
  return { driver, maxSize: parseHumanSize(c.Config?.['max-size'] ?? DEFAULT_LOG_MAX_SIZE)!, maxFile: Number(c.Config?.['max-file'] ?? DEFAULT_LOG_MAX_FILE) };
}
