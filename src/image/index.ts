/**
 * Images: content-addressed layers and configs, tags, import, the built-in busybox image,
 * and overlayfs rootfs mounts.
 *
 * @example
 * const store = new ImageStore('/var/lib/moat/image', log); await store.init();
 */
export { ImageStore, type ImageRecord, type ImageConfig } from './store.js';
export { ensureBuiltinImage, BUILTIN_IMAGE } from './builtin.js';
export { mountOverlay, unmountOverlay, isMounted } from './overlay.js';
export { parseReference, familiarName, normalizeReference, type ImageRef } from './reference.js';
export { applyChanges, type ImageRuntimeConfig } from './changes.js';
export { exportTree, diffTree, CHANGE_MODIFIED, CHANGE_ADDED, CHANGE_DELETED, type Change } from './tar-export.js';
