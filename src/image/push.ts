// `docker push`: upload the image's layer blobs (the ones kept at pull or made at import, so
// their digests never change), its config bytes (whose digest is the image id), then a
// manifest under the tag. Pushing and pulling back gives the same image id.
import { createReadStream } from 'node:fs';
import { EngineError } from '../base/index.js';
import type { ImageRecord, ImageStore, LayerBlob } from './store.js';
import { remoteName, qualifiedName } from './registry/endpoints.js';
import { MEDIA } from './registry/manifest.js';
import type { RegistryClient, RepoSession } from './registry/client.js';
import { sha256Digest } from './registry/client.js';
import type { Credentials } from './registry/auth.js';
import { layerStatus, shortDigest, ProgressThrottle, type ProgressSink } from './progress.js';

/** dockerd's default max-concurrent-uploads is 5; 3 keeps two cores free enough. */
const MAX_CONCURRENT_UPLOADS = 3;

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
}

const DOCKER_TYPES = new Set<string>([MEDIA.dockerLayerGzip, MEDIA.dockerForeignLayerGzip]);

/**
 * The manifest for an image's blobs: Docker schema 2 when every layer has a Docker media type,
 * OCI otherwise (an OCI manifest cannot name Docker layer types and vice versa). Pure.
 */
export function buildManifest(configDigest: string, configSize: number, layers: readonly LayerBlob[]): { bytes: Buffer; mediaType: string } {
  const docker = layers.every((l) => DOCKER_TYPES.has(l.mediaType));
  const toOci = (t: string): string => (t === MEDIA.dockerLayerGzip ? MEDIA.ociLayerGzip : t);
  const m = {
    schemaVersion: 2,
    mediaType: docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
    config: { mediaType: docker ? MEDIA.dockerConfig : MEDIA.ociConfig, size: configSize, digest: configDigest },
    layers: layers.map((l) => ({ mediaType: docker ? l.mediaType : toOci(l.mediaType), size: l.size, digest: l.digest })),
  };
  // Docker indents manifests with three spaces; any bytes work, these are the ones we sign and send.
  return { bytes: Buffer.from(JSON.stringify(m, null, 3)), mediaType: m.mediaType };
}

async function pushBlob(s: RepoSession, blob: LayerBlob & { path: string }, id: string, progress: ProgressSink, throttle: ProgressThrottle): Promise<void> {
  if (await s.hasBlob(blob.digest)) {
    progress(layerStatus(id, 'Layer already exists'));
    return;
  }
  await s.uploadBlob(blob.digest, blob.size, () => createReadStream(blob.path), (n) => throttle.progress(id, 'Pushing', n, blob.size));
  progress(layerStatus(id, 'Pushed'));
}

/**
 * Push `image` as `repo:tag`. Progress goes to `progress`; the final `digest:` line too.
 *
 * @example
 * await pushImage(store, client, { image, repo: '127.0.0.1:5000/app', tag: 'v1', creds, progress });
 */
export async function pushImage(store: ImageStore, client: RegistryClient, o: { image: ImageRecord; repo: string; tag: string; creds: Credentials; progress: ProgressSink }): Promise<PushResult> {
  const name = remoteName(o.repo);
  const blobs = o.image.config.rootfs.diff_ids.map((d) => {
    const b = store.layerBlob(d);
    if (!b) {
      throw new EngineError('conflict', 'ERR_PUSH_NO_BLOB', `Cannot push ${o.repo}:${o.tag}: layer ${d} was stored before moat kept compressed layers; save and load the image again to push it`);
    }
    return { diffId: d, blob: b };
  });
  const configBytes = await store.configBytes(o.image.id);
  const session = await client.open(name, o.creds, ['pull', 'push']);
  try {
    o.progress({ status: `The push refers to repository [${qualifiedName(name)}]` });
    const throttle = new ProgressThrottle(o.progress);
    // Docker lists the top layer first.
    const order = [...blobs].reverse();
    for (const { diffId } of order) o.progress(layerStatus(shortDigest(diffId), 'Preparing'));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.length) {
        const { diffId, blob } = order[next++]!;
        await pushBlob(session, blob, shortDigest(diffId), o.progress, throttle);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_UPLOADS, order.length) }, worker));
    const configDigest = sha256Digest(configBytes);
    if (!(await session.hasBlob(configDigest))) await session.uploadBlob(configDigest, configBytes.length, () => configBytes);
    const manifest = buildManifest(configDigest, configBytes.length, blobs.map((b) => b.blob));
    const digest = await session.putManifest(o.tag, manifest.bytes, manifest.mediaType);
    await store.addRepoDigest(o.image.id, `${o.repo}@${digest}`);
    o.progress({ status: `${o.tag}: digest: ${digest} size: ${manifest.bytes.length}` });
    o.progress({ progressDetail: {}, aux: { Tag: o.tag, Digest: digest, Size: manifest.bytes.length } });
    return { tag: o.tag, digest, size: manifest.bytes.length };
  } finally {
    session.close();
  }
}
