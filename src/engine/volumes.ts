// Local named volumes: `<dataRoot>/volumes/<name>/_data` plus `<name>/volume.json`
// (moby's `local` driver layout, `volume/local/local.go`). The store keeps who uses a
// volume in memory; the engine calls `use` when a container that mounts it is created
// (and again for every container found at startup) and `release` when it is removed.
import { mkdir, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EngineError, compareText, conflict, invalid, noSuchVolume, readJsonIfExists, removeStaleTempFiles, syncDir, writeJsonAtomic } from '../base/index.js';
import { openRoot, removePath, walk, errnoOf } from '../sys/index.js';
import { checkVolumeName } from '../docker/index.js';

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  /** RFC 3339, seconds precision with offset, as moby prints it. */
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  /** Made for a container's `Config.Volumes` / `-v /path` (removed with `rm -v`). */
  Anonymous: boolean;
}

/** The wire shape of `GET /volumes/{name}` and of each `GET /volumes` item. */
export interface VolumeView {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

export interface VolumeCreateOptions {
  labels?: Record<string, string>;
  options?: Record<string, string>;
  anonymous?: boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const RECORD = 'volume.json';

export class VolumeStore {
  readonly root: string;
  #users = new Map<string, Set<string>>();
  #cache = new Map<string, VolumeRecord>();
  #loaded: Promise<VolumeLoad> | undefined;
  /** Volumes whose create is under way, by name. */
  #creating = new Map<string, Promise<VolumeRecord>>();

  constructor(dataRoot: string) {
    this.root = join(dataRoot, 'volumes');
  }

  /**
   * Read every volume record once. A directory without a record is a create that never
   * finished (the record is written last): it is removed when its data dir is empty (it
   * never was mounted), kept otherwise. A record that does not parse is reported, not listed.
   */
  async load(): Promise<VolumeLoad> {
    this.#loaded ??= (async () => {
      const out: VolumeLoad = { removed: [], corrupt: [] };
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      for (const name of await readdir(this.root)) {
        if (!NAME.test(name)) continue;
        await removeStaleTempFiles(join(this.root, name));
        const path = join(this.root, name, RECORD);
        let rec: VolumeRecord | undefined;
        try {
          rec = await readJsonIfExists<VolumeRecord>(path);
        } catch (err) {
          out.corrupt.push({ name, path, reason: (err as Error).message });
          continue;
        }
        if (rec !== undefined && typeof rec === 'object' && rec !== null && rec.Name === name) this.#cache.set(name, rec);
        else if (rec !== undefined) out.corrupt.push({ name, path, reason: 'not a volume record' });
        else if (await isEmptyOrMissing(this.dataPath(name))) {
          await removePath(join(this.root, name));
          out.removed.push(name);
        }
      }
      return out;
    })();
    return await this.#loaded;
  }

