// docker start: the host work around the stored plan (rootfs, user, mounts, devices, joined
// namespaces), the spec (run-plan.ts → spec/), then the runtime creates and starts the
// container; the record says running only once it is written. A failed start undoes all of
// it and records the exit code Docker would.
import { join } from 'node:path';
import { conflict, errorText, invalid, noSuchContainer } from '../base/index.js';
import type { MountRequest } from '../docker/index.js';
import { startFailureExitCode, type PendingCreate } from '../runtime/index.js';
import { bindToOciMount, blockDevicePaths, generateSpec, resolveUser, tmpfsToOciMount, type Mount } from '../spec/index.js';
import type { EngineCore } from './core.js';
import { initialHealth } from './health.js';
import { logSettings, type LogSettings } from './log-config.js';
import type { ContainerSeccomp } from './seccomp-policy.js';
import { LOG_NAME } from './log-files.js';
import { etcFiles, rewriteHostsFile, writeEtcFiles } from './etc-files.js';
import { runPlan, type HostFacts } from './run-plan.js';
import { securitySummary, ZERO_TIME } from './plan.js';
import type { ContainerPlan, ContainerRecord, NamespaceRequests } from './types.js';
import type { HostRecord } from '../network/index.js';
import { PhaseTimer, buildEnv } from './util.js';
import { linkEnv, linkHostNames, linksIgnored, parseLink, updateLinkAddress, userLinkNetwork } from './links.js';

const now = (): string => new Date().toISOString();

/** Start a stopped container (its lock held). */
export async function startLocked(core: EngineCore, c: ContainerRecord, o: { manual?: boolean } = {}): Promise<void> {
  const phases = new PhaseTimer();
  const id = c.Id;
  const b = core.bundle(id);
  const plan = core.plan(c);
  const seccomp = core.o.seccomp.forContainer(c, plan.capabilities);
  const logs = logSettings(c.HostConfig.LogConfig, core.logConfig);
  // The log file and the explainer's rule table need neither the rootfs nor the mounts nor
  // the network: made while those are, waited for before the runtime creates the container.
  const logsReady = core.logKeeper.prepare(b.dir, logs);
  const sidework = Promise.all([
    logsReady,
    seccomp.notifyRules && core.o.seccompExplainer ? core.o.seccompExplainer.prepare(id, seccomp.notifyRules, seccomp.spec) : undefined,
  ]);
  // Its failure is the start's, reported where the start waits for it.
  sidework.catch(() => undefined);
  // conmon starts once the log files are settled (it opens its log at once) and waits for
  // the spec: its own start (exec and eleven libraries, ~1 ms after the spawn's) runs while
  // the rootfs, mounts, network and spec are made (docs/performance.md, phase I).
  const cfg = c.Config;
  const monitor = logsReady.then(() =>
    core.runtime.beginCreate({
      id,
      name: c.Name.slice(1),
      bundle: b.dir,
      log: { driver: logs.driver === 'none' ? 'none' : 'k8s-file', path: join(b.dir, LOG_NAME), sizeMax: logs.maxSize },
      stdin: cfg.OpenStdin === true,
      terminal: cfg.Tty === true,
      leaveStdinOpen: cfg.OpenStdin === true && cfg.StdinOnce !== true,
    }),
  );
  monitor.catch(() => undefined);
  try {
    await startPrepared(core, c, o, { phases, plan, seccomp, logs, sidework, monitor });
  } catch (err) {
    // What a failed start undoes (failStart) must not race the side work still running.
    await sidework.catch(() => undefined);
    // A monitor still waiting for its spec ends without creating anything (once let go, it
    // is the container's, and failStart deletes that).
    (await monitor.catch(() => undefined))?.cancel();
    // No process of this start will hand the listener a notify fd: the pair may go idle now,
    // not when its pin expires (2 min; a failed start emits no start or die event).
    core.o.seccompExplainer?.settled(id);
    throw err;
  }
}

interface StartContext {
  phases: PhaseTimer;
  plan: ContainerPlan;
  seccomp: ContainerSeccomp;
  logs: LogSettings;
  sidework: Promise<unknown>;
  /** The container's monitor, waiting for the spec. */
  monitor: Promise<PendingCreate>;
}

