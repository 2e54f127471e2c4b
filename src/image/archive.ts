// `docker save` and `docker load`. Save writes the docker-archive layout dockerd 20.10 writes
// and loads (`manifest.json`, `repositories`, `<config>.json`, `<layer>/layer.tar`). Load
// accepts that layout and the OCI image layout (`index.json`, `oci-layout`, `blobs/sha256/…`);
// every layer must hash to its config's diff id, every OCI blob to its digest, before the
// image is stored.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { EngineError, errorText, type Logger } from '../base/index.js';
import type { ImageRecord, ImageStore } from './store.js';
import { familiarName, parseReference } from './reference.js';
import { MEDIA, parseManifest, selectPlatform, hostPlatform, type Descriptor } from './registry/manifest.js';
import { layerProgress, shortDigest, ProgressThrottle, type ProgressSink } from './progress.js';
import { countBytes } from './pull.js';

const CONFIG_LIMIT = 16 * 1024 * 1024;

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

/** What to save: the image and the names requested for it (RepoTags in manifest.json). */
export interface SaveItem {
  image: ImageRecord;
  tags: string[];
}

/** The uncompressed tar of a stored layer, from its kept blob. */
function layerTar(store: ImageStore, diffId: string): Readable {
  const blob = store.layerBlob(diffId);
  if (!blob) throw new EngineError('conflict', 'ERR_SAVE_NO_BLOB', `Cannot save layer ${diffId}: it was stored before moat kept layer blobs`);
  const file = createReadStream(blob.path);
  if (blob.mediaType === MEDIA.ociLayer) return file;
  const gunzip = createGunzip();
  file.on('error', (err) => gunzip.destroy(err));
  return file.pipe(gunzip);
}

/** Throws 409 when an image has a layer without a kept blob (checked before any byte is sent). */
export function checkSavable(store: ImageStore, items: readonly SaveItem[]): void {
  for (const it of items) {
    for (const d of it.image.config.rootfs.diff_ids) {
      if (!store.layerBlob(d)) throw new EngineError('conflict', 'ERR_SAVE_NO_BLOB', `Cannot save layer ${d}: it was stored before moat kept layer blobs`);
    }
  }
}

/**
 * Write a docker-archive of `items` to `out` (the response). Shared layers are written once.
 *
 * @example
 * await saveImages(store, [{ image, tags: ['bb:local'] }], res);
 */
export async function saveImages(store: ImageStore, items: readonly SaveItem[], out: NodeJS.WritableStream): Promise<void> {
  checkSavable(store, items);
  const pack = tar.pack();
  const done = pipeline(pack, out as unknown as NodeJS.WritableStream);
  const mtime = new Date(0);
  const addBuffer = (name: string, data: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry({ name, size: data.length, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve()));
    });
  const addDir = (name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry({ name, type: 'directory', mode: 0o755, mtime }, (err) => (err ? reject(err) : resolve()));
    });
  try {
    const written = new Set<string>();
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const it of items) {
      const configName = `${hexOf(it.image.id)}.json`;
      if (!written.has(configName)) {
        await addBuffer(configName, await store.configBytes(it.image.id));
        written.add(configName);
      }
      const layers: string[] = [];
      for (const d of it.image.config.rootfs.diff_ids) {
        const dir = hexOf(d);
        layers.push(`${dir}/layer.tar`);
        if (written.has(dir)) continue;
        written.add(dir);
        await addDir(`${dir}/`);
        await addBuffer(`${dir}/VERSION`, Buffer.from('1.0'));
        const size = store.layerSize(d);
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ name: `${dir}/layer.tar`, size, mode: 0o644, mtime }, (err) => (err ? reject(err) : resolve()));
          pipeline(layerTar(store, d), entry).catch(reject);
        });
      }
      manifest.push({ Config: configName, RepoTags: it.tags.length > 0 ? it.tags : null, Layers: layers });
      const top = layers[layers.length - 1]?.split('/')[0] ?? '';
      for (const t of it.tags) {
        const colon = t.lastIndexOf(':');
        (repositories[t.slice(0, colon)] ??= {})[t.slice(colon + 1)] = top;
      }
    }
    await addBuffer('manifest.json', Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length > 0) await addBuffer('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
    await done;
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
}

