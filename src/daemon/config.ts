// moatd's settings: command-line flags (dockerd's names) over /etc/moat/daemon.json
// (dockerd's keys). Pure: the caller reads the file.
import { invalid } from '../base/index.js';
import type { LogLevel } from '../base/index.js';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: LogLevel;
  configFile: string;
  defaultPidsLimit: number;
  defaultCapabilities: string[] | undefined;
  noNewPrivileges: boolean;
  seccompProfile: string;
  seccompExplain: boolean;
  defaultUlimits: string[];
  usernsRemap: string;
  authorizationPlugins: string[];
  authorizationPolicy: string;
  tlsverify: boolean;
  tlscacert: string;
  tlscert: string;
  tlskey: string;
  cgroupParent: string;
  bodyLimit: number;
  authzTimeoutMs: number;
  /** Registries reached over plain HTTP or without certificate checks (host[:port] or CIDR). */
  insecureRegistries: string[];
  /** Docker Hub mirrors (URLs), tried before Docker Hub for pulls. */
  registryMirrors: string[];
  /** moat's image trust policy file; '' for none. */
  imagePolicy: string;
}

export const DEFAULTS: DaemonConfig = {
  hosts: [],
  dataRoot: '/var/lib/moat',
  execRoot: '/run/moat',
  pidfile: '',
  logLevel: 'info',
  configFile: '/etc/moat/daemon.json',
  defaultPidsLimit: 2048,
  defaultCapabilities: undefined,
  noNewPrivileges: false,
  seccompProfile: 'builtin',
  seccompExplain: true,
  defaultUlimits: [],
  usernsRemap: '',
  authorizationPlugins: [],
  authorizationPolicy: '',
  tlsverify: false,
  tlscacert: '',
  tlscert: '',
  tlskey: '',
  cgroupParent: 'moat',
  bodyLimit: 16 * 1024 * 1024,
  authzTimeoutMs: 10_000,
  insecureRegistries: [],
  registryMirrors: [],
  imagePolicy: '',
};

/** daemon.json key -> config field, with dockerd's key names. */
const FILE_KEYS: Record<string, keyof DaemonConfig> = {
  hosts: 'hosts',
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  pidfile: 'pidfile',
  'log-level': 'logLevel',
  'default-pids-limit': 'defaultPidsLimit',
  'default-capabilities': 'defaultCapabilities',
  'no-new-privileges': 'noNewPrivileges',
  'seccomp-profile': 'seccompProfile',
  'seccomp-explain': 'seccompExplain',
  'default-ulimits': 'defaultUlimits',
  'userns-remap': 'usernsRemap',
  'authorization-plugins': 'authorizationPlugins',
  'authorization-policy': 'authorizationPolicy',
  tlsverify: 'tlsverify',
  tlscacert: 'tlscacert',
  tlscert: 'tlscert',
  tlskey: 'tlskey',
  'cgroup-parent': 'cgroupParent',
  'max-request-body': 'bodyLimit',
  'authorization-timeout': 'authzTimeoutMs',
  'live-restore': 'hosts',
  'insecure-registries': 'insecureRegistries',
  'registry-mirrors': 'registryMirrors',
  'image-policy': 'imagePolicy',
};

/** Merge daemon.json (already parsed) into the defaults; unknown keys are an error, as dockerd. */
export function applyConfigFile(base: DaemonConfig, file: unknown, source: string): DaemonConfig {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw invalid(`${source}: the configuration must be a JSON object`);
  const out: DaemonConfig = { ...base };
  for (const [key, value] of Object.entries(file as Record<string, unknown>)) {
    if (key === 'live-restore') {
      if (value !== true) throw invalid(`${source}: live-restore is always on in moat`);
      continue;
    }
    if (key === 'default-ulimits' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // dockerd's shape: {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}
      out.defaultUlimits = Object.values(value as Record<string, { Name: string; Soft: number; Hard: number }>).map((u) => `${u.Name}=${u.Soft}:${u.Hard}`);
      continue;
    }
    const field = FILE_KEYS[key];
    if (field === undefined) throw invalid(`${source}: unknown configuration key ${JSON.stringify(key)}`);
    const expected = typeof DEFAULTS[field];
    const actual = Array.isArray(value) ? 'object' : typeof value;
    if (field === 'defaultCapabilities') {
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) throw invalid(`${source}: ${key} must be a list of capability names`);
    } else if (expected !== actual && !(expected === 'object' && Array.isArray(value))) {
      throw invalid(`${source}: ${key} must be a ${expected}`);
    }
    (out as unknown as Record<string, unknown>)[field] = value;
  }
  return out;
}

/** `<config-dir>/certs.d`: the config dir is the directory of the daemon.json (/etc/moat). */
export function certsDir(cfg: Pick<DaemonConfig, 'configFile'>): string {
  const slash = cfg.configFile.lastIndexOf('/');
  return `${slash > 0 ? cfg.configFile.slice(0, slash) : '.'}/certs.d`;
}

/** Where the API socket lives when no --host is given. */
export function defaultHosts(cfg: DaemonConfig): string[] {
  return cfg.hosts.length > 0 ? cfg.hosts : [`unix://${cfg.execRoot}/moat.sock`];
}