  async #load(): Promise<void> {
    await this.load();
  }

  /** The host directory a container mounts for this volume. */
  dataPath(name: string): string {
    return join(this.root, name, '_data');
  }

  /** Create a volume; an existing one of the same name is returned unchanged (as moby). */
  async create(name: string | undefined, o: VolumeCreateOptions = {}): Promise<VolumeRecord> {
    await this.#load();
    return (await this.#createOrGet(name, o)).record;
  }

  /** Create `name` unless it exists (or is being made); true when this call made it. */
  async createIfMissing(name: string, o: VolumeCreateOptions = {}): Promise<boolean> {
    await this.#load();
    return (await this.#createOrGet(name, o)).made;
  }

  /**
   * Synchronous up to the directory's creation, so that a name asked for by several requests
   * at once (parallel `docker run -v new:/d`) is made once and the others get it (they got
   * an EEXIST 500 before).
   */
  #createOrGet(name: string | undefined, o: VolumeCreateOptions): Promise<{ record: VolumeRecord; made: boolean }> {
    const anonymous = name === undefined || name === '';
    const n = anonymous ? randomBytes(32).toString('hex') : name;
    checkVolumeName(n);
    const existing = this.#cache.get(n);
    if (existing) return Promise.resolve({ record: existing, made: false });
    const pending = this.#creating.get(n);
    if (pending) return pending.then((record) => ({ record, made: false }));
    // The local driver's mount options (type=tmpfs, device=...) would mount host devices:
    // refused rather than ignored.
    const keys = Object.keys(o.options ?? {});
    if (keys.length > 0) throw invalid(`create ${n}: volume options are not supported by moat: ${keys.sort().join(', ')}`);
    const rec: VolumeRecord = {
      Name: n,
      Driver: 'local',
      CreatedAt: rfc3339Seconds(new Date()),
      Labels: o.labels ?? {},
      Options: {},
      Anonymous: o.anonymous ?? anonymous,
    };
    const making = this.#make(rec).finally(() => this.#creating.delete(n));
    this.#creating.set(n, making);
    return making.then((record) => ({ record, made: true }));
  }

  async #make(rec: VolumeRecord): Promise<VolumeRecord> {
    const n = rec.Name;
    // The record is written last; a failure before it removes what was made (a crash leaves a
    // directory without a record, which load() removes at the next start).
    try {
      await mkdir(join(this.root, n), { mode: 0o701 });
      await mkdir(this.dataPath(n), { mode: 0o755 });
      await writeJsonAtomic(join(this.root, n, RECORD), rec);
      // The volume directory's own entry in the root (the record's write syncs only its directory).
      await syncDir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await removePath(join(this.root, n)).catch(() => undefined);
      throw err;
    }
    this.#cache.set(n, rec);
    return rec;
  }

  /** For the engine: the host path of `name`, creating the volume when it does not exist. */
  async ensure(name: string): Promise<string> {
    await this.create(name);
    return this.dataPath(name);
  }

  find(name: string): VolumeRecord | undefined {
    return this.#cache.get(name);
  }

  async get(name: string): Promise<VolumeRecord> {
    await this.#load();
    const v = this.#cache.get(name);
    if (!v) throw noSuchVolume(name);
    return v;
  }

  async list(): Promise<VolumeRecord[]> {
    await this.#load();
    return [...this.#cache.values()].sort((a, b) => compareText(a.Name, b.Name));
  }

  /** Record that `containerId` mounts `name`. */
  use(name: string, containerId: string): void {
    let set = this.#users.get(name);
    if (!set) this.#users.set(name, (set = new Set()));
    set.add(containerId);
  }

  /** Forget `containerId` for one volume, or for every volume when `name` is undefined. */
  release(name: string | undefined, containerId: string): void {
    for (const [n, set] of this.#users) {
      if (name !== undefined && n !== name) continue;
      set.delete(containerId);
      if (set.size === 0) this.#users.delete(n);
    }
  }

  usersOf(name: string): string[] {
    return [...(this.#users.get(name) ?? [])];
  }

  /**
   * Remove a volume. `inUse` adds users the store was not told about (containers whose
   * HostConfig names the volume). `force` only forgives a missing volume, as in moby.
   */
  async remove(name: string, o: { force?: boolean; inUse?: readonly string[] } = {}): Promise<void> {
    await this.#load();
    const v = this.#cache.get(name);
    if (!v) {
      if (o.force) return;
      throw noSuchVolume(name);
    }
    const users = new Set([...this.usersOf(name), ...(o.inUse ?? [])]);
    if (users.size > 0) {
      throw conflict(`remove ${name}: volume is in use - [${[...users].join(', ')}]`);
    }
    const st = await lstat(join(this.root, name)).catch(() => undefined);
    if (st && !st.isDirectory()) throw new EngineError('internal', 'ERR_VOLUME_CORRUPT', `remove ${name}: not a directory`);
    // Containers wrote the content: removed through src/sys, never following a link or entering a mount.
    await removePath(join(this.root, name));
    this.#cache.delete(name);
    this.#users.delete(name);
  }

  /** Size in bytes of a volume's data (for `docker system df -v`-like usage). */
  async size(name: string): Promise<number> {
    return await dirSize(this.dataPath(name));
  }
}

export interface VolumeLoad {
  /** Directories of creates that never finished, removed. */
  removed: string[];
  /** Records that could not be read: not listed. */
  corrupt: Array<{ name: string; path: string; reason: string }>;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Bytes under a dir a container writes (a volume's data, an upper dir), walked through src/sys (a container may be rewriting it). */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let root;
  try {
    root = openRoot(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return 0;
    throw err;
  }
  try {
    await walk(
      root,
      ({ stat }) => {
        if (!stat.isDirectory()) total += stat.size;
      },
      { noXdev: true },
    );
  } finally {
    root.close();
  }
  return total;
}

/** `2026-11-29T01:02:03Z`: moby prints CreatedAt with seconds precision. */
function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function volumeView(v: VolumeRecord, mountpoint: string, usage?: { Size: number; RefCount: number }): VolumeView {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Mountpoint: mountpoint,
    CreatedAt: v.CreatedAt,
    Labels: v.Labels,
    Options: v.Options,
    Scope: 'local',
    ...(usage ? { UsageData: usage } : {}),
  };
}
