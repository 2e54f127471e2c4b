// `docker pull`: resolve a reference to one image manifest (platform chosen from an index),
// check it against the trust policy, download layers (3 at a time) into temporary files while
// hashing them, extract each verified blob through the safe extractor, and only then store the
// config and the tag. A failure at any point leaves no new layer, config or tag behind.
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { EngineError, errorText, type Logger } from '../base/index.js';
import type { ImageRecord, ImageStore } from './store.js';
import { familiarName, type ImageRef } from './reference.js';
import { layerCompression, parseManifest, selectPlatform, hostPlatform, MEDIA, type Descriptor, type Platform } from './registry/manifest.js';
import { remoteName, qualifiedName, type RemoteName } from './registry/endpoints.js';
import type { RegistryClient, RepoSession } from './registry/client.js';
import type { Credentials } from './registry/auth.js';
import { layerStatus, shortDigest, ProgressThrottle, type ProgressSink } from './progress.js';

/** Docker's default number of parallel layer downloads. */
export const MAX_CONCURRENT_DOWNLOADS = 3;

/** What the trust policy is asked during a pull (see trust/). */
export interface PullGate {
  /** Before any network traffic: may this repository be pulled, is a digest pin required? Throws 403. */
  beforePull(qualified: string, ref: ImageRef): void;
  /**
   * After the manifest is resolved, before any layer is fetched: signatures. Throws 403.
   * Returns what was verified, for the record.
   */
  afterManifest(session: RepoSession, target: { qualified: string; digests: string[] }): Promise<void>;
}

export interface PullRequest {
  ref: ImageRef;
  creds: Credentials;
  platform?: Platform;
  progress: ProgressSink;
  gate?: PullGate;
}

export interface PullResult {
  image: ImageRecord;
  /** The digest of the manifest the reference resolved to (an index for multi-platform tags). */
  digest: string;
  /** `busybox:latest` or `app@sha256:…`, as Docker shows it. */
  shown: string;
  upToDate: boolean;
}

