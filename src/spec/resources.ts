// HostConfig resource fields → OCI `linux.resources` (runtime-spec config-linux.md, keys
// verbatim), with dockerd's validation and wording (moby `daemon/daemon_unix.go`
// verifyPlatformContainerResources / adaptContainerSettings, `daemon/oci_linux.go`). Pure.

import { posix } from 'node:path';
import { invalid } from '../base/index.js';
import { deviceCgroupRules, type ResolvedDevice } from './security.js';
import type { LinuxBlockIO, LinuxResources, LinuxThrottleDevice } from './types.js';

type LinuxMemory = NonNullable<LinuxResources['memory']>;
type LinuxCPU = NonNullable<LinuxResources['cpu']>;

/** The HostConfig resource fields, Docker keys verbatim (null and absent mean unset). */
export interface HostResources {
  Privileged?: boolean | null;
  Memory?: number | null;
  MemorySwap?: number | null;
  MemoryReservation?: number | null;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number | null;
  CpuShares?: number | null;
  CpuQuota?: number | null;
  CpuPeriod?: number | null;
  CpusetCpus?: string | null;
  CpusetMems?: string | null;
  BlkioWeight?: number | null;
  BlkioWeightDevice?: readonly { Path: string; Weight: number }[] | null;
  BlkioDeviceReadBps?: readonly ThrottleEntry[] | null;
  BlkioDeviceWriteBps?: readonly ThrottleEntry[] | null;
  BlkioDeviceReadIOps?: readonly ThrottleEntry[] | null;
  BlkioDeviceWriteIOps?: readonly ThrottleEntry[] | null;
  PidsLimit?: number | null;
  DeviceCgroupRules?: readonly string[] | null;
}

export interface ResourceOptions {
  /** The daemon's `--default-pids-limit` (moat: 2048); 0 or negative = unlimited. */
  defaultPidsLimit: number;
  /** HostConfig.Devices after the lead stat()ed each host node. */
  devices?: readonly ResolvedDevice[] | undefined;
  /** Host CPU count, for Docker's NanoCpus range check. */
  numCpus?: number | undefined;
  /** Host's online CPUs / memory nodes (e.g. `0-3`), for the cpuset availability check. */
  availableCpus?: string | undefined;
  availableMems?: string | undefined;
  /** False when the host cannot limit swap (v1 without memsw): MemorySwap is dropped with a warning. */
  swapLimitSupported?: boolean | undefined;
  /** What the host's block I/O controller can apply (absent: all of it). */
  blkio?: BlkioSupport | undefined;
}

/**
 * What the host's block I/O controller can apply to containers (moby's sysinfo: v1 by the
 * blkio files, v2 takes the io controller as able to do all of it).
 */
export interface BlkioSupport {
  weight: boolean;
  weightDevice: boolean;
  readBps: boolean;
  writeBps: boolean;
  readIOps: boolean;
  writeIOps: boolean;
}

/**
 * BlkioSupport from a cgroup directory: the file names of the v1 blkio directory, or under
 * v2 the controllers its children can have (`cgroup.controllers`).
 *
 * @example
 * blkioSupportFrom(1, ['blkio.throttle.read_bps_device']).readBps; // true
 * blkioSupportFrom(2, [], 'cpu io memory').weight; // true
 */
export function blkioSupportFrom(version: 1 | 2, files: readonly string[], controllers = ''): BlkioSupport {
  if (version === 2) {
    const io = controllers.split(/\s+/).includes('io');
    return { weight: io, weightDevice: io, readBps: io, writeBps: io, readIOps: io, writeIOps: io };
  }
  const has = (...names: string[]): boolean => names.some((n) => files.includes(n));
  return {
    weight: has('blkio.weight', 'blkio.bfq.weight'),
    weightDevice: has('blkio.weight_device', 'blkio.bfq.weight_device'),
    readBps: has('blkio.throttle.read_bps_device'),
    writeBps: has('blkio.throttle.write_bps_device'),
    readIOps: has('blkio.throttle.read_iops_device'),
    writeIOps: has('blkio.throttle.write_iops_device'),
  };
}

/** A HostConfig throttle entry: a host device path and a rate (bytes or operations per second). */
export interface ThrottleEntry {
  Path: string;
  Rate: number;
}

/**
 * Per-device block I/O settings by host path; the device numbers are looked up at start
 * (blockIOFor), as dockerd does, since a path can name another device after a reboot.
 */