// ---- load --------------------------------------------------------------------------------

interface Spooled {
  path: string;
  size: number;
  digest: string;
}

/** Archive member names are only keys here (files are spooled under numbered names), but refuse nonsense. */
function memberName(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..') || name.includes('\0')) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: member ${JSON.stringify(name)} escapes the archive`);
  return parts.join('/');
}

/** Read the whole archive into a private directory, hashing each member as it is written. */
async function spool(input: Readable, dir: string): Promise<Map<string, Spooled>> {
  const files = new Map<string, Spooled>();
  const extract = tar.extract();
  const feeding = pipeline(input, extract);
  feeding.catch(() => undefined);
  let n = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      if ((h.type ?? 'file') !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const name = memberName(h.name);
      const path = join(dir, String(n++));
      const hash = createHash('sha256');
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      await pipeline(entry, counter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      files.set(name, { path, size, digest: `sha256:${hash.digest('hex')}` });
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    input.destroy();
    if (err instanceof EngineError) throw err;
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: ${errorText(err)}`, { cause: err });
  }
  return files;
}

async function readSmall(f: Spooled, what: string): Promise<Buffer> {
  if (f.size > CONFIG_LIMIT) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: ${what} is too large`);
  return await readFile(f.path);
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch (err) {
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: ${what}: ${(err as Error).message}`);
  }
}

/** One image found in an archive, ready to be stored. */
interface Candidate {
  config: Buffer;
  /** layer files in order, with the compressed blob they are when known (OCI) */
  layers: Array<{ file: Spooled; blob?: Descriptor }>;
  tags: string[];
}

function dockerArchive(files: Map<string, Spooled>, manifestFile: Spooled): Promise<Candidate[]> {
  return (async () => {
    const list = parseJson<Array<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }>>(await readSmall(manifestFile, 'manifest.json'), 'manifest.json');
    if (!Array.isArray(list)) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', 'invalid archive: manifest.json is not a list');
    const out: Candidate[] = [];
    for (const [i, m] of list.entries()) {
      const cfg = files.get(memberName(String(m.Config ?? '')));
      if (!cfg) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: manifest.json[${i}].Config ${JSON.stringify(m.Config)} is not in the archive`);
      const layers = (m.Layers ?? []).map((l, j) => {
        const f = files.get(memberName(String(l)));
        if (!f) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: manifest.json[${i}].Layers[${j}] ${JSON.stringify(l)} is not in the archive`);
        // Newer dockerd points Layers at OCI blobs: a member named for its digest must hash to it.
        const m2 = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(memberName(String(l)));
        if (m2 && f.digest !== `sha256:${m2[1]}`) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: blob ${l} does not match its digest`);
        return { file: f };
      });
      out.push({ config: await readSmall(cfg, String(m.Config)), layers, tags: (m.RepoTags ?? []).map(String) });
    }
    return out;
  })();
}

