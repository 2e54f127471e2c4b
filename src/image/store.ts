// Content-addressed image store: layers by diff id (sha256 of the uncompressed tar),
// image configs by image id (sha256 of the config JSON), and a tag table.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chown, mkdir, readdir, rename, rm, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { constants as zlibConstants, createGunzip, createGzip } from 'node:zlib';
import { EngineError, noSuchImage, conflict, writeFileAtomic, writeJsonAtomic, readJsonIfExists, removeStaleTempFiles, shortId, type Logger } from '../base/index.js';
import { applyLayer, type IdShift } from './layer.js';
import { applyChanges, type ImageRuntimeConfig } from './changes.js';
import { parseReference, familiarName } from './reference.js';

/** OCI/Docker image config as stored (the bytes hashed into the image id). */
export interface ImageConfig {
  architecture: string;
  os: string;
  created: string;
  config: ImageRuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: Array<{ created: string; created_by?: string; comment?: string; author?: string; empty_layer?: boolean }>;
  comment?: string;
  /** Who made it (`docker commit --author`, MAINTAINER). */
  author?: string;
  /** The container it was committed from. */
  container?: string;
}

export interface ImageRecord {
  /** `sha256:<hex>` */
  id: string;
  repoTags: string[];
  /** `repo@sha256:<manifest digest>` for each repository the image was pulled from or pushed to. */
  repoDigests: string[];
  config: ImageConfig;
  /** Sum of the layers' uncompressed tar sizes. */
  size: number;
}

/** A compressed form of a layer kept beside it (`blob`): pulled as is, or made at import. */
export interface LayerBlob {
  digest: string;
  size: number;
  mediaType: string;
}

interface LayerMeta {
  diffId: string;
  size: number;
  blob?: LayerBlob;
}

/** Options of `addLayer`. */
export interface AddLayerOptions {
  /** The diff id the layer must have (from the image config); a mismatch stores nothing. */
  expectDiffId?: string;
  /** The already verified compressed blob `input` was read from; it is moved beside the layer. */
  blob?: LayerBlob & { path: string };
  /** Called with the bytes of uncompressed tar consumed so far. */
  onBytes?: (n: number) => void;
}

/** gzip media type of the blobs made at import (Docker schema 2). */
export const GZIP_LAYER_MEDIA_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** A small async mutex: tag-table read-modify-write must not interleave. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return await next;
  }
}

function hexOf(id: string): string {
  return id.startsWith('sha256:') ? id.slice(7) : id;
}

export class ImageStore {
  readonly root: string;
  #log: Logger;
  #tags = new Map<string, string>();
  #configs = new Map<string, ImageConfig>();
  #layerSizes = new Map<string, number>();
  #layerBlobs = new Map<string, LayerBlob>();
  /** `repo@sha256:…` -> image id */
  #digests = new Map<string, string>();
  /** image id -> the image it was built or committed on (Docker's Parent). */
  #parents = new Map<string, string>();
  #lock = new Mutex();

  /** Under --userns-remap, layer files are owned by the remapped ids (uid + shift). */
  readonly #idShift: IdShift | undefined;

  constructor(root: string, log: Logger, opts: { idShift?: IdShift | undefined } = {}) {
    this.root = root;
    this.#log = log.child({ component: 'image' });
    this.#idShift = opts.idShift;
  }

