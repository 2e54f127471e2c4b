// The engines `make bench` puts side by side, each on temporary roots of its own:
// dockerd 20.10 (Debian docker.io) and moatd driven by the same docker CLI, Podman 4.3
// (Debian's) through its own CLI, and the raw `runc run` of a bundle like moat's (the floor).
// Nothing here touches the machine's own dockerd, moatd or Podman state; `stop()` removes
// every process, mount, cgroup and runc state the engine made.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { silentLogger } from '../../src/base/index.js';
import { NetworkDriver } from '../../src/network/index.js';
import { REPO, killMentioning, ping, procs, removeCgroupsNamed, sleep, timed, type CliResult } from './host.js';

export const IMAGE = 'busybox-bench:latest';

export interface Engine {
  /** Key in the JSON and the table: dockerd, moatd, podman, or moatd:<variant>. */
  key: string;
  /** What it is, for the report. */
  describe: string;
  /** The CLI binary and the environment it runs with. */
  bin: string;
  env: NodeJS.ProcessEnv;
  /** Global flags before the verb (podman's temporary roots). */
  globalFlags: string[];
  /** Extra flags for `run` (podman: no network, the bench's cgroup parent). */
  runFlags: string[];
  /** Pids whose RSS is the engine's idle cost (daemon and what it keeps running). */
  daemonPids(): number[];
  /** Per-container helper processes (containerd-shim or conmon). */
  helperPids(): number[];
  /** Helpers shared by all containers (moat's seccomp listener pair). */
  sharedHelperPids(): number[];
  /** moatd: its log, with the debug `phases` lines. */
  log?: string;
  /** moatd: where its container bundles are. */
  containersDir?: string;
  stop(): Promise<void>;
}

export function cli(e: Engine, args: string[]): Promise<CliResult> {
  return timed(e.bin, [...e.globalFlags, ...args], e.env);
}