export interface BlockDeviceLimits {
  weightDevice?: Array<{ path: string; weight: number }>;
  readBps?: Array<{ path: string; rate: number }>;
  writeBps?: Array<{ path: string; rate: number }>;
  readIOps?: Array<{ path: string; rate: number }>;
  writeIOps?: Array<{ path: string; rate: number }>;
}

export interface PlannedResources {
  resources: LinuxResources;
  /** Per-device block I/O settings (empty when none); their numbers are found at start. */
  blockDevices: BlockDeviceLimits;
  /** HostConfig fields the host cannot apply and dockerd drops with a warning (stored as unset). */
  discarded: Array<'BlkioWeight' | 'BlkioWeightDevice'>;
  /** Docker's create warnings (returned in the create response's `Warnings`). */
  warnings: string[];
}

/** The throttle fields: HostConfig key, BlkioSupport and BlockDeviceLimits key, OCI key, and what dockerd calls the limit. */
const THROTTLES = [
  ['BlkioDeviceReadBps', 'readBps', 'throttleReadBpsDevice', 'BPS Block I/O read limit'],
  ['BlkioDeviceWriteBps', 'writeBps', 'throttleWriteBpsDevice', 'BPS Block I/O write limit'],
  ['BlkioDeviceReadIOps', 'readIOps', 'throttleReadIOPSDevice', 'IOPS Block read limit'],
  ['BlkioDeviceWriteIOps', 'writeIOps', 'throttleWriteIOPSDevice', 'IOPS Block write limit'],
] as const;

const ALL_BLKIO: BlkioSupport = { weight: true, weightDevice: true, readBps: true, writeBps: true, readIOps: true, writeIOps: true };

/**
 * A device path as the docker CLI takes it (`/dev/...`), and clean: `/dev/../etc` would stat
 * a host path that is not a device node, and tell a client whether it exists.
 */
function checkDevicePath(field: string, path: string): void {
  if (!path.startsWith('/dev/') || posix.normalize(path) !== path || path.endsWith('/')) {
    throw invalid(`invalid ${field}: bad format for device path: ${JSON.stringify(path)} (a block device under /dev)`);
  }
}

/**
 * The block I/O part of a HostConfig (moby verifyPlatformContainerResources). A weight is a
 * share, not a limit: where the host cannot apply it, it is dropped with dockerd's warning. A
 * throttle is a limit: where the host cannot apply it, the create is refused (dockerd drops it
 * with a warning and the container runs unthrottled).
 */
function planBlockIO(hc: HostResources, support: BlkioSupport, warnings: string[]): { blockIO?: LinuxBlockIO; limits: BlockDeviceLimits; discarded: PlannedResources['discarded'] } {
  const discarded: PlannedResources['discarded'] = [];
  const limits: BlockDeviceLimits = {};
  let weight = num(hc.BlkioWeight);
  if (weight !== 0 && !support.weight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    discarded.push('BlkioWeight');
    weight = 0;
  }
  if (weight !== 0 && (!Number.isInteger(weight) || weight < 10 || weight > 1000)) throw invalid('Range of blkio weight is from 10 to 1000');
  const weightDevice = hc.BlkioWeightDevice ?? [];
  if (weightDevice.length > 0 && !support.weightDevice) {
    warnings.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    discarded.push('BlkioWeightDevice');
  } else if (weightDevice.length > 0) {
    for (const d of weightDevice) {
      checkDevicePath('BlkioWeightDevice', d.Path);
      if (d.Weight !== 0 && (d.Weight < 10 || d.Weight > 1000)) throw invalid(`invalid BlkioWeightDevice: invalid weight for device: ${d.Path}:${d.Weight} (10 to 1000, or 0)`);
    }
    limits.weightDevice = weightDevice.map((d) => ({ path: d.Path, weight: d.Weight }));
  }
  for (const [field, key, , what] of THROTTLES) {
    const list = hc[field] ?? [];
    if (list.length === 0) continue;
    if (!support[key]) throw invalid(`${field} cannot be applied: this host's cgroups have no ${what} (moat refuses a limit it cannot enforce)`);
    for (const d of list) checkDevicePath(field, d.Path);
    limits[key] = list.map((d) => ({ path: d.Path, rate: d.Rate }));
  }
  return { ...(weight !== 0 ? { blockIO: { weight } } : {}), limits, discarded };
}

