// `moat run` / `moat create` flags -> the Engine API create body, as the docker CLI builds
// it (docker/cli cli/command/container/opts.go). Pure.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { collect } from './common.js';
import { parseMountFlag, ramInBytes } from '../docker/index.js';

export interface RunFlags {
  name?: string;
  detach?: boolean;
  rm?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  label: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string;
  hostname?: string;
  capAdd: string[];
  capDrop: string[];
  privileged?: boolean;
  pidsLimit?: string;
  securityOpt: string[];
  readOnly?: boolean;
  network?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  ulimit: string[];
  sysctl: string[];
  tmpfs: string[];
  device: string[];
  deviceReadBps: string[];
  deviceWriteBps: string[];
  deviceReadIops: string[];
  deviceWriteIops: string[];
  volume: string[];
  mount: string[];
  volumesFrom: string[];
  groupAdd: string[];
  shmSize?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns?: string;
  cgroupns?: string;
  cgroupParent?: string;
  stopSignal?: string;
  stopTimeout?: string;
  oomKillDisable?: boolean;
}

/** The flags `moat run` and `moat create` share, as commander options. */
export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'container name')
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('-e, --env <var>', 'environment variable', collect, [])
    .option('-l, --label <label>', 'label', collect, [])
    .option('-u, --user <user>', 'user name|uid[:group|gid]')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('-h, --hostname <name>', 'container hostname')
    .option('--cap-add <cap>', 'add a capability', collect, [])
    .option('--cap-drop <cap>', 'drop a capability', collect, [])
    .option('--privileged', 'all capabilities of the daemon, all devices, no seccomp')
    .option('--pids-limit <n>', 'pids limit (-1 unlimited)')
    .option('--security-opt <opt>', 'security option', collect, [])
    .option('--read-only', 'read-only root filesystem')
    .option('--network <mode>', 'network mode: none, host, container:X')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'memory + swap limit (-1 unlimited)')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <n>', 'CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares')
    .option('--cpuset-cpus <list>', 'CPUs allowed')
    .option('--ulimit <ulimit>', 'ulimit name=soft[:hard]', collect, [])
    .option('--sysctl <kv>', 'namespaced sysctl', collect, [])
    .option('--tmpfs <mount>', 'tmpfs mount path[:options]', collect, [])
    .option('--device <dev>', 'host device', collect, [])
    .option('--device-read-bps <dev:rate>', 'limit reads from a block device, bytes per second (/dev/vda:1mb)', collect, [])
    .option('--device-write-bps <dev:rate>', 'limit writes to a block device, bytes per second', collect, [])
    .option('--device-read-iops <dev:n>', 'limit reads from a block device, operations per second', collect, [])
    .option('--device-write-iops <dev:n>', 'limit writes to a block device, operations per second', collect, [])
    .option('-v, --volume <bind>', 'bind mount or named volume', collect, [])
    .option('--mount <spec>', 'mount', collect, [])
    .option('--volumes-from <container>', 'the binds and volumes of a container, container[:ro|rw]', collect, [])
    .option('--group-add <group>', 'additional group', collect, [])
    .option('--shm-size <bytes>', 'size of /dev/shm')
    .option('--pid <mode>', 'pid namespace')
    .option('--ipc <mode>', 'ipc namespace')
    .option('--uts <mode>', 'uts namespace')
    .option('--userns <mode>', 'user namespace')
    .option('--cgroupns <mode>', 'cgroup namespace')
    .option('--cgroup-parent <path>', 'parent cgroup, nested under moat\'s own')
    .option('--stop-signal <sig>', 'stop signal')
    .option('--stop-timeout <s>', 'stop timeout')
    .option('--oom-kill-disable', 'disable the OOM killer');
}

/** commander's parsed options as RunFlags. */
export function flagsOf(o: Record<string, unknown>): RunFlags {
  return o as unknown as RunFlags;
}

/** `64m`, `1g`, `1024` -> bytes (docker's RAMInBytes). */
export const parseBytes = ramInBytes;

/**
 * `--device-read-bps /dev/vda:1mb` (bytes) or `--device-read-iops /dev/vda:100` (a count) ->
 * a throttle entry, with the docker CLI's checks and words (opts/throttledevice.go).
 *
 * @example
 * parseThrottle('/dev/vda:1mb', 'bytes') // { Path: '/dev/vda', Rate: 1048576 }
 */
