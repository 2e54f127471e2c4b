// docker create: a name reserved before any await, the plan (plan.ts: every check made
// here, once), the bind sources identified, the bundle dir, anonymous volumes and the /etc
// files made, and the record written last: a directory without a record is a create that
// never finished, removed (with the volumes it listed) at the next start.
import { mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { CleanupStack, allSettledOrThrow, errorText, invalid, isValidName, newId, randomName, type Logger } from '../base/index.js';
import { writeJsonAtomic } from '../base/index.js';
import { LINKS_ONLY_ON_BRIDGES, parseVolumesFrom, type ContainerConfig, type HostConfig, type NetworkingConfig } from '../docker/index.js';
import type { ImageRecord } from '../image/index.js';
import { blockDevicePaths } from '../spec/index.js';
import type { BundlePaths } from './bundle.js';
import type { ContainerRecord } from './types.js';
import { etcFiles, writeEtcFiles } from './etc-files.js';
import { PhaseTimer } from './util.js';
import type { EngineCore } from './core.js';
import { linkModeConflict, linksIgnored, onDefaultBridge, parseLink, storedLink, userLinkNetwork } from './links.js';
import { inheritMounts, planContainer, planOf, planVolumes, type VolumesFromSource } from './plan.js';

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig?: NetworkingConfig;
}

const now = (): string => new Date().toISOString();