async function ociLayout(files: Map<string, Spooled>, indexFile: Spooled): Promise<Candidate[]> {
  const blob = (d: Descriptor): Spooled => {
    const f = files.get(`blobs/sha256/${hexOf(d.digest)}`);
    if (!f) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: blob ${d.digest} is missing`);
    if (f.digest !== d.digest || f.size !== d.size) throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: blob ${d.digest} does not match its digest or size`);
    return f;
  };
  const index = parseManifest(await readSmall(indexFile, 'index.json'), MEDIA.ociIndex, 'index.json');
  if (index.kind !== 'index') throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', 'invalid archive: index.json is not an index');
  const out: Candidate[] = [];
  for (const top of index.manifests) {
    const ann = top.annotations ?? {};
    const refName = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name'];
    let tags: string[] = [];
    if (refName !== undefined) {
      try {
        const r = parseReference(refName);
        if (r.tag !== undefined || (r.digest === undefined && refName.includes(':'))) tags = [familiarName(r)];
      } catch {
        tags = []; // a bare tag like "latest" names no repository
      }
    }
    let desc = top;
    let m = parseManifest(await readSmall(blob(desc), desc.digest), desc.mediaType, desc.digest);
    if (m.kind === 'index') {
      desc = selectPlatform(m.manifests, hostPlatform());
      m = parseManifest(await readSmall(blob(desc), desc.digest), desc.mediaType, desc.digest);
    }
    if (m.kind !== 'image') throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: ${desc.digest} is not an image manifest`);
    const config = await readSmall(blob(m.config), m.config.digest);
    out.push({ config, layers: m.layers.map((l) => ({ file: blob(l), blob: l })), tags });
  }
  return out;
}

export interface LoadResult {
  images: Array<{ image: ImageRecord; tags: string[] }>;
}

/**
 * `docker load`: read an archive from `input`, store its images. Progress (`Loading layer`)
 * unless quiet; `Loaded image: …` lines always. A failure stores nothing.
 */
export async function loadImages(store: ImageStore, input: Readable, o: { progress: ProgressSink; quiet: boolean; log: Logger }): Promise<LoadResult> {
  const dir = store.tmpPath('load');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const added: string[] = [];
  try {
    const files = await spool(input, dir);
    const manifestFile = files.get('manifest.json');
    const indexFile = files.get('index.json');
    let candidates: Candidate[];
    if (manifestFile) candidates = await dockerArchive(files, manifestFile);
    else if (indexFile) candidates = await ociLayout(files, indexFile);
    else throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', 'invalid archive: no manifest.json (docker-archive) or index.json (OCI layout) in the tar');
    const throttle = new ProgressThrottle(o.progress);
    const out: LoadResult = { images: [] };
    for (const c of candidates) {
      const cfg = parseJson<{ rootfs?: { diff_ids?: unknown } }>(c.config, 'image config');
      const diffIds = cfg.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== c.layers.length) {
        throw new EngineError('invalid', 'ERR_IMAGE_BAD_ARCHIVE', `invalid archive: the config names ${Array.isArray(diffIds) ? diffIds.length : 0} layers, the archive has ${c.layers.length}`);
      }
      for (const [i, l] of c.layers.entries()) {
        const diffId = String(diffIds[i]);
        const id = shortDigest(diffId);
        if (store.hasLayerSync(diffId)) continue;
        const raw = createReadStream(l.file.path);
        const input2 = o.quiet ? raw : countBytes(raw, (n) => throttle.progress(id, 'Loading layer', n, l.file.size));
        const keepBlob = l.blob && l.blob.mediaType !== MEDIA.ociLayerZstd ? { path: `${l.file.path}.blob`, digest: l.blob.digest, size: l.blob.size, mediaType: l.blob.mediaType } : undefined;
        if (keepBlob) {
          // The OCI blob becomes the layer's kept blob: copy it aside (the spooled file is being read).
          await pipeline(createReadStream(l.file.path), createWriteStream(keepBlob.path, { flags: 'wx', mode: 0o600 }));
        }
        const stored = await store.addLayer(input2, { expectDiffId: diffId, ...(keepBlob ? { blob: keepBlob } : {}) });
        added.push(stored);
        if (!o.quiet) o.progress(layerProgress(id, 'Loading layer', l.file.size, l.file.size));
      }
      const image = await store.addImageBytes(c.config);
      const tags: string[] = [];
      for (const t of c.tags) {
        const name = familiarName(parseReference(t));
        await store.tag(image.id, name);
        tags.push(name);
      }
      out.images.push({ image: store.get(image.id), tags });
      if (tags.length === 0) o.progress({ stream: `Loaded image ID: ${image.id}\n` });
      for (const t of tags) o.progress({ stream: `Loaded image: ${t}\n` });
    }
    return out;
  } catch (err) {
    await store.dropUnreferencedLayers(added).catch((e: unknown) => o.log.warn({ err: errorText(e) }, 'cleanup after failed load'));
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