  get #layersDir(): string {
    return join(this.root, 'layers');
  }
  get #configsDir(): string {
    return join(this.root, 'configs');
  }
  get #tagsFile(): string {
    return join(this.root, 'repositories.json');
  }
  get #digestsFile(): string {
    return join(this.root, 'repodigests.json');
  }
  get #parentsFile(): string {
    return join(this.root, 'parents.json');
  }

  /** Under --userns-remap, the shift layer files carry (a tree exported for a layer is unshifted by it). */
  get idShift(): IdShift | undefined {
    return this.#idShift;
  }

  async init(): Promise<void> {
    await mkdir(this.#layersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.#configsDir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, 'tmp'), { recursive: true, mode: 0o700 });
    // Half-imported layers from a crash are never referenced: drop them.
    await rm(join(this.root, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.root, 'tmp'), { recursive: true, mode: 0o700 });
    // So are the temporary files of atomic writes a crash interrupted.
    await removeStaleTempFiles(this.root);
    await removeStaleTempFiles(this.#configsDir);
    for (const name of await readdir(this.#layersDir)) {
      const meta = await readJsonIfExists<LayerMeta>(join(this.#layersDir, name, 'meta.json'));
      if (meta) {
        this.#layerSizes.set(meta.diffId, meta.size);
        if (meta.blob) this.#layerBlobs.set(meta.diffId, meta.blob);
      } else {
        this.#log.warn({ layer: name }, 'removing a layer whose import never finished');
        await rm(join(this.#layersDir, name), { recursive: true, force: true });
      }
    }
    for (const name of await readdir(this.#configsDir)) {
      if (!name.endsWith('.json')) continue;
      const cfg = await readJsonIfExists<ImageConfig>(join(this.#configsDir, name));
      if (cfg) this.#configs.set(`sha256:${name.slice(0, -5)}`, cfg);
    }
    const tags = (await readJsonIfExists<Record<string, string>>(this.#tagsFile)) ?? {};
    for (const [k, v] of Object.entries(tags)) if (this.#configs.has(v)) this.#tags.set(k, v);
    const digests = (await readJsonIfExists<Record<string, string>>(this.#digestsFile)) ?? {};
    for (const [k, v] of Object.entries(digests)) if (this.#configs.has(v)) this.#digests.set(k, v);
    const parents = (await readJsonIfExists<Record<string, string>>(this.#parentsFile)) ?? {};
    for (const [k, v] of Object.entries(parents)) if (this.#configs.has(k) && this.#configs.has(v)) this.#parents.set(k, v);
  }

  /** The image `id` was built or committed on, if it is still stored. */
  parentOf(id: string): string | undefined {
    const p = this.#parents.get(id);
    return p !== undefined && this.#configs.has(p) ? p : undefined;
  }

  /** Images built or committed on `id`. */
  childrenOf(id: string): string[] {
    return [...this.#parents].filter(([c, p]) => p === id && this.#configs.has(c)).map(([c]) => c);
  }

  /** Record that `id` was built on `parent` (a build step, a commit). */
  async setParent(id: string, parent: string): Promise<void> {
    if (id === parent || !this.#configs.has(id) || !this.#configs.has(parent)) return;
    await this.#lock.run(async () => {
      this.#parents.set(id, parent);
      await writeJsonAtomic(this.#parentsFile, Object.fromEntries(this.#parents), 0o644);
    });
  }

  #record(id: string): ImageRecord {
    const config = this.#configs.get(id)!;
    const repoTags = [...this.#tags.entries()].filter(([, v]) => v === id).map(([k]) => k).sort();
    const repoDigests = [...this.#digests.entries()].filter(([, v]) => v === id).map(([k]) => k).sort();
    const size = config.rootfs.diff_ids.reduce((n, d) => n + (this.#layerSizes.get(d) ?? 0), 0);
    return { id, repoTags, repoDigests, config, size };
  }

  list(): ImageRecord[] {
    return [...this.#configs.keys()].map((id) => this.#record(id));
  }

  /** Resolve a name, tag, full id or unique id prefix; undefined when nothing matches. */
  find(ref: string): ImageRecord | undefined {
    if (/^(sha256:)?[a-f0-9]{64}$/.test(ref)) {
      const id = `sha256:${hexOf(ref)}`;
      return this.#configs.has(id) ? this.#record(id) : undefined;
    }
    let name: string | undefined;
    try {
      name = familiarName(parseReference(ref));
    } catch {
      name = undefined;
    }
    if (name !== undefined) {
      const id = this.#tags.get(name) ?? this.#digests.get(name);
      if (id !== undefined && this.#configs.has(id)) return this.#record(id);
    }
    const prefix = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[a-f0-9]{4,63}$/.test(prefix)) {
      const hits = [...this.#configs.keys()].filter((id) => id.slice(7).startsWith(prefix));
      if (hits.length === 1) return this.#record(hits[0]!);
    }
    return undefined;
  }

  /** Like find, but 404 `No such image: name:tag`. */
  get(ref: string): ImageRecord {
    const hit = this.find(ref);
    if (hit) return hit;
    let shown = ref;
    try {
      shown = /^(sha256:)?[a-f0-9]+$/.test(ref) ? ref : familiarName(parseReference(ref));
    } catch {
      // keep what was typed
    }
    throw noSuchImage(shown);
  }

  /** Layer directories of an image, lowest first. */
  layerDirs(image: ImageRecord): string[] {
    return image.config.rootfs.diff_ids.map((d) => join(this.#layersDir, hexOf(d), 'diff'));
  }

  /**
   * Extract an uncompressed-or-gzip tar stream into a new layer; returns its diff id. The
   * layer keeps a compressed blob for push and save: `opts.blob` when the input came from one
   * (a pull), else a gzip of the tar made while it flows (import, load). With
   * `opts.expectDiffId`, a layer whose tar hashes to anything else is refused and nothing is
   * stored.
   */
  async addLayer(input: Readable, opts: AddLayerOptions = {}): Promise<string> {
    const tmp = join(this.root, 'tmp', `layer-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
    await mkdir(join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    try {
      const hash = createHash('sha256');
      let size = 0;
      // Without a blob, the plain tar is gzipped beside the layer as it flows (zlib's output is
      // the same for the same input and level, so the blob digest is reproducible).
      const gzip = opts.blob ? undefined : createGzip({ level: zlibConstants.Z_BEST_SPEED });
      const blobHash = createHash('sha256');
      let blobSize = 0;
      const blobFile = join(tmp, 'blob');
      const blobOut = gzip ? createWriteStream(blobFile, { flags: 'wx', mode: 0o600 }) : undefined;
      if (gzip && blobOut) {
        gzip.on('data', (c: Buffer) => {
          blobHash.update(c);
          blobSize += c.length;
        });
        gzip.pipe(blobOut);
      }
      const onBytes = opts.onBytes;
      const tee = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          onBytes?.(size);
          if (gzip && !gzip.write(chunk)) gzip.once('drain', () => cb(null, chunk));
          else cb(null, chunk);
        },
      });
      const plain = await maybeGunzip(input);
      plain.on('error', (err) => tee.destroy(err));
      plain.pipe(tee);
      await applyLayer(tee, join(tmp, 'diff'), this.#idShift ? { uidShift: this.#idShift } : {});
      if (gzip && blobOut) {
        gzip.end();
        await finished(blobOut);
      }
      // The layer's root directory is the container's `/`: remapped root owns it too.
      if (this.#idShift) await chown(join(tmp, 'diff'), this.#idShift.uid, this.#idShift.gid);
      const diffId = `sha256:${hash.digest('hex')}`;
      if (opts.expectDiffId !== undefined && opts.expectDiffId !== diffId) {
        throw new EngineError('invalid', 'ERR_IMAGE_DIFF_ID_MISMATCH', `layer verification failed: the layer's content hashes to ${diffId}, the image config says ${opts.expectDiffId}`);
      }
      const blob: LayerBlob = opts.blob
        ? { digest: opts.blob.digest, size: opts.blob.size, mediaType: opts.blob.mediaType }
        : { digest: `sha256:${blobHash.digest('hex')}`, size: blobSize, mediaType: GZIP_LAYER_MEDIA_TYPE };
      const dest = join(this.#layersDir, hexOf(diffId));
      if (this.#layerSizes.has(diffId)) {
        await this.#addBlobToExisting(diffId, blob, opts.blob ? opts.blob.path : blobFile);
        await rm(tmp, { recursive: true, force: true });
        return diffId;
      }
      if (opts.blob) await rename(opts.blob.path, blobFile);
      await writeJsonAtomic(join(tmp, 'meta.json'), { diffId, size, blob } satisfies LayerMeta);
      await rename(tmp, dest);
      this.#layerSizes.set(diffId, size);
      this.#layerBlobs.set(diffId, blob);
      return diffId;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** A layer stored before blobs were kept gets the blob now. */
  async #addBlobToExisting(diffId: string, blob: LayerBlob, path: string): Promise<void> {
    if (this.#layerBlobs.has(diffId)) return;
    const dir = join(this.#layersDir, hexOf(diffId));
    await rename(path, join(dir, 'blob'));
    await writeJsonAtomic(join(dir, 'meta.json'), { diffId, size: this.#layerSizes.get(diffId)!, blob } satisfies LayerMeta);
    this.#layerBlobs.set(diffId, blob);
  }

  /** The compressed blob kept with a layer (push, save), or undefined for layers stored before blobs were kept. */
  layerBlob(diffId: string): (LayerBlob & { path: string }) | undefined {
    const b = this.#layerBlobs.get(diffId);
    return b ? { ...b, path: join(this.#layersDir, hexOf(diffId), 'blob') } : undefined;
  }

  /** True when a layer with this diff id is stored. */
  hasLayerSync(diffId: string): boolean {
    return this.#layerSizes.has(diffId);
  }

  /** The uncompressed size of a stored layer, 0 when unknown. */
  layerSize(diffId: string): number {
    return this.#layerSizes.get(diffId) ?? 0;
  }

  /** A private temporary path under the store (same filesystem as the layers: renames work). */
  tmpPath(prefix: string): string {
    return join(this.root, 'tmp', `${prefix}-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  }

  /** Store an image config; returns the image record. Tags it when `tag` is given. */
  async addImage(config: ImageConfig, tag?: string): Promise<ImageRecord> {
    return await this.addImageBytes(Buffer.from(JSON.stringify(config)), tag);
  }

  /**
   * Store an image config exactly as given (a pulled or loaded config: its bytes are what the
   * image id hashes). Every layer it names must be stored already.
   */
  async addImageBytes(bytes: Buffer, tag?: string): Promise<ImageRecord> {
    const id = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    let config: ImageConfig;
    try {
      config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
    } catch (err) {
      throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image config ${id}: ${(err as Error).message}`);
    }
    if (typeof config !== 'object' || config === null || config.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids)) {
      throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image config ${id}: rootfs.diff_ids is missing`);
    }
    config.config ??= {};
    config.history ??= [];
    for (const d of config.rootfs.diff_ids) {
      if (!this.#layerSizes.has(d)) throw new EngineError('invalid', 'ERR_IMAGE_BAD_CONFIG', `invalid image config ${id}: layer ${d} is not stored`);
    }
    await writeFileAtomic(join(this.#configsDir, `${hexOf(id)}.json`), bytes, 0o644);
    this.#configs.set(id, config);
    if (tag !== undefined) await this.tag(id, tag);
    return this.#record(id);
  }

  /**
   * The config bytes whose sha256 is the image id (push and save send exactly these). Configs
   * stored before raw bytes were kept are re-serialized compactly, which is how they were hashed.
   */
  async configBytes(id: string): Promise<Buffer> {
    const raw = await readFile(join(this.#configsDir, `${hexOf(id)}.json`));
    const check = (b: Buffer): boolean => `sha256:${createHash('sha256').update(b).digest('hex')}` === id;
    if (check(raw)) return raw;
    const compact = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))));
    if (check(compact)) return compact;
    throw new EngineError('internal', 'ERR_IMAGE_BAD_CONFIG', `stored config of ${id} does not hash to its id`);
  }

  /** Record `repo@sha256:…` for an image (after a pull or push). */
  async addRepoDigest(id: string, repoDigest: string): Promise<void> {
    await this.#lock.run(async () => {
      this.#digests.set(repoDigest, id);
      await writeJsonAtomic(this.#digestsFile, Object.fromEntries(this.#digests), 0o644);
    });
  }

  /** `docker import`: a rootfs tarball becomes a one-layer image. */
  async importTarball(input: Readable, opts: { tag?: string; changes?: readonly string[]; message?: string; arch: string }): Promise<ImageRecord> {
    const tag = opts.tag !== undefined && opts.tag !== '' ? familiarName(parseReference(opts.tag)) : undefined;
    const diffId = await this.addLayer(input);
    const created = new Date().toISOString();
    const config: ImageConfig = {
      architecture: opts.arch,
      os: 'linux',
      created,
      config: applyChanges({}, opts.changes ?? []),
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: 'moat import', ...(opts.message ? { comment: opts.message } : {}) }],
      ...(opts.message ? { comment: opts.message } : {}),
    };
    return await this.addImage(config, tag);
  }

  async tag(ref: string, newTag: string): Promise<void> {
    const image = this.get(ref);
    const name = familiarName(parseReference(newTag));
    await this.#lock.run(async () => {
      // A rebuild that changed nothing re-tags the same image: no write (and no fsync) needed.
      if (this.#tags.get(name) === image.id) return;
      this.#tags.set(name, image.id);
      await this.#saveTags();
    });
  }

  async #saveTags(): Promise<void> {
    await writeJsonAtomic(this.#tagsFile, Object.fromEntries(this.#tags), 0o644);
  }

  async #saveDigests(): Promise<void> {
    await writeJsonAtomic(this.#digestsFile, Object.fromEntries(this.#digests), 0o644);
  }

  #digestNameFor(ref: string): string | undefined {
    if (!ref.includes('@')) return undefined;
    try {
      const name = familiarName(parseReference(ref));
      return this.#digests.has(name) ? name : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * `docker rmi`: untag, and delete the image when no tag is left. `usedBy` names a
   * container using the image, which blocks deletion unless forced. An image other images
   * were built on is only untagged (by name) or refused (by id), as dockerd. With `prune`
   * (the API's default, `noprune=1` turns it off) the parents the deleted image leaves
   * untagged, childless and unused go too: a build's intermediate images.
   */
  async remove(ref: string, opts: { force: boolean; usedBy: (imageId: string) => string | undefined; prune?: boolean }): Promise<Array<Record<string, string>>> {
    const image = this.get(ref);
    return await this.#lock.run(async () => {
      const out: Array<Record<string, string>> = [];
      const byDigest = this.#digestNameFor(ref);
      if (byDigest !== undefined && (image.repoTags.length > 0 || image.repoDigests.length > 1) && !opts.force) {
        // `rmi repo@sha256:…` of an image that keeps other names only drops that name.
        this.#digests.delete(byDigest);
        await this.#saveDigests();
        return [{ Untagged: byDigest }];
      }
      const byName = this.#tagNameFor(ref);
      const user = opts.usedBy(image.id);
      if (byName !== undefined && (image.repoTags.length > 1 || (user === undefined) || opts.force)) {
        this.#tags.delete(byName);
        out.push({ Untagged: byName });
        if (image.repoTags.length > 1) {
          await this.#saveTags();
          return out;
        }
      } else if (byName === undefined && image.repoTags.length > 1 && !opts.force) {
        throw conflict(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
      }
      if (user !== undefined) {
        if (byName !== undefined && !opts.force) {
          throw conflict(`conflict: unable to remove repository reference "${byName}" (must force) - container ${shortId(user)} is using its referenced image ${shortId(image.id)}`);
        }
        if (!opts.force) throw conflict(`conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by running container ${shortId(user)}`);
        await this.#saveTags();
        return out;
      }
      if (this.childrenOf(image.id).length > 0) {
        // Images built on it keep it: a removed tag was all `rmi NAME` could do.
        if (byName !== undefined) {
          await this.#saveTags();
          return out;
        }
        throw conflict(`conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image has dependent child images`);
      }
      for (const t of image.repoTags) {
        if (this.#tags.delete(t)) out.push({ Untagged: t });
      }
      for (const d of image.repoDigests) {
        if (this.#digests.delete(d)) out.push({ Untagged: d });
      }
      await this.#saveTags();
      await this.#saveDigests();
      const deleted = [image];
      if (opts.prune !== false) deleted.push(...this.#prunableParents(image.id, opts.usedBy));
      // The records first (a crash leaves unreferenced layers, which init keeps but nothing lists).
      for (const gone of deleted) await rm(join(this.#configsDir, `${hexOf(gone.id)}.json`), { force: true });
      for (const gone of deleted) {
        this.#configs.delete(gone.id);
        this.#parents.delete(gone.id);
        out.push({ Deleted: gone.id });
      }
      await writeJsonAtomic(this.#parentsFile, Object.fromEntries(this.#parents), 0o644);
      for (const d of await this.#dropUnusedLayers(deleted.flatMap((g) => g.config.rootfs.diff_ids))) out.push({ Deleted: d });
      return out;
    });
  }

  /**
   * The ancestors of `id` that go with it: nearest first, each untagged, without digests, used
   * by no container and with no child but the one below it; the walk stops at the first that
   * must stay (a tagged base image, a stage another build still uses).
   */
  #prunableParents(id: string, usedBy: (imageId: string) => string | undefined): ImageRecord[] {
    const out: ImageRecord[] = [];
    let child = id;
    for (let p = this.parentOf(child); p !== undefined; p = this.parentOf(child)) {
      const rec = this.#record(p);
      if (rec.repoTags.length > 0 || rec.repoDigests.length > 0 || usedBy(p) !== undefined) break;
      if (this.childrenOf(p).some((c) => c !== child)) break;
      out.push(rec);
      child = p;
    }
    return out;
  }

  #tagNameFor(ref: string): string | undefined {
    if (/^(sha256:)?[a-f0-9]{4,64}$/.test(ref) && this.find(ref)?.id.slice(7).startsWith(hexOf(ref))) return undefined;
    try {
      const name = familiarName(parseReference(ref));
      return this.#tags.has(name) ? name : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Remove layers among `diffIds` that no image uses and `keep` does not protect (a failed
   * pull drops what it stored; layers other pulls are still writing are kept).
   */
  async dropUnreferencedLayers(diffIds: readonly string[], keep: (diffId: string) => boolean = () => false): Promise<string[]> {
    return await this.#lock.run(() => this.#dropUnusedLayers(diffIds.filter((d) => !keep(d))));
  }

  async #dropUnusedLayers(diffIds: readonly string[]): Promise<string[]> {
    const used = new Set<string>();
    for (const cfg of this.#configs.values()) for (const d of cfg.rootfs.diff_ids) used.add(d);
    const deleted: string[] = [];
    for (const d of diffIds) {
      if (used.has(d) || !this.#layerSizes.has(d)) continue;
      this.#layerSizes.delete(d);
      this.#layerBlobs.delete(d);
      await rm(join(this.#layersDir, hexOf(d)), { recursive: true, force: true });
      deleted.push(d);
    }
    return deleted;
  }

  /** True when the layer directory exists (for `doctor` and tests). */
  async hasLayer(diffId: string): Promise<boolean> {
    return await stat(join(this.#layersDir, hexOf(diffId), 'diff')).then(() => true, () => false);
  }

  async readLayerMeta(diffId: string): Promise<LayerMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#layersDir, hexOf(diffId), 'meta.json'), 'utf8')) as LayerMeta;
    } catch {
      return undefined;
    }
  }
}

/** The first chunk of a stream, put back so the stream still starts with it; null when empty. */
function peek(input: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    const onReadable = (): void => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      input.unshift(chunk);
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    input.on('readable', onReadable);
    input.once('end', onEnd);
    input.once('error', onError);
    onReadable();
  });
}

/**
 * The tar inside `input`: gunzipped when it starts with gzip's magic (1f 8b), else as is.
 * Piped (not hand-fed), so backpressure and errors follow Node's stream rules: a bad gzip
 * destroys the input and fails the output with a 400.
 */
async function maybeGunzip(input: Readable): Promise<Readable> {
  const head = await peek(input);
  const out = new PassThrough();
  input.on('error', (err) => out.destroy(err));
  if (head !== null && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: 64 * 1024 });
    gunzip.on('error', (err) => {
      input.destroy();
      out.destroy(new EngineError('invalid', 'ERR_IMAGE_BAD_TAR', `Cannot import image: ${err.message}`));
    });
    input.pipe(gunzip).pipe(out);
  } else {
    input.pipe(out);
  }
  return out;
}