/** Every device path the block I/O settings name, once each. */
export function blockDevicePaths(limits: BlockDeviceLimits): string[] {
  return [...new Set([...(limits.weightDevice ?? []), ...THROTTLES.flatMap(([, key]) => limits[key] ?? [])].map((d) => d.path))];
}

/**
 * linux.resources.blockIO at start: the stored weight with the per-device settings, each path
 * replaced by the numbers the host gave for it now (`numbers`, from blockDevicePaths).
 *
 * @example
 * blockIOFor({ weight: 300 }, { readBps: [{ path: '/dev/vda', rate: 1048576 }] }, new Map([['/dev/vda', { major: 254, minor: 0 }]]));
 * // { weight: 300, throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }] }
 */
export function blockIOFor(base: LinuxBlockIO | undefined, limits: BlockDeviceLimits, numbers: ReadonlyMap<string, { major: number; minor: number }>): LinuxBlockIO | undefined {
  const at = (path: string): { major: number; minor: number } => {
    const n = numbers.get(path);
    if (n === undefined) throw invalid(`block device ${path}: not looked up`);
    return { major: n.major, minor: n.minor };
  };
  const out: LinuxBlockIO = { ...(base ?? {}) };
  if (limits.weightDevice && limits.weightDevice.length > 0) out.weightDevice = limits.weightDevice.map((d) => ({ ...at(d.path), weight: d.weight }));
  for (const [, key, oci] of THROTTLES) {
    const list = limits[key];
    if (list && list.length > 0) out[oci] = list.map((d): LinuxThrottleDevice => ({ ...at(d.path), rate: d.rate }));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Docker's `linuxMinMemory` (6 MiB). */
export const MIN_MEMORY = 6291456;
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262144;
/** The CFS period used for NanoCpus (100 ms in µs), as Docker. */
export const NANO_CPU_PERIOD = 100000;

/**
 * The pids limit that applies. PidsLimit `null`/absent/0 means "not set" (the docker CLI
 * sends 0 when `--pids-limit` is not given), so the daemon default applies; a negative
 * value (the CLI's `-1`) means unlimited; a positive value is the limit. This differs
 * from Docker, where 0 means unlimited, because moat has a default limit to fall back on
 * and the CLI cannot tell "unset" from 0. Returns `null` for unlimited.
 */
export function effectivePidsLimit(pidsLimit: number | null | undefined, options: { defaultPidsLimit: number }): number | null {
  if (pidsLimit === null || pidsLimit === undefined || pidsLimit === 0) {
    return options.defaultPidsLimit > 0 ? options.defaultPidsLimit : null;
  }
  if (!Number.isSafeInteger(pidsLimit)) throw invalid(`invalid PidsLimit: ${String(pidsLimit)}`);
  return pidsLimit < 0 ? null : pidsLimit;
}

/**
 * Parses a cpuset list (`0-3,5`) like moby's `parsers.ParseUintList`; returns the set.
 * Throws a plain Error with Docker's inner text; callers wrap it.
 */
export function parseCpusetList(val: string): Set<number> {
  const out = new Set<number>();
  if (val === '') return out;
  for (const part of val.split(',')) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (m === null) throw new Error(`invalid format: ${val}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`invalid format: ${val}`);
    if (hi - lo > 65536) throw new Error(`invalid format: ${val}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

function checkCpuset(value: string, what: 'cpus' | 'mems', available: string | undefined): void {
  let want: Set<number>;
  try {
    want = parseCpusetList(value);
  } catch (err) {
    throw invalid(`Invalid value ${value} for cpuset ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (available === undefined) return;
  const have = parseCpusetList(available);
  if ([...want].some((n) => !have.has(n))) {
    const noun = what === 'cpus' ? 'CPUs' : 'memory nodes';
    throw invalid(`Requested ${noun} are not available - requested ${value}, available: ${available}`);
  }
}

const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : 0);

/**
 * HostConfig resource fields → OCI `linux.resources` plus Docker's warnings. Validation
 * errors are 400s worded as dockerd words them. Always emits `pids` (moat's default limit)
 * and `devices` (defaults + --device + --device-cgroup-rule; privileged → `a *:* rwm`).
 */
export function planResources(hc: HostResources, options: ResourceOptions): PlannedResources {
  const warnings: string[] = [];
  const resources: LinuxResources = {};

  // memory
  const memory = num(hc.Memory);
  let swap = num(hc.MemorySwap);
  const reservation = num(hc.MemoryReservation);
  for (const [k, v] of [['Memory', memory], ['MemorySwap', swap], ['MemoryReservation', reservation]] as const) {
    if (!Number.isSafeInteger(v)) throw invalid(`invalid ${k}: ${String(v)}`);
  }
  if (memory < 0) throw invalid('Minimum memory limit allowed is 6MB');
  if (memory !== 0 && memory < MIN_MEMORY) throw invalid('Minimum memory limit allowed is 6MB');
  if (swap < -1) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory > 0 && swap > 0 && swap < memory) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (reservation < 0 || (reservation !== 0 && reservation < MIN_MEMORY)) throw invalid('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  // By default MemorySwap is twice Memory (moby adaptContainerSettings).
  if (memory > 0 && swap === 0) swap = memory * 2;
  if (swap !== 0 && options.swapLimitSupported === false) {
    if (swap !== -1) warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    swap = 0;
  }
  const swappiness = hc.MemorySwappiness;
  const mem: LinuxMemory = {};
  if (memory !== 0) mem.limit = memory;
  if (reservation !== 0) mem.reservation = reservation;
  if (swap !== 0) mem.swap = swap;
  if (swappiness !== null && swappiness !== undefined && swappiness !== -1) {
    if (!Number.isInteger(swappiness) || swappiness < 0 || swappiness > 100) {
      throw invalid(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
    }
    mem.swappiness = swappiness;
  }
  if (hc.OomKillDisable === true) {
    mem.disableOOMKiller = true;
    if (memory === 0) {
      warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
    }
  }
  if (Object.keys(mem).length > 0) resources.memory = mem;

  // cpu
  const nano = num(hc.NanoCpus);
  let quota = num(hc.CpuQuota);
  let period = num(hc.CpuPeriod);
  let shares = num(hc.CpuShares);
  if (nano > 0 && period > 0) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || (options.numCpus !== undefined && nano > options.numCpus * 1e9)) {
    const n = options.numCpus ?? 0;
    throw invalid(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  }
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (quota > 0 && quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (nano > 0) {
    period = NANO_CPU_PERIOD;
    quota = Math.floor((nano * NANO_CPU_PERIOD) / 1e9);
    if (quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  }
  // moby's words (runconfig validateResources); dockerd 20.10 let runc fail the start instead.
  if (shares < 0) throw invalid(`invalid CPU shares (${shares}): value must be a positive integer`);
  if (shares > 0 && shares < MIN_CPU_SHARES) {
    warnings.push(`Changing requested CPUShares of ${shares} to minimum allowed of ${MIN_CPU_SHARES}`);
    shares = MIN_CPU_SHARES;
  } else if (shares > MAX_CPU_SHARES) {
    warnings.push(`Changing requested CPUShares of ${shares} to maximum allowed of ${MAX_CPU_SHARES}`);
    shares = MAX_CPU_SHARES;
  }
  const cpus = hc.CpusetCpus ?? '';
  const mems = hc.CpusetMems ?? '';
  if (cpus !== '') checkCpuset(cpus, 'cpus', options.availableCpus);
  if (mems !== '') checkCpuset(mems, 'mems', options.availableMems);
  const cpu: LinuxCPU = {};
  if (shares !== 0) cpu.shares = shares;
  if (quota !== 0) cpu.quota = quota;
  if (period !== 0) cpu.period = period;
  if (cpus !== '') cpu.cpus = cpus;
  if (mems !== '') cpu.mems = mems;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  // blkio
  const blkio = planBlockIO(hc, options.blkio ?? ALL_BLKIO, warnings);
  if (blkio.blockIO) resources.blockIO = blkio.blockIO;

  // pids
  const pids = effectivePidsLimit(hc.PidsLimit, { defaultPidsLimit: options.defaultPidsLimit });
  resources.pids = { limit: pids ?? -1 };

  // devices
  resources.devices = deviceCgroupRules({
    privileged: hc.Privileged === true,
    devices: options.devices,
    rules: hc.DeviceCgroupRules,
  });
  if (hc.Privileged === true && (hc.DeviceCgroupRules?.length ?? 0) > 0) {
    warnings.push('Custom device cgroup rules are ignored for privileged containers');
  }
  return { resources, blockDevices: blkio.limits, discarded: blkio.discarded, warnings };
}
