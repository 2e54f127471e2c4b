/**
 * Images: content-addressed layers and configs, tags, import, the built-in busybox image,
 * and overlayfs rootfs mounts.
 *
 * @example
 * const store = new ImageStore('/var/lib/moat/image', log); await store.init();
 */
export { ImageStore, type ImageRecord, type ImageConfig } from './store.js';
export { applyLayer, clearTarget, extractArchiveAt, devMajor, devMinor, type IdShift } from './layer.js';
export { ensureBuiltinImage, BUILTIN_IMAGE } from './builtin.js';
export { mountOverlay, unmountOverlay, isMounted } from './overlay.js';
export { parseReference, familiarName, normalizeReference, type ImageRef } from './reference.js';
export { applyChanges, type ImageRuntimeConfig } from './changes.js';
export { exportTree, diffTree, CHANGE_MODIFIED, CHANGE_ADDED, CHANGE_DELETED, type Change } from './tar-export.js';
export { ImageService, loginDomain, loadTrustPolicy, type ImageServiceConfig, type TrustReport } from './service.js';
export { decodeRegistryAuth, credentialsFromAuthConfig, type Credentials } from './registry/auth.js';
export { parsePlatform, platformMatches, platformText, type Platform } from './registry/manifest.js';
export { saveImages, loadImages, checkSavable, type SaveItem } from './archive.js';
export { filterImages, historyRows, checkFilterKeys, labelsMatch, parseFilterTime, IMAGE_PRUNE_FILTERS } from './filters.js';
export { errorMessage, type ProgressMessage, type ProgressSink } from './progress.js';
export type { LayerBlob } from './store.js';
