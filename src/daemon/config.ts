// moatd's settings: command-line flags (dockerd's names) over /etc/moat/daemon.json
// (dockerd's keys). Pure: the caller reads the file.
import { invalid } from '../base/index.js';
import type { LogLevel } from '../base/index.js';
import { DEFAULT_PIDS_LIMIT } from '../spec/index.js';

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
  /** Ms the seccomp listener pair stays while no container uses it; -1: it never exits. */
  seccompListenerIdleMs: number;
  /** The runc binary; '' picks /usr/sbin/runc or /usr/bin/runc. */
  runc: string;
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
  /** Bytes of request bodies held at once, all callers (daemon.json `request-body-budget`). */
  bodyBudget: number;
  /** The same per caller: unix peer uid or TLS CN (`request-body-budget-per-caller`). */
  bodyBudgetPerCaller: number;
  /** A buffered body must arrive within this many ms (`request-body-timeout`). */
  bodyTimeoutMs: number;
  authzTimeoutMs: number;
  /** `--log-driver` / daemon.json `log-driver`: json-file, local or none. */
  logDriver: string;
  /** `--log-opt K=V` / daemon.json `log-opts`. */
  logOpts: Record<string, string>;
  /** Registries reached over plain HTTP or without certificate checks (host[:port] or CIDR). */
  insecureRegistries: string[];
  /** Docker Hub mirrors (URLs), tried before Docker Hub for pulls. */
  registryMirrors: string[];
  /** Registries never contacted (`--block-registry`; `docker.io` for Docker Hub). */
  blockedRegistries: string[];
  /** moat's image trust policy file; '' for none. */
  imagePolicy: string;
  /** `--init` / daemon.json `init`: containers that do not say get tini as PID 1. */
  init: boolean;
  /** `--init-path` / daemon.json `init-path`: the init binary (Debian's static tini). */
  initPath: string;
  /** Host interface of the default bridge network (dockerd `--bridge`); `none`: no default bridge. */
  bridge: string;
  /** Default bridge address and prefix (dockerd `--bip`); '' picks from the pools. */
  bip: string;
  /** Default bridge allocation range (dockerd `--fixed-cidr`). */
  fixedCidr: string;
  /** dockerd `--default-address-pool base=CIDR,size=N`; empty: dockerd's pools. */
  defaultAddressPools: string[];
  /** dockerd `--iptables`: always on with netavark (false is refused). */
  iptables: boolean;
  /** dockerd `--ip-forward`: always on with netavark (false is refused). */
  ipForward: boolean;
  /** Containers on the default bridge may talk to each other (dockerd `--icc`; moat's default false). */
  icc: boolean;
  /** Where published ports bind when no address is named (dockerd `--ip`; moat's default 127.0.0.1). */
  ip: string;
  /** Default nameservers of containers (dockerd `--dns`). */
  dns: string[];
  /** MTU of the default bridge (dockerd `--mtu`); 0: the kernel's. */
  mtu: number;
}

export const DEFAULTS: DaemonConfig = {
  hosts: [],
  dataRoot: '/var/lib/moat',
  execRoot: '/run/moat',
  pidfile: '',
  logLevel: 'info',
  configFile: '/etc/moat/daemon.json',
  defaultPidsLimit: DEFAULT_PIDS_LIMIT,
  defaultCapabilities: undefined,
  noNewPrivileges: false,
  seccompProfile: 'builtin',
  seccompExplain: true,
  seccompListenerIdleMs: 5000,
  runc: '',
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
  bodyBudget: 64 * 1024 * 1024,
  bodyBudgetPerCaller: 32 * 1024 * 1024,
  bodyTimeoutMs: 30_000,
  authzTimeoutMs: 10_000,
  logDriver: 'json-file',
  logOpts: {},
  insecureRegistries: [],
  registryMirrors: [],
  blockedRegistries: [],
  imagePolicy: '',
  init: false,
  initPath: '/usr/bin/tini-static',
  bridge: 'moat0',
  bip: '',
  fixedCidr: '',
  defaultAddressPools: [],
  iptables: true,
  ipForward: true,
  icc: false,
  ip: '127.0.0.1',
  dns: [],
  mtu: 0,
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
  'seccomp-listener-idle': 'seccompListenerIdleMs',
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
  'request-body-budget': 'bodyBudget',
  'request-body-budget-per-caller': 'bodyBudgetPerCaller',
  'request-body-timeout': 'bodyTimeoutMs',
  'authorization-timeout': 'authzTimeoutMs',
  'log-driver': 'logDriver',
  'live-restore': 'hosts',
  'insecure-registries': 'insecureRegistries',
  'registry-mirrors': 'registryMirrors',
  'block-registries': 'blockedRegistries',
  'image-policy': 'imagePolicy',
  init: 'init',
  'init-path': 'initPath',
  bridge: 'bridge',
  bip: 'bip',
  'fixed-cidr': 'fixedCidr',
  iptables: 'iptables',
  'ip-forward': 'ipForward',
  icc: 'icc',
  ip: 'ip',
  dns: 'dns',
  mtu: 'mtu',
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
    if (key === 'log-opts') {
      // dockerd's shape: {"max-size": "10m", "max-file": "3"}, values strings.
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw invalid(`${source}: log-opts must be an object of strings`);
      }
      out.logOpts = { ...(value as Record<string, string>) };
      continue;
    }
    if (key === 'default-address-pools') {
      // dockerd's shape: [{"base": "10.10.0.0/16", "size": 24}].
      if (!Array.isArray(value) || !value.every((p) => typeof p === 'object' && p !== null && typeof (p as { base?: unknown }).base === 'string' && typeof (p as { size?: unknown }).size === 'number')) {
        throw invalid(`${source}: default-address-pools must be a list of {"base": CIDR, "size": N}`);
      }
      out.defaultAddressPools = (value as Array<{ base: string; size: number }>).map((p) => `base=${p.base},size=${p.size}`);
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

/** Throws unless `ms` is a whole number of ms ≥ 0, or -1 (the listener pair never exits). */
export function checkSeccompListenerIdle(ms: number): void {
  if (!Number.isInteger(ms) || ms < -1) throw new Error(`invalid seccomp-listener-idle: ${String(ms)}: must be a whole number of ms, or -1`);
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
