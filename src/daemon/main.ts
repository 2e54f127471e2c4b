// moatd: the composition root. Reads flags and daemon.json, builds the stores, the
// engine and the API server, listens, and handles signals. Containers outlive it.
import { Command, Option } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile, readFile, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, errorText, newId, readTextIfExists, type Logger, type LogLevel } from '../base/index.js';
import { capsFromMask, normalizeCapName, MOAT_DEFAULT_CAPS, type CapName } from '../caps/index.js';
import { Engine, EventBus, SeccompPolicy, hostSystem, parseDaemonSeccompProfile, parseDaemonLogConfig, readBlkioSupport, type DaemonDefaults } from '../engine/index.js';
import { RuncRuntime } from '../runtime/index.js';
import { hostArch } from '../seccomp/index.js';
import { kernelRunsX32, spreadSubdirectories } from '../sys/index.js';
import { DEFAULT_SHM_SIZE, parseUlimit } from '../spec/index.js';
import { ensureRemapRanges } from '../userns/index.js';
import { NotifyExplainer, denialEvent } from '../notify/index.js';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { ImageService, ImageStore, ensureBuiltinImage } from '../image/index.js';
import { buildRouter, describeHostPaths, goArch } from '../api/index.js';
import { NetworkDriver, checkDnsServers, parseAddressPool } from '../network/index.js';
import { NetavarkNetworking } from './networking.js';

import { DEFAULTS, applyConfigFile, certsDir, defaultHosts, type DaemonConfig, checkSeccompListenerIdle } from './config.js';
import { engineInspector, setupAuthz } from './authz.js';
import { checkHosts, openListeners } from './listeners.js';
import { installSafetyNet } from './safety-net.js';
import { startIdleTrim } from './idle-trim.js';

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

/** dockerd's boolean flags: `--icc` is true, `--icc=false` false. */
function boolFlag(value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`invalid boolean value ${JSON.stringify(value)}`);
}

/** The network settings netavark cannot honour stop moatd with the setting's name. */
function checkNetworkConfig(cfg: DaemonConfig): void {
  if (!cfg.iptables) throw new Error('--iptables=false is not supported: netavark always manages the firewall rules of moat networks');
  if (!cfg.ipForward) throw new Error('--ip-forward=false is not supported: netavark turns IPv4 forwarding on for bridge networks');
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(cfg.bridge)) throw new Error(`invalid --bridge: ${cfg.bridge}: at most 15 letters, digits, '_', '.' or '-'`);
  // dockerd refuses -b with --bip; here only `none` conflicts: the other names are moat's own bridge.
  if (cfg.bridge === 'none' && (cfg.bip !== '' || cfg.fixedCidr !== '')) throw new Error(`--bridge none has no default bridge for ${cfg.bip !== '' ? '--bip' : '--fixed-cidr'} to configure`);
  if (!Number.isInteger(cfg.mtu) || cfg.mtu < 0 || (cfg.mtu !== 0 && (cfg.mtu < 576 || cfg.mtu > 65535))) throw new Error(`invalid --mtu: ${cfg.mtu}`);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(cfg.ip)) throw new Error(`invalid --ip: ${cfg.ip}: an IPv4 address`);
  for (const p of cfg.defaultAddressPools) parseAddressPool(p);
  checkDnsServers(cfg.dns);
}