/** A small counting semaphore. */
class Slots {
  #free: number;
  #waiting: Array<() => void> = [];
  constructor(n: number) {
    this.#free = n;
  }
  async take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiting.push(r));
  }
  /** True when `take()` would wait. */
  get full(): boolean {
    return this.#free === 0;
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Shown forms of a reference: `busybox:latest` and the repo `busybox`. */
export function shownRef(ref: ImageRef): { familiarName: string; familiarRef: string } {
  return { familiarName: ref.repo, familiarRef: ref.digest !== undefined ? `${ref.repo}@${ref.digest}` : `${ref.repo}:${ref.tag ?? 'latest'}` };
}

/**
 * Pulls images into a store. One per daemon: it knows which layers pulls are still writing,
 * so a failed pull never removes a layer another pull is about to use.
 */
export class Puller {
  readonly #store: ImageStore;
  readonly #client: RegistryClient;
  readonly #log: Logger;
  /** diff id -> number of pulls that may still store or use it */
  readonly #inFlight = new Map<string, number>();
  /** blob digest -> the running extraction of that blob (two pulls share one download) */
  readonly #downloads = new Map<string, Promise<string>>();

  constructor(store: ImageStore, client: RegistryClient, log: Logger) {
    this.#store = store;
    this.#client = client;
    this.#log = log.child({ component: 'pull' });
  }

  async pull(req: PullRequest): Promise<PullResult> {
    const ref = req.ref;
    const name: RemoteName = remoteName(ref.repo);
    const qualified = qualifiedName(name);
    const shown = shownRef(ref);
    const shownText = shown.familiarRef;
    req.gate?.beforePull(qualified, ref);
    const session = await this.#client.open(name, req.creds, ['pull']);
    try {
      const reference = ref.digest ?? ref.tag ?? 'latest';
      const top = await session.getManifest(reference, shown);
      let manifest = parseManifest(top.bytes, top.mediaType, shownText);
      const digests = [top.digest];
      if (manifest.kind === 'index') {
        const pick = selectPlatform(manifest.manifests, req.platform ?? hostPlatform());
        const inner = await session.getManifest(pick.digest, shown);
        if (inner.digest !== pick.digest) throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `manifest verification failed for digest ${pick.digest}`);
        manifest = parseManifest(inner.bytes, inner.mediaType || pick.mediaType, shownText);
        if (manifest.kind !== 'image') throw new EngineError('invalid', 'ERR_REGISTRY_BAD_MANIFEST', `invalid manifest for ${shownText}: an index inside an index`);
        digests.push(inner.digest);
      }
      await req.gate?.afterManifest(session, { qualified, digests });
      if (manifest.config.mediaType !== MEDIA.dockerConfig && manifest.config.mediaType !== MEDIA.ociConfig && manifest.config.mediaType !== '') {
        throw new EngineError('invalid', 'ERR_REGISTRY_BAD_MANIFEST', `${shownText} is not a container image (config media type ${JSON.stringify(manifest.config.mediaType)})`);
      }
      for (const l of manifest.layers) {
        if (layerCompression(l.mediaType) === 'zstd') {
          throw new EngineError('not-implemented', 'ERR_REGISTRY_ZSTD', `${shownText} has zstd-compressed layers, which moat cannot extract yet: push it with gzip layers`);
        }
      }
      const configBytes = await session.getSmallBlob(manifest.config.digest, manifest.config.size);
      const diffIds = diffIdsOf(configBytes, manifest.layers.length, shownText);
      const imageId = manifest.config.digest;
      const before = this.#store.find(shownText);
      req.progress({ status: `Pulling from ${name.path}`, id: ref.digest ?? ref.tag ?? 'latest' });
      for (const d of diffIds) this.#inFlight.set(d, (this.#inFlight.get(d) ?? 0) + 1);
      const added: string[] = [];
      try {
        await this.#fetchLayers(session, manifest.layers, diffIds, req.progress, added);
        const image = await this.#store.addImageBytes(configBytes);
        if (ref.digest === undefined) await this.#store.tag(image.id, familiarName({ repo: ref.repo, tag: ref.tag ?? 'latest' }));
        await this.#store.addRepoDigest(image.id, `${ref.repo}@${top.digest}`);
        const upToDate = before?.id === imageId;
        req.progress({ status: `Digest: ${top.digest}` });
        req.progress({ status: upToDate ? `Status: Image is up to date for ${shownText}` : `Status: Downloaded newer image for ${shownText}` });
        return { image: this.#store.get(image.id), digest: top.digest, shown: shownText, upToDate };
      } catch (err) {
        // Nothing of a failed pull stays: drop the layers it added that no image uses.
        const dropped = await this.#store.dropUnreferencedLayers(added, (d) => (this.#inFlight.get(d) ?? 0) > 1);
        if (dropped.length > 0) this.#log.info({ image: shownText, layers: dropped.length }, 'failed pull: removed its layers');
        throw err;
      } finally {
        for (const d of diffIds) {
          const n = (this.#inFlight.get(d) ?? 1) - 1;
          if (n <= 0) this.#inFlight.delete(d);
          else this.#inFlight.set(d, n);
        }
      }
    } finally {
      session.close();
    }
  }

  async #fetchLayers(session: RepoSession, layers: readonly Descriptor[], diffIds: readonly string[], progress: ProgressSink, added: string[]): Promise<void> {
    const slots = new Slots(MAX_CONCURRENT_DOWNLOADS);
    const throttle = new ProgressThrottle(progress);
    const jobs = layers.map((layer, i) => {
      const id = shortDigest(layer.digest);
      const diffId = diffIds[i]!;
      if (this.#store.hasLayerSync(diffId)) {
        progress(layerStatus(id, 'Already exists'));
        return Promise.resolve();
      }
      progress(layerStatus(id, 'Pulling fs layer'));
      return (async () => {
        const shared = this.#downloads.get(layer.digest);
        if (shared) {
          await shared;
          progress(layerStatus(id, 'Already exists'));
          return;
        }
        const job = (async (): Promise<string> => {
          const tmp = this.#store.tmpPath('blob');
          const t0 = Date.now();
          if (slots.full) progress(layerStatus(id, 'Waiting'));
          await slots.take();
          try {
            // The blob is verified against its digest before a byte of it is decompressed or
            // extracted; the tar must then hash to the config's diff id before it is stored.
            await session.fetchBlob(layer.digest, layer.size, tmp, (n) => throttle.progress(id, 'Downloading', n, layer.size));
          } catch (err) {
            slots.give();
            await rm(tmp, { force: true });
            throw err;
          }
          slots.give();
          progress(layerStatus(id, 'Verifying Checksum'));
          progress(layerStatus(id, 'Download complete'));
          const t1 = Date.now();
          try {
            const input = countBytes(createReadStream(tmp), (n) => throttle.progress(id, 'Extracting', n, layer.size));
            const stored = await this.#store.addLayer(input, {
              expectDiffId: diffId,
              blob: { path: tmp, digest: layer.digest, size: layer.size, mediaType: layer.mediaType },
            });
            added.push(stored);
            this.#log.debug({ layer: layer.digest, bytes: layer.size, downloadMs: t1 - t0, extractMs: Date.now() - t1 }, 'layer pulled');
            progress(layerStatus(id, 'Pull complete'));
            return stored;
          } finally {
            await rm(tmp, { force: true });
          }
        })();
        this.#downloads.set(layer.digest, job);
        try {
          await job;
        } finally {
          this.#downloads.delete(layer.digest);
        }
      })();
    });
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.#log.debug({ err: errorText(failed.reason) }, 'layer download failed');
      throw failed.reason;
    }
  }
}

/** The config's diff ids, which must be one per manifest layer. */
function diffIdsOf(configBytes: Buffer, layers: number, shown: string): string[] {
  let cfg: { rootfs?: { type?: string; diff_ids?: unknown } };
  try {
    cfg = JSON.parse(configBytes.toString('utf8')) as typeof cfg;
  } catch (err) {
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image config for ${shown}: ${(err as Error).message}`);
  }
  const ids = cfg.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image config for ${shown}: rootfs.diff_ids is not a list of digests`);
  }
  if (ids.length !== layers) {
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image for ${shown}: ${layers} layers in the manifest, ${ids.length} diff ids in the config`);
  }
  return ids as string[];
}


/** `input` piped through a transform that reports the bytes read so far. */
export function countBytes(input: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
  input.on('error', (err) => t.destroy(err));
  return input.pipe(t);
}