async function startPrepared(core: EngineCore, c: ContainerRecord, o: { manual?: boolean }, { phases, plan, seccomp, logs, sidework, monitor }: StartContext): Promise<void> {
  const id = c.Id;
  const b = core.bundle(id);
  const d = core.o.defaults;
  const image = core.o.images.get(c.Image);
  // Ownership first: overlayfs takes the root directory's owner from the upper dir at mount.
  if (plan.namespaces.userns && d.userns) await chownForUserns(core, b.dir, [b.dir, b.upper, b.work, b.rootfs]);
  // A --rm container's writable layer goes when it exits: no sync of it (at unmount, overlayfs
  // would sync the whole filesystem under the data root).
  await core.host.rootfs.mount(core.o.images.layerDirs(image), { upper: b.upper, work: b.work, merged: b.rootfs, volatile: c.HostConfig.AutoRemove === true });
  phases.mark('mount');
  const passwd = await core.host.rootfs.readText(b.rootfs, '/etc/passwd');
  const group = await core.host.rootfs.readText(b.rootfs, '/etc/group');
  const user = resolveUser(c.Config.User ?? '', { passwd, group, groupAdd: c.HostConfig.GroupAdd ?? [] });
  const cwd = c.Config.WorkingDir || '/';
  core.host.rootfs.makeWorkdir(b.rootfs, cwd);
  const etcMounts: Mount[] = [
    { destination: '/etc/hostname', type: 'bind', source: b.hostname, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: b.hosts, options: ['rbind', 'rprivate'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: b.resolvConf, options: ['rbind', 'rprivate'] },
  ];
  const mounts = await hostMounts(core, c, plan, b.rootfs);
  const devices = c.HostConfig.Privileged === true ? await core.host.devices.all() : await core.host.devices.resolve(plan.devices);
  const blockPaths = blockDevicePaths(plan.blockDevices ?? {});
  const blockDevices = blockPaths.length > 0 ? await core.host.devices.blockNumbers(blockPaths) : new Map<string, { major: number; minor: number }>();
  const joined = joinedNamespaces(core, c, plan.namespaces);
  const links = resolveLinks(core, c);
  const env = buildEnv(c, user.home, links.env);
  // The network: an address and ports before the runtime creates the container, the /etc
  // files written again with them. Its own namespace is made here too, so runc joins it by
  // path while netavark sets it up (Podman's order). Not under --userns-remap: runc's sysfs
  // mount needs a network namespace owned by the container's user namespace, so there the
  // namespace is the one runc makes, set up once it exists.
  const net = await core.networking.prepare(c, { ownNamespace: !plan.namespaces.userns && plan.namespaces.network.kind === 'private' });
  phases.mark('net-prepare');
  const facts: HostFacts = { rootfs: b.rootfs, user, env, cwd, etcMounts, mounts, devices, blockDevices, joined: joined.paths, joinedUserns: joined.userns, seccomp, ...(net?.netnsPath !== undefined ? { netns: net.netnsPath } : {}) };
  const spec = generateSpec(runPlan(c, plan, facts, d));
  const security = securitySummary(c, plan, seccomp, d);
  phases.mark('spec');
  if (net !== undefined) writeEtcFiles(b, etcFiles(c, await core.host.resolvConf(), net, links.hosts));
  await sidework;
  phases.mark('cleanup');
  // Networks set up in the namespace made above run alongside the runtime's create; the
  // start waits for both, and a failure of either fails it once both are done (failStart
  // then undoes the other's work; the driver has undone its own).
  const wiring = net?.netnsPath !== undefined ? core.networking.attach(c, undefined) : undefined;
  wiring?.catch(() => undefined);
  // runc makes the daemon's cgroup parent if it is gone: not while a removal of it runs.
  await core.daemonCgroup.beforeCreate();
  // runc's move of the init into its cgroups, ~8 ms from here, would first wait out an RCU
  // grace period (6-23 ms here); a no-op move now starts that wait alongside conmon's and
  // runc's own start (docs/performance.md, phase J).
  core.host.cgroups.prepayMove();
  const creating = monitor.then((m) => m.create(spec));
  const { pid, monitorPid } = await creating
    .catch(async (err: unknown) => {
      await wiring?.catch(() => undefined);
      throw err;
    })
    .finally(() => core.daemonCgroup.afterCreate());
  // The runtime has made the container's own bind mounts: the staging mounts can go.
  await core.unstage(id);
  phases.mark('create');
  // With the namespace made early: only what netavark still needs after the create.
  await (wiring ?? core.networking.attach(c, pid));
  phases.mark('net-attach');
  // Sessions attached before start connect now, so they see the first byte of output.
  await Promise.all(core.attach.takePending(id).map(async (s) => logAttachFailure(core, id, await core.attach.connect(id, s, () => core.runtime.attach(id)))));
  phases.mark('attach');
  // Passes from the first line on: the container writes as soon as it starts, and a log
  // rotating three times before the first pass (the record's write below can take a while)
  // loses a file.
  core.logKeeper.watch(id, b.dir, logs);
  // runc's start and the record's write run at once (each 2-3 ms): the record says running on
  // disk while runc starts the process, in memory only once it has. A crash between the two
  // leaves a running record of a container runc holds created: restore finishes the start
  // (Exits.reconcile). If either fails, start fails and failStart stops what the runtime
  // started and writes the record that is true then.
  const starting = core.runtime.start(id);
  const recorded = core.table.commit(c, (next) => {
    next.Security = security;
    next.State = { ...next.State, Status: 'running', Pid: pid, ExitCode: 0, Error: '', StartedAt: now(), FinishedAt: ZERO_TIME, OOMKilled: false, ConmonPid: monitorPid };
    if (core.health.planOf(c)) next.State.Health = initialHealth();
    else delete next.State.Health;
    // A start by hand begins the restart policy afresh (Docker's ResetRestartManager(true)).
    if (o.manual === true) {
      next.RestartCount = 0;
      delete next.HasBeenManuallyStopped;
    }
  }, { applyAfter: starting });
  const [started, saved] = await Promise.allSettled([starting, recorded]);
  if (started.status === 'rejected') throw started.reason;
  if (saved.status === 'rejected') throw saved.reason;
  phases.mark('start-and-record');
  await updateLinkers(core, c);
  phases.mark('links');
  if (core.exits.watchMonitor(c) === 'gone') void core.exits.onMonitorGone(id).catch(core.failed('cannot handle the end of conmon', id));
  core.log.debug({ containerId: id, phases: phases.done() }, 'started');
  core.events.emit('container', 'start', id, core.table.attrs(c));
  core.health.start(c);
  core.runtime.scanExits();
}

/**
 * The container's links now: each target running on the container's network, the default
 * bridge or a user-defined one, its /etc/hosts record and, on the default bridge only, its
 * variables (before the container's own, which win). At start a target that is gone, stopped
 * or not on that network is Docker's error, a 400; for an exec (`skipUnreachable`) that link
 * is left out, where dockerd would refuse the exec.
 */
export function resolveLinks(core: EngineCore, c: ContainerRecord, skipUnreachable = false): { hosts: HostRecord[]; env: string[] } {
  const hosts: HostRecord[] = [];
  const env: string[] = [];
  if (linksIgnored(c)) return { hosts, env };
  // On a user-defined network a link is a name in /etc/hosts only (dockerd's DNS alias; no variables there either).
  const network = userLinkNetwork(c);
  for (const entry of c.HostConfig.Links ?? []) {
    const link = parseLink(entry);
    const target = core.table.find(link.target);
    if (skipUnreachable && (target === undefined || (target.State.Status !== 'running' && target.State.Status !== 'paused'))) continue;
    if (target === undefined) throw invalid(`could not get container for ${link.target}: No such container: ${link.target}`);
    if (target.State.Status !== 'running' && target.State.Status !== 'paused') throw invalid(`Cannot link to a non running container: ${target.Name} AS ${c.Name}/${link.alias}`);
    const ip = network === undefined ? core.networking.defaultBridgeAddress(target.Id) : core.networking.addressOn(target.Id, network);
    if (ip === undefined && skipUnreachable) continue;
    if (ip === undefined) throw invalid(`Cannot link to ${target.Name}, as it does not belong to the ${network === undefined ? 'default network' : `network ${network}`}`);
    hosts.push({ names: linkHostNames(link, target), ip });
    if (network === undefined) env.push(...linkEnv(link, c.Name, target, ip));
  }
  return { hosts, env };
}

/**
 * Running containers that link to `c` get its new address in their /etc/hosts, as Docker's
 * parent update (their link variables keep the old one, as Docker's). The file is the bind
 * source in moat's own bundle dir, rewritten in place; a failure is logged, not fatal.
 */
async function updateLinkers(core: EngineCore, c: ContainerRecord): Promise<void> {
  const ip = core.networking.defaultBridgeAddress(c.Id);
  if (ip === undefined) return;
  for (const linker of core.table.list()) {
    if (linker.Id === c.Id || (linker.State.Status !== 'running' && linker.State.Status !== 'paused')) continue;
    try {
      const aliases = (linker.HostConfig.Links ?? []).map(parseLink).filter((l) => l.target === c.Name.slice(1)).map((l) => l.alias);
      if (aliases.length === 0) continue;
      await rewriteHostsFile(core.bundle(linker.Id), (text) => aliases.reduce((t, alias) => updateLinkAddress(t, alias, ip), text));
    } catch (err) {
      core.log.warn({ containerId: linker.Id, link: c.Id, err: errorText(err) }, 'cannot update the /etc/hosts of a linking container');
    }
  }
}

function logAttachFailure(core: EngineCore, id: string, err: unknown): void {
  if (err !== undefined) core.log.warn({ containerId: id, err: errorText(err) }, 'attach failed');
}

/** Undo a failed start and record it (its lock held); with --rm the container goes. */
export async function failStart(core: EngineCore, c: ContainerRecord, err: unknown): Promise<void> {
  const id = c.Id;
  const b = core.bundle(id);
  // The runtime's own words stay in the daemon log (the client sees the short form).
  core.log.info({ containerId: id, err: errorText(err), ...(await core.runtime.failureDetail(b.dir)) }, 'start failed');
  core.attach.finishAll(id);
  core.health.stop(id);
  await core.runtime.delete(id, { force: true }).catch(() => undefined);
  await core.logKeeper.unwatch(id);
  await core.networking.release(id).catch(core.failed('cannot release the network of a failed start', id));
  await core.host.rootfs.unmount(b.rootfs).catch(() => undefined);
  await core.unstage(id);
  await core.runtime.clearExit(id);
  core.runtime.unwatchMonitor(id);
  const exitCode = startFailureExitCode(err);
  await core.table
    .commit(c, (next) => {
      next.State = { ...next.State, Status: next.State.StartedAt === ZERO_TIME ? 'created' : 'exited', Pid: 0, ExitCode: exitCode, Error: errorText(err), FinishedAt: now() };
      delete next.State.ConmonPid;
      next.ExitGeneration += 1;
    })
    .catch((saveErr: unknown) => core.log.warn({ containerId: id, err: errorText(saveErr) }, 'cannot record the failed start'));
  core.table.resolveWaiters(c, ['not-running', 'next-exit'], { exitCode });
  if (c.HostConfig.AutoRemove) await core.lifecycle.removeLocked(c, { force: true }).catch(() => undefined);
}

/** Binds (staged from the source checked against the record: see binds.ts), volumes, tmpfs. */
async function hostMounts(core: EngineCore, c: ContainerRecord, plan: ContainerPlan, rootfs: string): Promise<Mount[]> {
  const requests: readonly MountRequest[] = plan.mounts;
  const out: Mount[] = [];
  const { staged, sources } = await core.host.binds.stage(core.store.dir(c.Id), requests, c.BindSources);
  c.BindSources ??= [...sources];
  const remap = plan.namespaces.userns ? core.o.defaults.userns : undefined;
  for (const m of requests) {
    if (m.kind === 'tmpfs') {
      out.push(tmpfsToOciMount(m));
      continue;
    }
    if (m.kind === 'volume') {
      const name = m.source;
      const hostPath = await core.volumes.ensure(name);
      // An empty volume takes the image's content at its mount point, as Docker does (not with `nocopy`).
      if (m.noCopy !== true) {
        const stopped = await core.host.rootfs.copyUp(rootfs, m.target, hostPath);
        if (stopped !== undefined) core.log.warn({ containerId: c.Id, volume: name, reason: stopped }, 'volume changed during copy-up; copy stopped');
      }
      if (remap) core.host.rootfs.chownIfRoot(hostPath, remap.uidMappings[0]!.hostID, remap.gidMappings[0]!.hostID);
      core.volumes.use(name, c.Id);
      out.push(bindToOciMount(m, { source: hostPath }));
      continue;
    }
    out.push(bindToOciMount(m, { source: staged.get(m.target)! }));
  }
  return out;
}

/** The pid, ipc and net namespaces of containers joined with `container:X`. */
function joinedNamespaces(core: EngineCore, c: ContainerRecord, ns: NamespaceRequests): { paths: HostFacts['joined']; userns: string | undefined } {
  const paths: HostFacts['joined'] = {};
  let userns: string | undefined;
  const join1 = (kind: 'pid' | 'ipc' | 'network', ref: string): void => {
    const other = core.table.find(ref);
    if (!other) throw noSuchContainer(ref);
    if (other.Id === c.Id) throw invalid(`cannot join own ${kind} namespace`);
    if (other.State.Status !== 'running' || other.State.Pid <= 0) {
      throw conflict(`cannot join ${kind} namespace of a non running container: ${ref}`);
    }
    if (kind === 'ipc' && (other.HostConfig.IpcMode ?? '') !== 'shareable' && other.HostConfig.IpcMode !== 'host') {
      throw conflict(`can't join IPC of container ${other.Id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
    }
    paths[kind] = `/proc/${other.State.Pid}/ns/${kind === 'network' ? 'net' : kind}`;
    if (ns.userns) userns = `/proc/${other.State.Pid}/ns/user`;
  };
  if (ns.pid.kind === 'container') join1('pid', ns.pid.ref);
  if (ns.ipc.kind === 'container') join1('ipc', ns.ipc.ref);
  if (ns.network.kind === 'container') join1('network', ns.network.ref);
  return { paths, userns };
}

/** Under --userns-remap the container's root owns its writable layer and mount points. */
async function chownForUserns(core: EngineCore, dir: string, paths: readonly string[]): Promise<void> {
  const u = core.o.defaults.userns!;
  for (const p of paths) core.host.rootfs.chownIfRoot(p, u.uidMappings[0]!.hostID, u.gidMappings[0]!.hostID);
  await core.host.rootfs.chmod(dir, 0o711);
}