function parseFlags(argv: string[]): DaemonConfig {
  const program = new Command('moatd')
    .description('moat daemon: a security-first container engine that speaks the Docker Engine API')
    .version('0.1.0')
    .option('-H, --host <addr>', 'daemon socket to listen on (unix:///path or tcp://host:port), repeatable', collect, [])
    .option('--data-root <dir>', 'root of persistent state', DEFAULTS.dataRoot)
    .option('--exec-root <dir>', 'root of runtime state (runc state, exit files, sockets)', DEFAULTS.execRoot)
    .option('-p, --pidfile <file>', 'path of the daemon pid file (default <exec-root>/moatd.pid)')
    .addOption(new Option('-l, --log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default(DEFAULTS.logLevel))
    .option('--config-file <file>', 'daemon configuration file', DEFAULTS.configFile)
    .option('--default-pids-limit <n>', 'pids limit for containers that set none (0 or -1: unlimited)', (v) => Number(v), DEFAULTS.defaultPidsLimit)
    .option('--default-capabilities <caps>', 'comma-separated default capability set (e.g. Docker\'s 14)')
    .option('--no-new-privileges', 'set no_new_privs for every container')
    .option('--seccomp-profile <profile>', 'default seccomp profile: builtin, unconfined, or a file', DEFAULTS.seccompProfile)
    .option('--no-seccomp-explain', 'plain errno rules instead of explained (notify) denials')
    .option('--seccomp-listener-idle <ms>', 'how long the seccomp listener pair stays while no container uses it (-1: never exits)', (v) => Number(v), DEFAULTS.seccompListenerIdleMs)
    .option('--runc <path>', 'runc binary (default: /usr/sbin/runc, else /usr/bin/runc)')
    .option('--default-ulimit <ulimit>', 'default ulimit for containers (name=soft[:hard]), repeatable', collect, [])
    .option('--userns-remap <spec>', 'user namespace remapping: default, user, user:group, uid:gid')
    .option('--authorization-plugin <name>', 'authorization plugin, repeatable, in order', collect, [])
    .option('--authorization-policy <file>', 'built-in authorization policy file')
    .option('--tlsverify', 'require and verify TLS client certificates on TCP')
    .option('--tlscacert <file>', 'CA certificate for client certificates')
    .option('--tlscert <file>', 'server certificate')
    .option('--tlskey <file>', 'server key')
    .option('--cgroup-parent <name>', 'cgroup (relative to moatd\'s own) that holds the containers', DEFAULTS.cgroupParent)
    .option('--log-driver <driver>', 'default log driver for containers: json-file, local or none', DEFAULTS.logDriver)
    .option('--log-opt <opt>', 'default log option for containers (max-size=20m, max-file=5), repeatable', collect, [])
    .option('--insecure-registry <host>', 'registry reached over plain HTTP or without certificate checks (host[:port] or CIDR), repeatable', collect, [])
    .option('--registry-mirror <url>', 'Docker Hub mirror, repeatable', collect, [])
    .option('--block-registry <host>', 'registry never contacted (docker.io for Docker Hub), repeatable', collect, [])
    .option('--init', 'run an init (tini) as PID 1 in containers that do not say otherwise')
    .option('--init-path <path>', 'the init binary mounted read-only at /sbin/docker-init', DEFAULTS.initPath)
    .option('--image-policy <file>', 'image trust policy (registries, digest pins, signatures); see docs/images.md')
    .option('-b, --bridge <name>', "host interface of the default bridge network ('none': no default bridge)", DEFAULTS.bridge)
    .option('--bip <cidr>', 'default bridge address and prefix (e.g. 10.88.0.1/24)')
    .option('--fixed-cidr <cidr>', 'default bridge allocation range (inside --bip)')
    .option('--default-address-pool <pool>', 'pool for network subnets, base=CIDR,size=N, repeatable', collect, [])
    .option('--icc [bool]', 'containers on the default bridge may talk to each other (default false)', boolFlag)
    .option('--iptables [bool]', 'firewall rules for networks (always on; false is refused)', boolFlag)
    .option('--ip-forward [bool]', 'IPv4 forwarding (always on; false is refused)', boolFlag)
    .option('--ip <address>', 'address published ports bind to when none is named', DEFAULTS.ip)
    .option('--dns <server>', 'default nameserver for containers, repeatable', collect, [])
    .option('--mtu <bytes>', 'MTU of the default bridge', (v) => Number(v))
    .allowExcessArguments(false);
  program.parse(argv, { from: 'user' });
  const o = program.opts<Record<string, unknown>>();
  const fromCli = (k: string): boolean => program.getOptionValueSource(k) === 'cli';
  let cfg: DaemonConfig = { ...DEFAULTS, configFile: String(o['configFile']) };
  if (existsSync(cfg.configFile)) {
    const text = readFileSync(cfg.configFile, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`Cannot read ${cfg.configFile}: ${(err as Error).message}`);
    }
    cfg = applyConfigFile(cfg, parsed, cfg.configFile);
  } else if (fromCli('configFile')) {
    throw new Error(`Cannot read ${cfg.configFile}: no such file`);
  }
  if ((o['host'] as string[]).length > 0) cfg.hosts = o['host'] as string[];
  if (fromCli('dataRoot')) cfg.dataRoot = String(o['dataRoot']);
  if (fromCli('execRoot')) cfg.execRoot = String(o['execRoot']);
  if (o['pidfile']) cfg.pidfile = String(o['pidfile']);
  if (fromCli('logLevel')) cfg.logLevel = o['logLevel'] as LogLevel;
  if (fromCli('defaultPidsLimit')) cfg.defaultPidsLimit = Number(o['defaultPidsLimit']);
  if (o['defaultCapabilities']) cfg.defaultCapabilities = String(o['defaultCapabilities']).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (o['newPrivileges'] === false) cfg.noNewPrivileges = true;
  if (fromCli('seccompProfile')) cfg.seccompProfile = String(o['seccompProfile']);
  if (o['seccompExplain'] === false) cfg.seccompExplain = false;
  if (fromCli('seccompListenerIdle')) cfg.seccompListenerIdleMs = Number(o['seccompListenerIdle']);
  if (o['runc']) cfg.runc = String(o['runc']);
  if ((o['defaultUlimit'] as string[]).length > 0) cfg.defaultUlimits = o['defaultUlimit'] as string[];
  if (o['usernsRemap']) cfg.usernsRemap = String(o['usernsRemap']);
  if ((o['authorizationPlugin'] as string[]).length > 0) cfg.authorizationPlugins = o['authorizationPlugin'] as string[];
  if (o['authorizationPolicy']) cfg.authorizationPolicy = String(o['authorizationPolicy']);
  if (o['tlsverify'] === true) cfg.tlsverify = true;
  for (const k of ['tlscacert', 'tlscert', 'tlskey'] as const) if (o[k]) cfg[k] = String(o[k]);
  if (fromCli('cgroupParent')) cfg.cgroupParent = String(o['cgroupParent']);
  if (fromCli('logDriver')) cfg.logDriver = String(o['logDriver']);
  if ((o['logOpt'] as string[]).length > 0) cfg.logOpts = parseDaemonLogConfig(cfg.logDriver, o['logOpt'] as string[]).opts;
  // Checked here so that a bad option stops moatd with the option's name.
  parseDaemonLogConfig(cfg.logDriver, cfg.logOpts);
  if ((o['insecureRegistry'] as string[]).length > 0) cfg.insecureRegistries = o['insecureRegistry'] as string[];
  if ((o['registryMirror'] as string[]).length > 0) cfg.registryMirrors = o['registryMirror'] as string[];
  if (o['init'] === true) cfg.init = true;
  if (fromCli('initPath')) cfg.initPath = String(o['initPath']);
  if ((o['blockRegistry'] as string[]).length > 0) cfg.blockedRegistries = o['blockRegistry'] as string[];
  if (o['imagePolicy']) cfg.imagePolicy = String(o['imagePolicy']);
  if (fromCli('bridge')) cfg.bridge = String(o['bridge']);
  if (o['bip'] !== undefined) cfg.bip = String(o['bip']);
  if (o['fixedCidr'] !== undefined) cfg.fixedCidr = String(o['fixedCidr']);
  if ((o['defaultAddressPool'] as string[]).length > 0) cfg.defaultAddressPools = o['defaultAddressPool'] as string[];
  for (const k of ['icc', 'iptables', 'ipForward'] as const) if (o[k] !== undefined) cfg[k] = o[k] as boolean;
  if (fromCli('ip')) cfg.ip = String(o['ip']);
  if ((o['dns'] as string[]).length > 0) cfg.dns = o['dns'] as string[];
  if (o['mtu'] !== undefined) cfg.mtu = Number(o['mtu']);
  checkNetworkConfig(cfg);
  if (cfg.pidfile === '') cfg.pidfile = join(cfg.execRoot, 'moatd.pid');
  checkSeccompListenerIdle(cfg.seccompListenerIdleMs);
  if (!Number.isInteger(cfg.defaultPidsLimit)) throw new Error(`invalid --default-pids-limit: ${String(o['defaultPidsLimit'])}`);
  for (const [key, v] of [['request-body-budget', cfg.bodyBudget], ['request-body-budget-per-caller', cfg.bodyBudgetPerCaller], ['request-body-timeout', cfg.bodyTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`invalid ${key}: ${String(v)}: must be a positive whole number`);
  }
  // `.`/`..` components would place containers outside moatd's own cgroup.
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(cfg.cgroupParent) || cfg.cgroupParent.split('/').some((c) => c === '.' || c === '..')) {
    throw new Error(`invalid --cgroup-parent: ${cfg.cgroupParent}`);
  }
  return cfg;
}

function versionOf(cmd: string, args: string[]): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
    return /version\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? '';
  } catch {
    return '';
  }
}

