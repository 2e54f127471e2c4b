// A container's changes as a new image (`docker commit`, and every build step that changed
// files): its overlay upper dir, walked through src/sys (exportTree), becomes one layer on top
// of the image's layers; the config and a history row complete the image.
import { errorText } from '../base/index.js';
import type { Engine } from '../engine/index.js';
import { exportTree, diffTree, CHANGE_MODIFIED, type ImageConfig, type ImageRecord, type ImageRuntimeConfig, type ImageStore } from '../image/index.js';

/**
 * Paths runc makes in a container's upper dir as mount points (the files moatd binds there,
 * /dev, /proc, /sys): Docker keeps them in an init layer that no commit includes.
 */
const RUNTIME_FILES = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf', '.dockerenv', 'etc/mtab']);
export function isRuntimePath(rel: string): boolean {
  return RUNTIME_FILES.has(rel) || rel === 'dev' || rel === 'proc' || rel === 'sys' || rel.startsWith('dev/') || rel.startsWith('proc/') || rel.startsWith('sys/');
}

/**
 * True when the upper dir changes anything a commit keeps: runtime mount points do not count,
 * nor a directory copied up only because runc made a mount point inside it.
 */
async function hasChanges(upper: string, lowers: readonly string[]): Promise<boolean> {
  const all = await diffTree(upper, lowers);
  const runtime = (p: string): boolean => isRuntimePath(p.slice(1));
  const kept = all.filter((ch) => !runtime(ch.Path));
  return kept.some((ch) => {
    if (ch.Kind !== CHANGE_MODIFIED) return true;
    const below = kept.some((o) => o.Path.startsWith(`${ch.Path}/`));
    const runtimeBelow = all.some((o) => o.Path.startsWith(`${ch.Path}/`) && runtime(o.Path));
    return below || !runtimeBelow;
  });
}

export interface CommitRequest {
  /** Container id or name. */
  container: string;
  /** The new image's runtime config. */
  config: ImageRuntimeConfig;
  /** The history row's `created_by`. */
  createdBy: string;
  comment?: string;
  author?: string;
  /** Pause a running container while its upper dir is read (Docker's default). */
  pause: boolean;
  /** Layers of the base to leave out (the empty placeholder of a `FROM scratch` stage). */
  dropBaseLayers?: number;
  /** Keep an empty layer out of the image when nothing changed (build steps); commit always adds one. */
  skipEmptyLayer?: boolean;
}

/**
 * Commit a container's changes on top of its image; the parent link is recorded.
 *
 * @example
 * const image = await commitContainer(engine, images, { container: 'web', config, createdBy: 'sh', pause: true });
 */
export async function commitContainer(engine: Engine, images: ImageStore, req: CommitRequest): Promise<ImageRecord> {
  const c = engine.get(req.container);
  const base = images.get(c.Image);
  const pause = req.pause && c.State.Status === 'running';
  if (pause) await engine.pause(c.Id, true);
  let diffId: string | undefined;
  try {
    const { upper, lowers } = engine.layersOf(c.Id);
    if (!req.skipEmptyLayer || (await hasChanges(upper, lowers))) {
      const shift = images.idShift;
      diffId = await images.addLayer(exportTree(upper, { overlayWhiteouts: true, exclude: isRuntimePath, ...(shift ? { unshift: shift } : {}) }));
    }
  } finally {
    if (pause) await engine.pause(c.Id, false).catch((err: unknown) => engine.events.emit('container', 'unpause-failed', c.Id, { error: errorText(err) }));
  }
  const created = new Date().toISOString();
  const drop = req.dropBaseLayers ?? 0;
  const config: ImageConfig = {
    architecture: base.config.architecture,
    os: base.config.os,
    created,
    ...(req.author ? { author: req.author } : {}),
    container: c.Id,
    config: req.config,
    rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids.slice(drop), ...(diffId !== undefined ? [diffId] : [])] },
    history: [
      ...(drop > 0 ? [] : base.config.history),
      { created, created_by: req.createdBy, ...(req.comment ? { comment: req.comment } : {}), ...(req.author ? { author: req.author } : {}), ...(diffId === undefined ? { empty_layer: true } : {}) },
    ],
    ...(req.comment ? { comment: req.comment } : {}),
  };
  const image = await images.addImage(config);
  if (drop === 0) await images.setParent(image.id, base.id);
  return image;
}

/** A new image with the same layers and another config (a metadata-only build step). */
export async function commitConfig(images: ImageStore, base: ImageRecord | undefined, o: { config: ImageRuntimeConfig; createdBy: string; author?: string; arch: string; dropBaseLayers?: number }): Promise<ImageRecord> {
  const created = new Date().toISOString();
  const drop = o.dropBaseLayers ?? 0;
  const config: ImageConfig = {
    architecture: base?.config.architecture ?? o.arch,
    os: base?.config.os ?? 'linux',
    created,
    ...(o.author ? { author: o.author } : {}),
    config: o.config,
    rootfs: { type: 'layers', diff_ids: base ? base.config.rootfs.diff_ids.slice(drop) : [] },
    history: [...(base && drop === 0 ? base.config.history : []), { created, created_by: o.createdBy, ...(o.author ? { author: o.author } : {}), empty_layer: true }],
  };
  const image = await images.addImage(config);
  if (base && drop === 0) await images.setParent(image.id, base.id);
  return image;
}