export function parseThrottle(val: string, unit: 'bytes' | 'count'): { Path: string; Rate: number } {
  const parts = val.split(':');
  if (parts.length !== 2) throw new Error(`bad format: ${val}`);
  const [path = '', rate = ''] = parts;
  if (!path.startsWith('/dev/')) throw new Error(`bad format for device path: ${val}`);
  let n: number;
  try {
    n = unit === 'bytes' ? ramInBytes(rate) : /^\d+$/.test(rate) ? Number(rate) : NaN;
  } catch {
    n = NaN;
  }
  if (!Number.isSafeInteger(n)) {
    throw new Error(unit === 'bytes'
      ? `invalid rate for device: ${val}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`
      : `invalid rate for device: ${val}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  }
  return { Path: path, Rate: n };
}

function normalizeCap(c: string): string {
  const u = c.toUpperCase();
  return u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`;
}

export function buildCreateBody(image: string, cmd: string[], f: RunFlags): Record<string, unknown> {
  const attach = !f.detach;
  const securityOpt: string[] = [];
  let masked: string[] | undefined;
  for (const opt of f.securityOpt) {
    const m = /^seccomp[=:](.+)$/.exec(opt);
    if (opt === 'systempaths=unconfined') {
      masked = [];
      continue;
    }
    if (m && m[1] !== 'unconfined' && m[1] !== 'builtin') {
      // The docker CLI sends the profile's content, not its path.
      const text = readFileSync(m[1]!, 'utf8');
      securityOpt.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
    } else securityOpt.push(opt);
  }
  const tmpfs: Record<string, string> = {};
  for (const t of f.tmpfs) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  const sysctls: Record<string, string> = {};
  for (const s of f.sysctl) {
    const i = s.indexOf('=');
    if (i < 0) throw new Error(`invalid sysctl value '${s}'`);
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  const labels: Record<string, string> = {};
  for (const l of f.label) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  const ulimits = f.ulimit.map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m) throw new Error(`invalid ulimit argument: ${u}`);
    return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
  });
  const devices = f.device.map((d) => {
    const [host = '', ctr, perms] = d.split(':');
    return { PathOnHost: host, PathInContainer: ctr ?? host, CgroupPermissions: perms ?? 'rwm' };
  });
  const hostConfig: Record<string, unknown> = {
    AutoRemove: f.rm === true,
    Privileged: f.privileged === true,
    CapAdd: f.capAdd.length > 0 ? [...new Set(f.capAdd.map(normalizeCap))].sort() : null,
    CapDrop: f.capDrop.length > 0 ? [...new Set(f.capDrop.map(normalizeCap))].sort() : null,
    SecurityOpt: securityOpt.length > 0 ? securityOpt : null,
    ReadonlyRootfs: f.readOnly === true,
    NetworkMode: f.network ?? 'default',
    PidsLimit: f.pidsLimit !== undefined ? Number(f.pidsLimit) : 0,
    Memory: f.memory ? parseBytes(f.memory) : 0,
    MemorySwap: f.memorySwap ? (f.memorySwap === '-1' ? -1 : parseBytes(f.memorySwap)) : 0,
    MemoryReservation: f.memoryReservation ? parseBytes(f.memoryReservation) : 0,
    NanoCpus: f.cpus ? Math.round(Number(f.cpus) * 1e9) : 0,
    CpuShares: f.cpuShares ? Number(f.cpuShares) : 0,
    CpusetCpus: f.cpusetCpus ?? '',
    OomKillDisable: f.oomKillDisable === true,
    Ulimits: ulimits,
    Devices: devices,
    BlkioDeviceReadBps: f.deviceReadBps.map((v) => parseThrottle(v, 'bytes')),
    BlkioDeviceWriteBps: f.deviceWriteBps.map((v) => parseThrottle(v, 'bytes')),
    BlkioDeviceReadIOps: f.deviceReadIops.map((v) => parseThrottle(v, 'count')),
    BlkioDeviceWriteIOps: f.deviceWriteIops.map((v) => parseThrottle(v, 'count')),
    Binds: f.volume.length > 0 ? f.volume : null,
    VolumesFrom: f.volumesFrom.length > 0 ? f.volumesFrom : null,
    GroupAdd: f.groupAdd.length > 0 ? f.groupAdd : null,
    ShmSize: f.shmSize ? parseBytes(f.shmSize) : 0,
    PidMode: f.pid ?? '',
    IpcMode: f.ipc ?? '',
    UTSMode: f.uts ?? '',
    UsernsMode: f.userns ?? '',
    CgroupnsMode: f.cgroupns ?? '',
    ...(f.cgroupParent ? { CgroupParent: f.cgroupParent } : {}),
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    LogConfig: { Type: '', Config: {} },
    ...(f.mount.length > 0 ? { Mounts: f.mount.map(parseMountFlag) } : {}),
    ...(Object.keys(tmpfs).length > 0 ? { Tmpfs: tmpfs } : {}),
    ...(Object.keys(sysctls).length > 0 ? { Sysctls: sysctls } : {}),
    ...(masked ? { MaskedPaths: masked, ReadonlyPaths: [] } : {}),
    ...(f.tty && process.stdout.isTTY ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {}),
  };
  return {
    Hostname: f.hostname ?? '',
    User: f.user ?? '',
    AttachStdin: attach && f.interactive === true,
    AttachStdout: attach,
    AttachStderr: attach,
    Tty: f.tty === true,
    OpenStdin: f.interactive === true,
    StdinOnce: attach && f.interactive === true,
    Env: f.env.length > 0 ? f.env : null,
    Cmd: cmd.length > 0 ? cmd : null,
    Image: image,
    WorkingDir: f.workdir ?? '',
    Entrypoint: f.entrypoint !== undefined ? (f.entrypoint === '' ? [''] : [f.entrypoint]) : null,
    Labels: labels,
    ...(f.stopSignal ? { StopSignal: f.stopSignal } : {}),
    ...(f.stopTimeout ? { StopTimeout: Number(f.stopTimeout) } : {}),
    HostConfig: hostConfig,
  };
}