async function ownBoundingSet(): Promise<CapName[]> {
  const status = await readFile('/proc/self/status', 'utf8');
  const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(status);
  return m ? capsFromMask(m[1]!) : [];
}

function cgroupVersion(): string {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '2';
  return '1';
}

/** Refuse to start beside a live daemon; take over a stale pid file. */
async function claimPidfile(path: string): Promise<void> {
  const text = await readTextIfExists(path);
  if (text !== undefined) {
    const pid = Number(text.trim());
    let alive = false;
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        alive = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('moatd');
      } catch {
        alive = false;
      }
    }
    if (alive) throw new Error(`pid file found, ensure moatd is not running or delete ${path}`);
    await rm(path, { force: true });
  }
  const fh = await open(path, 'wx', 0o644);
  await fh.writeFile(`${process.pid}\n`);
  await fh.close();
}

/** Docker's check: every parent of the remap root must be o+x for the remapped uid. */
async function checkTraversable(dir: string): Promise<void> {
  let p = dir;
  for (;;) {
    const parent = join(p, '..');
    if (parent === p) return;
    const st = await stat(parent);
    if ((st.mode & 0o001) === 0) {
      throw new Error(`a subdirectory in your graphroot path (${dir}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories`);
    }
    p = parent;
  }
}

export async function main(argv: string[]): Promise<void> {
  let cfg: DaemonConfig;
  try {
    cfg = parseFlags(argv);
  } catch (err) {
    process.stderr.write(`moatd: ${errorText(err)}\n`);
    process.exit(1);
  }
  const log: Logger = createLogger(cfg.logLevel);
  installSafetyNet(process, log);
  try {
    await run(cfg, log, argv);
  } catch (err) {
    log.fatal({ err: errorText(err), stack: err instanceof Error ? err.stack : undefined }, 'moatd failed to start');
    process.exit(1);
  }
}