export async function must(e: Engine, args: string[]): Promise<CliResult> {
  const r = await cli(e, args);
  if (r.code !== 0) throw new Error(`${e.key}: ${[e.bin, ...args].join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

export function findDocker(): string {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) {
    if (!existsSync(p)) continue;
    const v = execFileSync(p, ['--version'], { encoding: 'utf8' });
    if (/version (2[5-9]|[3-9]\d)\./.test(v)) return p;
  }
  throw new Error('bench: needs the docker CLI >= 25 (/usr/local/bin/docker)');
}

async function waitReady(socket: string, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited during start:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    if (existsSync(socket) && (await ping(socket))) return;
    await sleep(100);
  }
  throw new Error(`daemon did not answer within 60 s:\n${readFileSync(log, 'utf8').slice(-3000)}`);
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

const tag = (): string => randomBytes(3).toString('hex');

/**
 * dockerd with overlay2, Docker's default driver and the same overlayfs moat and Podman use
 * (vfs would copy the rootfs per container and make dockerd look slower than it is). No
 * bridge, no iptables: nothing outside its temporary roots.
 */
export async function startDockerd(root: string, docker: string, network?: { bridge: string }): Promise<Engine> {
  const dir = join(root, network ? 'dockerd-bridge' : 'dockerd');
  const data = join(dir, 'data');
  const exec = join(dir, 'exec');
  const socket = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  mkdirSync(data, { recursive: true });
  mkdirSync(exec, { recursive: true });
  mkdirSync(join(dir, 'cli'), { recursive: true });
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const cgroupParent = `moat-bench-dockerd-${tag()}`;
  const fd = openSync(log, 'a');
  const child = spawn(
    '/usr/sbin/dockerd',
    ['--storage-driver', 'overlay2', ...(network ? [`--bridge=${network.bridge}`, '--ip6tables=false'] : ['--iptables=false', '--ip6tables=false', '--bridge=none']), '--data-root', data, '--exec-root', exec, '--pidfile', join(dir, 'dockerd.pid'), '--host', `unix://${socket}`, '--cgroup-parent', cgroupParent, '--config-file', join(dir, 'daemon.json')],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  await waitReady(socket, child, log);
  const under = (p: { cmdline: string }): boolean => p.cmdline.includes(`${dir}/`);
  return {
    key: 'dockerd',
    describe: `dockerd ${firstWord(execFileSync('/usr/sbin/dockerd', ['--version'], { encoding: 'utf8' }))} (overlay2, containerd, runc), docker CLI`,
    bin: docker,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') },
    globalFlags: [],
    runFlags: [],
    daemonPids: () => [child.pid!, ...procs().filter((p) => p.comm === 'containerd' && (p.ppid === child.pid || under(p))).map((p) => p.pid)],
    helperPids: () => procs().filter((p) => p.comm.startsWith('containerd-shim') && under(p)).map((p) => p.pid),
    sharedHelperPids: () => [],
    stop: async () => {
      await stopChild(child, 20_000);
      killMentioning(`${dir}/`);
      removeCgroupsNamed(cgroupParent);
    },
  };
}

function firstWord(versionLine: string): string {
  return /version ([^\s,+]+)/.exec(versionLine)?.[1] ?? versionLine.trim();
}

export interface MoatdVariant {
  /** Suffix of the key (moatd:<name>); empty for the moatd under test. */
  name: string;
  /** Another build's bin/moatd (a throwaway experiment); default this repo's. */
  bin?: string;
  /** Extra daemon flags (e.g. --no-seccomp-explain). */
  args?: string[];
  /** Containers on moat's default bridge (else `--network none`, like dockerd's `--bridge=none`). */
  bridge?: boolean;
}

/** moatd at debug level: its `started`/`exited` lines carry the phases of each start and exit. */
export async function startMoatd(root: string, docker: string, variant: MoatdVariant = { name: '' }): Promise<Engine> {
  const key = variant.name === '' ? 'moatd' : `moatd:${variant.name}`;
  const dir = join(root, key.replace(':', '-'));
  const data = join(dir, 'data');
  const exec = join(dir, 'exec');
  const socket = join(exec, 'moat.sock');
  const log = join(dir, 'moatd.log');
  mkdirSync(join(dir, 'cli'), { recursive: true });
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const cgroupParent = `moat-bench-${tag()}`;
  const bin = variant.bin ?? join(REPO, 'bin/moatd');
  const fd = openSync(log, 'a');
  // A default bridge of its own (name and subnet), never the machine's moat0.
  const bridge = `mtbn${tag()}`;
  const bip = `10.${232 + (randomBytes(1)[0]! % 8)}.${randomBytes(1)[0]!}.1/24`;
  const bridgeArgs = ['--bridge', bridge, '--bip', bip];
  const child = spawn(bin, ['--data-root', data, '--exec-root', exec, '--cgroup-parent', cgroupParent, '--config-file', join(dir, 'daemon.json'), '--block-registry', 'docker.io', '--log-level', 'debug', ...bridgeArgs, ...(variant.args ?? [])], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  await waitReady(socket, child, log);
  const under = (p: { cmdline: string }): boolean => p.cmdline.includes(`${dir}/`);
  const listenerPids = (): number[] => procs().filter((p) => p.cmdline.includes('moat-seccomp-listener') && under(p)).map((p) => p.pid);
  return {
    key,
    describe: `moatd${variant.bin ? ` (${variant.bin})` : ''}${variant.args?.length ? ` ${variant.args.join(' ')}` : ''} (overlayfs, conmon, runc), docker CLI`,
    bin: docker,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') },
    globalFlags: [],
    runFlags: variant.bridge === true ? [] : ['--network', 'none'],
    // moatd, plus its seccomp denial listener and the listener's standby while they run
    // (they start with the first container that needs them and exit once none does).
    daemonPids: () => [child.pid!, ...listenerPids()],
    helperPids: () => procs().filter((p) => p.comm === 'conmon' && under(p)).map((p) => p.pid),
    sharedHelperPids: () => listenerPids(),
    log,
    containersDir: join(data, 'containers'),
    stop: async () => {
      await stopChild(child, 20_000);
      // What its networks left (the default bridge's guard rules, endpoints of containers still up).
      if (existsSync(join(data, 'network'))) {
        const net = await NetworkDriver.open({ dataRoot: data, execRoot: exec, log: silentLogger(), defaultBridge: { name: bridge, bip, icc: false }, defaultHostIp: '127.0.0.1' });
        await net.removeAll();
      }
      killMentioning(`${dir}/`);
      deleteRuncStates(join(exec, 'runc'));
      removeCgroupsNamed(cgroupParent);
    },
  };
}

function deleteRuncStates(runcRoot: string, only?: (id: string) => boolean): void {
  if (!existsSync(runcRoot)) return;
  for (const id of readdirSync(runcRoot)) {
    if (only && !only(id)) continue;
    try {
      execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
}

/** Paths Podman 4.3 creates outside its configured roots (a blob-info cache on import, netavark's run dir). */
const PODMAN_GLOBAL_DIRS = ['/var/lib/containers', '/run/containers'];

/**
 * Podman with its own CLI, runc and cgroupfs, on temporary roots. containers.conf and
 * storage.conf are temporary files (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF; podman hands
 * CONTAINERS_CONF to the `podman container cleanup` that conmon runs at exit). File locks
 * under the temporary tmp_dir replace the default SHM locks, which live in the machine-wide
 * /dev/shm/libpod_lock. runc keeps its state in its default root, /run/runc: podman 4.3 does
 * not pass --runtime-flag to its cleanup process, so any other root leaks runc state.
 */
export async function startPodman(root: string): Promise<Engine> {
  const dir = join(root, 'podman');
  const conf = join(dir, 'containers.conf');
  mkdirSync(join(dir, 'networks'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const preexisting = PODMAN_GLOBAL_DIRS.filter((p) => existsSync(p));
  // This VM forbids raising hard limits; podman's defaults as root (nofile and nproc
  // 1048576) would fail every start, so containers get the limits this process has.
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => Number(new RegExp(`^${name}\\s+\\S+\\s+(\\d+)`, 'm').exec(limits)?.[1] ?? 1024);
  const nofile = hard('Max open files');
  const nproc = Math.min(32768, hard('Max processes')); // podman lowers its own nproc to 32768
  writeFileSync(
    conf,
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[network]',
      'network_backend = "netavark"',
      `network_config_dir = "${join(dir, 'networks')}"`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'runtime = "runc"',
      'lock_type = "file"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      'conmon_path = ["/usr/bin/conmon"]',
      '[engine.runtimes]',
      'runc = ["/usr/sbin/runc"]',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'storage.conf'), ['[storage]', 'driver = "overlay"', `graphroot = "${join(dir, 'root')}"`, `runroot = "${join(dir, 'runroot')}"`, ''].join('\n'));
  writeFileSync(join(dir, 'registries.conf'), '');
  const cgroupParent = `moat-bench-podman-${tag()}`;
  const env = { ...process.env, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf') };
  const globalFlags = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'overlay'];
  const under = (p: { cmdline: string }): boolean => p.cmdline.includes(`${dir}/`);
  const ourIds = new Set<string>();
  const e: Engine = {
    key: 'podman',
    describe: `podman ${firstWord(execFileSync('/usr/bin/podman', ['--version'], { encoding: 'utf8' }))} (overlay, conmon, runc, cgroupfs, --network none), its own CLI`,
    bin: '/usr/bin/podman',
    env,
    globalFlags,
    runFlags: ['--network', 'none', '--cgroup-parent', `/${cgroupParent}`],
    daemonPids: () => [],
    helperPids: () => procs().filter((p) => p.comm === 'conmon' && under(p)).map((p) => p.pid),
    sharedHelperPids: () => [],
    stop: async () => {
      const ps = await cli(e, ['ps', '-aq', '--no-trunc']);
      for (const id of ps.stdout.split('\n').filter((x) => x !== '')) ourIds.add(id);
      await cli(e, ['rm', '-fa']);
      killMentioning(`${dir}/`);
      deleteRuncStates('/run/runc', (id) => ourIds.has(id));
      removeCgroupsNamed(cgroupParent);
      for (const p of PODMAN_GLOBAL_DIRS) if (!preexisting.includes(p)) removeOwnPodmanDir(p);
    },
  };
  return e;
}

/** Removes what podman made in a global dir the bench found absent: only known names, only if nothing else is there. */
function removeOwnPodmanDir(top: string): void {
  const known = new Set(['cache', 'blob-info-cache-v1.boltdb', 'networks']);
  const walk = (d: string): boolean => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!known.has(e.name)) return false;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!walk(p)) return false;
        rmdirSync(p);
      } else rmSync(p);
    }
    return true;
  };
  try {
    if (existsSync(top) && walk(top)) rmdirSync(top);
  } catch {
    // left for the operator
  }
}