/** Create a container; returns its id and Docker's warnings. */
export async function createContainer(core: EngineCore, req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
  let name = req.name ?? '';
  if (name.startsWith('/')) name = name.slice(1);
  if (name !== '' && !isValidName(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const cfg = req.config;
  if (typeof cfg.Image !== 'string' || cfg.Image === '') throw invalid('No image specified');
  const image = core.o.images.get(cfg.Image);
  core.o.imageGate?.(cfg.Image, image);
  const id = newId();
  if (name === '') {
    do name = randomName();
    while (core.table.nameHolder(name) !== undefined);
  }
  const releaseName = core.table.reserveName(name, id);
  try {
    return await createReserved(core, id, name, image, req);
  } finally {
    releaseName();
  }
}

async function createReserved(core: EngineCore, id: string, name: string, image: ImageRecord, req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
  const phases = new PhaseTimer();
  const { record: rec, mounts, warnings } = planContainer(
    { id, name, created: now(), config: req.config, hostConfig: req.hostConfig, image },
    core.o.defaults,
    core.logConfig,
    (r, caps) => core.o.seccomp.forContainer(r, caps),
  );
  // A blkio setting's device must be a whole disk now (and again at each start, as its number may change).
  const blockPaths = blockDevicePaths(rec.Plan!.blockDevices ?? {});
  if (blockPaths.length > 0) await core.host.devices.blockNumbers(blockPaths);
  const volumeLabels = new Map(rec.Plan!.mounts.flatMap((m) => (m.kind === 'volume' && m.volumeLabels ? [[m.target, m.volumeLabels] as const] : [])));
  const inherited = inheritMounts(rec, volumesFromSources(core, rec.HostConfig));
  // What the policy approved is what gets mounted: record each bind source's identity now
  // (a bind from --volumes-from keeps the one its source container recorded).
  rec.BindSources = [...core.host.binds.identify(mounts), ...inherited.bindSources, ...core.host.binds.identify(inherited.unpinned)];
  planVolumes(rec, newId, inherited.volumes);
  if (req.networkingConfig !== undefined) rec.NetworkingConfig = req.networkingConfig;
  warnings.push(...checkLinks(core, rec));
  const net = core.networking.validate(rec);
  warnings.push(...(net?.warnings ?? []));
  phases.mark('plan');
  const b = core.bundle(id);
  const resolving = core.host.resolvConf();
  const undo = new CleanupStack();
  try {
    // A new directory under the data root, moatd's own: four mkdirs and the three /etc
    // files synchronously (microseconds each; seven thread-pool round trips before).
    mkdirSync(b.dir, { mode: 0o700 });
    undo.defer(() => core.store.removeDir(id));
    mkdirSync(b.upper, { mode: 0o755 });
    mkdirSync(b.work, { mode: 0o700 });
    mkdirSync(b.rootfs, { mode: 0o755 });
    writeEtcFiles(b, etcFiles(rec, await resolving, net));
    phases.mark('dirs');
    // The volumes are listed before they are made: a crash from here on leaves a directory
    // without a record, and its cleanup at the next start removes them too.
    const anonymous = (rec.Volumes ?? []).filter((x) => x.anonymous && x.inherited !== true);
    if (anonymous.length > 0) await writeJsonAtomic(b.createVolumes, anonymous.map((v) => v.name));
    for (const v of anonymous) {
      undo.defer(() => core.volumes.remove(v.name, { force: true }));
      await core.volumes.create(v.name, { anonymous: true, ...labelsOf(volumeLabels, v.target) });
    }
    // Named volumes exist from the create on, as dockerd's (`docker volume ls` after `docker
    // create`), with the mount's labels if this create makes them; a failed create removes
    // only those it made.
    for (const v of (rec.Volumes ?? []).filter((x) => !x.anonymous && x.inherited !== true)) {
      if (await core.volumes.createIfMissing(v.name, labelsOf(volumeLabels, v.target))) undo.defer(() => core.volumes.remove(v.name, { force: true }));
    }
    // The record is written last: a directory without it is an unfinished create. The
    // directory's entry in the root is made durable at the same time (the directory exists
    // already): either may be lost in a power cut before the answer, and the next start
    // removes a directory without a record, or never sees one whose entry is gone.
    await allSettledOrThrow([core.store.save(rec), core.store.syncRoot()]);
    core.table.add(rec);
    phases.mark('record');
    undo.dismiss();
    if (anonymous.length > 0) await rm(b.createVolumes, { force: true }).catch(() => undefined);
  } catch (err) {
    const failures = await undo.unwind();
    if (failures.length > 0) core.log.warn({ containerId: id, failures: failures.map(errorText) }, 'cleanup after failed create');
    throw err;
  }
  core.events.emit('container', 'create', id, core.table.attrs(rec));
  // A `docker run` starts it next: its runc moves the init into its cgroups ~15-20 ms from
  // here. A wait for the kernel's lock for moves started now covers a long grace period;
  // the start's own (start.ts) covers a short one that ended before it.
  core.host.cgroups.prepayMove();
  core.log.trace({ containerId: id, phases: phases.done() }, 'created');
  return { Id: id, Warnings: warnings };
}

/**
 * The containers of HostConfig.VolumesFrom with their plans; a 400 for a bad entry or a
 * container that does not exist (moby's InvalidParameter). Behind authorization the
 * references are full ids already, those of the containers the policy judged.
 */
function volumesFromSources(core: EngineCore, hc: HostConfig): VolumesFromSource[] {
  return (hc.VolumesFrom ?? []).map((spec) => {
    const { container, readOnly } = parseVolumesFrom(spec);
    const source = core.table.find(container);
    if (source === undefined) throw invalid(`No such container: ${container}`);
    return { record: source, plan: planOf(source, core.o.defaults), readOnly };
  });
}

/**
 * `--link target[:alias]`: each target exists; on the default bridge it is there too, on a
 * user network start looks it up there, with `--network none` nothing is written for it (as
 * dockerd); host and container:X networking are moby's 400s. Stored in Docker's form. Throws
 * the 400 naming the link; warns when the bridge isolates its containers (icc off: moat
 * isolates bridge ports, and cannot open a single pair as Docker does).
 */
function checkLinks(core: EngineCore, rec: ContainerRecord): string[] {
  const entries = rec.HostConfig.Links ?? [];
  if (entries.length === 0) return [];
  const conflict = linkModeConflict(rec);
  if (conflict !== undefined) throw invalid(conflict);
  const onBridge = onDefaultBridge(rec);
  const ignored = linksIgnored(rec);
  if (!onBridge && !ignored && userLinkNetwork(rec) === undefined) {
    throw invalid(`conflicting options: ${LINKS_ONLY_ON_BRIDGES}`);
  }
  // dockerd --bridge=none takes the link and writes nothing for it; a link that cannot work is refused here.
  const bridge = onBridge ? core.networking.defaultBridge() : undefined;
  if (onBridge && bridge === undefined) throw invalid('conflicting options: links need the default bridge, and moatd runs without one (--bridge none)');
  const stored: string[] = [];
  for (const entry of entries) {
    const link = parseLink(entry);
    const target = core.table.find(link.target);
    if (target === undefined) throw invalid(`could not get container for ${link.target}: No such container: ${link.target}`);
    if (onBridge && !onDefaultBridge(target)) throw invalid(`Cannot link to ${target.Name}, as it does not belong to the default network`);
    if (ignored && target.HostConfig.NetworkMode === 'host') throw invalid(linkModeConflict(target)!);
    stored.push(storedLink({ target: target.Name.slice(1), alias: link.alias }, rec.Name));
  }
  rec.HostConfig.Links = stored;
  if (bridge === undefined || bridge.icc) return [];
  return ['Links on the default bridge with inter-container communication off (moatd --icc=false, the default): /etc/hosts names the linked containers but they cannot reach each other; start moatd with --icc to let them'];
}

/**
 * Remove what a create that never finished left (found at start-up): runtime state, the
 * rootfs mount, bind staging, the anonymous volumes it listed (unless a container uses
 * them), the directory.
 */
export async function discardUnfinished(core: EngineCore, id: string, log: Logger): Promise<void> {
  const b = core.bundle(id);
  await core.runtime.delete(id, { force: true }).catch(() => undefined);
  await core.host.rootfs.unmount(b.rootfs).catch(() => undefined);
  await core.unstage(id);
  for (const name of await readCreateVolumes(b)) {
    if (core.table.list().some((o) => (o.Volumes ?? []).some((v) => v.name === name))) continue;
    await core.volumes.remove(name, { force: true }).catch((err: unknown) => log.warn({ containerId: id, volume: name, err: errorText(err) }, 'cannot remove a volume of an unfinished create'));
  }
  await core.store.removeDir(id);
}

async function readCreateVolumes(b: BundlePaths): Promise<string[]> {
  const text = await readFile(b.createVolumes, 'utf8').catch(() => '[]');
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && /^[a-f0-9]{64}$/.test(x)) : [];
  } catch {
    return [];
  }
}

function labelsOf(byTarget: ReadonlyMap<string, Record<string, string>>, target: string): { labels?: Record<string, string> } {
  const labels = byTarget.get(target);
  return labels ? { labels } : {};
}