async function run(cfg: DaemonConfig, log: Logger, argv: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('moatd must run as root');
  await mkdir(cfg.dataRoot, { recursive: true, mode: 0o711 });
  await mkdir(cfg.execRoot, { recursive: true, mode: 0o711 });
  // The directories made below them (containers, exits, runc, seccomp, …) each in a block
  // group of its own rather than in their parent's, with whatever else churns there
  // (src/sys/spread.ts; ext4 only, no effect on directories that exist already).
  for (const d of [cfg.dataRoot, cfg.execRoot]) spreadSubdirectories(d);
  await claimPidfile(cfg.pidfile);
  // Bad hosts, missing plugins and unreadable policies stop moatd before anything runs.
  checkHosts(defaultHosts(cfg), cfg);
  const authz = await setupAuthz(cfg, log);
  const daemonIdFile = join(cfg.dataRoot, 'engine-id');
  let daemonId = (await readTextIfExists(daemonIdFile))?.trim();
  if (!daemonId) {
    daemonId = newId();
    await writeFile(daemonIdFile, daemonId + '\n', { mode: 0o600 });
  }
  const bounding = await ownBoundingSet();
  const blkio = await readBlkioSupport();
  const defaultCaps = cfg.defaultCapabilities ? cfg.defaultCapabilities.map((c) => normalizeCapName(c)).filter((c): c is CapName => c !== 'ALL') : [...MOAT_DEFAULT_CAPS];

  // --userns-remap: containers' root is an unprivileged host uid; everything the daemon
  // stores moves to a per-remap root <data-root>/<uid>.<gid>, as Docker does.
  let dataRoot = cfg.dataRoot;
  let userns: DaemonDefaults['userns'];
  if (cfg.usernsRemap !== '') {
    const remap = await ensureRemapRanges({ spec: cfg.usernsRemap });
    if (!remap.enabled) log.warn(remap.warning);
    else {
      userns = { uidMappings: remap.uidMappings, gidMappings: remap.gidMappings };
      dataRoot = join(cfg.dataRoot, `${remap.uidStart}.${remap.gidStart}`);
      await checkTraversable(cfg.dataRoot);
      await mkdir(dataRoot, { recursive: true, mode: 0o711 });
      // The remapped root must traverse to its containers' rootfs.
      await chmod(cfg.dataRoot, 0o711);
      await chmod(dataRoot, 0o711);
      await mkdir(join(dataRoot, 'containers'), { recursive: true, mode: 0o711 });
      await chmod(join(dataRoot, 'containers'), 0o711);
      log.info({ uid: remap.uidStart, gid: remap.gidStart, size: remap.size, user: remap.user }, 'user namespace remapping on');
    }
  }
  const idShift = userns ? { uid: userns.uidMappings[0]!.hostID, gid: userns.gidMappings[0]!.hostID } : undefined;

  const images = new ImageStore(join(dataRoot, 'image'), log, { idShift });
  await images.init();
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (busybox) await ensureBuiltinImage(images, { busybox, arch: goArch(), tmpDir: join(dataRoot, 'image', 'tmp') });
  else log.warn('busybox-static not found: no built-in image');
  // Registries and the image trust policy; a bad policy or key stops moatd here.
  const imageService = new ImageService({ store: images, log, certsDir: certsDir(cfg) });
  const imageSettings = (c: DaemonConfig): Parameters<ImageService['configure']>[0] => ({
    insecureRegistries: c.insecureRegistries,
    registryMirrors: c.registryMirrors,
    blockedRegistries: c.blockedRegistries,
    trustPolicyFile: c.imagePolicy,
  });
  await imageService.configure(imageSettings(cfg));

  // Denials explained: blocked rules become notify rules answered (same errno) and recorded
  // by a listener process that, like conmon, outlives moatd.
  const explainer = cfg.seccompExplain
    ? await NotifyExplainer.start({
        execRoot: cfg.execRoot,
        listenerBin: fileURLToPath(new URL('../../../bin/moat-seccomp-listener', import.meta.url)),
        arch: hostArch(process.arch),
        log,
        idleGraceMs: cfg.seccompListenerIdleMs < 0 ? Infinity : cfg.seccompListenerIdleMs,
        // Checked as often as the grace allows, at most every 5 s.
        checkIntervalMs: Math.min(5000, Math.max(100, cfg.seccompListenerIdleMs)),
      })
    : undefined;
  const seccomp = new SeccompPolicy({
    daemonDefault: parseDaemonSeccompProfile(cfg.seccompProfile, (p) => readFileSync(p, 'utf8')),
    arch: hostArch(process.arch),
    kernel: os.release(),
    x32Abi: kernelRunsX32(),
    explainer,
  });
  const events = new EventBus();
  const runc = cfg.runc !== '' ? cfg.runc : (['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p)) ?? 'runc');
  const runtime = new RuncRuntime({
    runc,
    conmon: ['/usr/bin/conmon', '/usr/libexec/podman/conmon'].find((p) => existsSync(p)) ?? 'conmon',
    runcRoot: join(cfg.execRoot, 'runc'),
    exitDir: join(cfg.execRoot, 'exits'),
    socketDir: join(cfg.execRoot, 's'),
    execDir: join(cfg.execRoot, 'exec'),
  });
  const network = await NetworkDriver.open({
    dataRoot,
    execRoot: cfg.execRoot,
    log,
    defaultBridge:
      cfg.bridge === 'none'
        ? null
        : {
            name: cfg.bridge,
            icc: cfg.icc,
            ...(cfg.bip !== '' ? { bip: cfg.bip } : {}),
            ...(cfg.fixedCidr !== '' ? { fixedCidr: cfg.fixedCidr } : {}),
            ...(cfg.mtu !== 0 ? { mtu: cfg.mtu } : {}),
          },
    ...(cfg.defaultAddressPools.length > 0 ? { pools: cfg.defaultAddressPools.map((p) => parseAddressPool(p)) } : {}),
    defaultHostIp: cfg.ip,
  });
  const engine = new Engine({
    networking: new NetavarkNetworking(network, cfg.ip, log, events),
    dataRoot,
    runtime,
    host: hostSystem(),
    images,
    events,
    log,
    defaults: {
      capabilities: defaultCaps,
      bounding,
      pidsLimit: cfg.defaultPidsLimit,
      noNewPrivileges: cfg.noNewPrivileges,
      shmSize: DEFAULT_SHM_SIZE,
      cgroupParent: cfg.cgroupParent,
      defaultUlimits: cfg.defaultUlimits.map((u) => parseUlimit(u)),
      userns,
      numCpus: os.cpus().length,
      blkio,
      init: cfg.init,
      // Only a binary that is there: a container asking for --init without it is a 400.
      ...(existsSync(cfg.initPath) ? { initBinary: cfg.initPath } : {}),
    },
    seccomp,
    logConfig: parseDaemonLogConfig(cfg.logDriver, cfg.logOpts),
    imageGate: (ref, image) => imageService.checkRun(ref, image),
    ...(explainer ? { seccompExplainer: explainer } : {}),
  });
  await engine.init();
  log.info(runtime.runcInfo, runtime.runcInfo.direct ? 'runc 1.1: moatd starts and deletes containers itself' : 'runc start and delete run runc (its state layout is not runc 1.1\'s)');
  // Before any listener: every create is judged by its effect (seccomp, joined namespaces).
  authz.chain.setInspector(engineInspector(engine));
  // A create's pin on the listener pair ends with its start or die (or its removal).
  if (explainer) {
    events.subscribe((ev) => {
      if (ev.Type === 'container' && (ev.Action === 'start' || ev.Action === 'die' || ev.Action === 'destroy')) explainer.settled(ev.Actor.ID);
    });
  }
  explainer?.follow((r) => {
    const ev = denialEvent(r);
    const c = engine.find(r.containerId);
    events.emit('container', ev.Action, r.containerId, { ...(c ? { name: c.Name.slice(1), image: c.Config.Image } : {}), ...ev.Actor.Attributes });
  });

  const securityOptions = (): string[] => {
    const opts = [`name=seccomp,profile=${seccomp.daemonProfileName}`, 'name=cgroupns'];
    if (userns) opts.push('name=userns');
    if (cfg.noNewPrivileges) opts.push('name=no-new-privileges');
    return opts;
  };
  const router = buildRouter({
    engine,
    network: { driver: network, events, defaultHostIp: cfg.ip, defaultDns: cfg.dns },
    images,
    imageService,
    log,
    info: {
      daemonId,
      dataRoot,
      securityOptions,
      cgroupVersion,
      runcVersion: versionOf(runc, ['--version']),
      conmonVersion: versionOf('conmon', ['--version']),
      authorizationPlugins: () => authz.pluginNames(),
      warnings: () => [],
      logDriver: parseDaemonLogConfig(cfg.logDriver, cfg.logOpts).driver,
      registries: () => imageService.endpointConfig,
    },
  });
  const servers = await openListeners(defaultHosts(cfg), cfg, { router, log, authorizer: authz.chain, describePath: describeHostPaths({ dataRoot, execRoot: cfg.execRoot }) });

  const idleTrim = startIdleTrim({ log });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'moatd stopping; containers keep running');
    void (async () => {
      idleTrim.stop();
      await engine.close();
      // The listener keeps serving running containers; only our side closes.
      await explainer?.close();
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
      for (const host of defaultHosts(cfg)) if (host.startsWith('unix://')) await rm(host.slice(7), { force: true });
      await rm(cfg.pidfile, { force: true });
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // SIGHUP re-reads flags and daemon.json and applies the authorization settings.
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        const next = parseFlags(argv);
        // Each part reloads on its own: a bad image policy does not undo new authz plugins.
        const results = await Promise.allSettled([authz.reload(next), imageService.configure(imageSettings(next))]);
        for (const r of results) if (r.status === 'rejected') log.error({ err: errorText(r.reason) }, 'reload failed; keeping the running configuration');
      } catch (err) {
        log.error({ err: errorText(err) }, 'reload failed; keeping the running configuration');
      }
    })();
  });
  process.on('SIGPIPE', () => undefined);
  log.info({ dataRoot: cfg.dataRoot, execRoot: cfg.execRoot, pid: process.pid }, 'moatd ready');
}
