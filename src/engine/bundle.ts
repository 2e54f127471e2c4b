// The paths of a container's bundle dir (`<data-root>/containers/<id>/`), named once. The
// engine owns the record, the overlay dirs, the /etc files, the log and the bind staging
// points; the runtime keeps its own files beside them (config.json, FIFOs, pid files). Pure.
import { join } from 'node:path';

export interface BundlePaths {
  readonly dir: string;
  /** The overlay: the container's writable layer, overlayfs's work dir, the merged rootfs. */
  readonly upper: string;
  readonly work: string;
  readonly rootfs: string;
  /** The /etc files moat writes and binds into the container. */
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
  /** The anonymous volumes a create is about to make (until its record exists). */
  readonly createVolumes: string;
}

/**
 * @example
 * const b = bundlePaths(store.dir(id)); await mountOverlay(layers, { upper: b.upper, work: b.work, merged: b.rootfs });
 */
export function bundlePaths(dir: string): BundlePaths {
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    createVolumes: join(dir, 'create-volumes.json'),
  };
}