export interface RuncFloor {
  key: 'runc';
  describe: string;
  /** One `runc run` of the bundle, in the foreground; wall time in ms. */
  runOnce(): Promise<CliResult>;
  stop(): Promise<void>;
}

/**
 * The floor: `runc run` of a bundle made from the config.json moatd generated for a
 * busybox container (same namespaces, mounts, capabilities, masked paths, seccomp filter),
 * on a plain directory rootfs, with the notify rules turned into the errno the listener
 * would answer and no listener socket. runc creates, starts, waits and deletes in one
 * process: no engine, no CLI.
 */
export function makeRuncFloor(root: string, rootfsDir: string, moatSpec: Record<string, unknown> | undefined): RuncFloor {
  const dir = join(root, 'runc');
  const bundle = join(dir, 'bundle');
  const state = join(dir, 'state');
  mkdirSync(bundle, { recursive: true });
  mkdirSync(state, { recursive: true });
  const cgroupParent = `moat-bench-runc-${tag()}`;
  let spec: Record<string, unknown>;
  let from: string;
  if (moatSpec) {
    spec = structuredClone(moatSpec);
    from = "moatd's config.json for the same image";
  } else {
    execFileSync('runc', ['spec', '--bundle', bundle]);
    spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
    from = '`runc spec` (moatd gave no config.json)';
  }
  const s = spec as {
    root: { path: string; readonly?: boolean };
    process: { args: string[]; terminal?: boolean };
    mounts?: Array<{ destination: string; source?: string; type?: string }>;
    linux: { cgroupsPath?: string; seccomp?: { listenerPath?: string; syscalls?: Array<{ action: string; errnoRet?: number }> } };
    hostname?: string;
  };
  s.root = { path: rootfsDir, readonly: false };
  s.process.args = ['true'];
  s.process.terminal = false;
  for (const m of s.mounts ?? []) {
    // /etc/hostname, /etc/hosts, /etc/resolv.conf: files of the engine's bundle; the floor has its own.
    if (m.type === 'bind' && m.source && m.destination.startsWith('/etc/')) {
      const own = join(bundle, m.destination.slice(5));
      if (existsSync(m.source)) copyFileSync(m.source, own);
      else writeFileSync(own, '');
      m.source = own;
    }
  }
  if (s.linux.seccomp) {
    delete s.linux.seccomp.listenerPath;
    for (const r of s.linux.seccomp.syscalls ?? []) {
      if (r.action === 'SCMP_ACT_NOTIFY') {
        r.action = 'SCMP_ACT_ERRNO';
        r.errnoRet ??= 1;
      }
    }
  }
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  let n = 0;
  return {
    key: 'runc',
    describe: `runc ${firstWord(execFileSync('runc', ['--version'], { encoding: 'utf8' }))} run, bundle from ${from}`,
    runOnce: async () => {
      const id = `bench-${process.pid}-${n++}`;
      // The cgroup path is the only per-run field; the run's config.json is written before the clock starts.
      const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as typeof s;
      cfg.linux.cgroupsPath = `${cgroupParent}/${id}`;
      const runBundle = join(dir, id);
      mkdirSync(runBundle);
      writeFileSync(join(runBundle, 'config.json'), JSON.stringify(cfg));
      const r = await timed('runc', ['--root', state, 'run', '--bundle', runBundle, id], process.env);
      rmSync(runBundle, { recursive: true, force: true });
      return r;
    },
    stop: async () => {
      killMentioning(state);
      deleteRuncStates(state);
      removeCgroupsNamed(cgroupParent);
    },
  };
}
