// The engine's containers in memory: records by id, names (reserved before any await, so
// parallel requests for one name see it taken), one lock per container, waiters, and the one
// way a record changes (`commit`: written first, then adopted). Records whose file is corrupt
// are listed as Dead and never written over.
import { conflict, invalid, isValidName, noSuchContainer } from '../base/index.js';
import type { ScanEntry } from './store.js';
import type { ContainerRecord } from './types.js';
import { KeyedLock } from './util.js';
import { ZERO_TIME } from './plan.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

interface Waiter {
  condition: WaitCondition;
  generation: number;
  resolve: (r: WaitResult) => void;
}

/** True while a container's process runs (running or paused). */
export function isLiveRecord(c: ContainerRecord): boolean {
  return c.State.Status === 'running' || c.State.Status === 'paused';
}

export class ContainerTable {
  readonly #records = new Map<string, ContainerRecord>();
  /** Names taken by creates and renames still writing their record (name -> container id). */
  readonly #reservedNames = new Map<string, string>();
  /** Containers whose record on disk is corrupt: listed as Dead, never written over. */
  readonly #corrupt = new Set<string>();
  readonly #waiters = new Map<string, Waiter[]>();
  /** One lifecycle operation per container at a time. */
  readonly lock = new KeyedLock();
  /** Record writes, one at a time per container (recordWrite). */
  readonly #writes = new KeyedLock();

  constructor(private readonly save: (rec: ContainerRecord, durable: boolean) => Promise<void>) {}

  list(): ContainerRecord[] {
    return [...this.#records.values()];
  }

  byId(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  has(id: string): boolean {
    return this.#records.has(id);
  }

  add(rec: ContainerRecord): void {
    this.#records.set(rec.Id, rec);
  }

  delete(id: string): void {
    this.#records.delete(id);
    this.#corrupt.delete(id);
  }

  isLive(id: string): boolean {
    const c = this.#records.get(id);
    return c !== undefined && isLiveRecord(c);
  }

  /** By full id, name (with or without '/'), or unique id prefix. */
  find(ref: string): ContainerRecord | undefined {
    const byId = this.#records.get(ref);
    if (byId) return byId;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const c of this.#records.values()) if (c.Name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.#records.values()].filter((c) => c.Id.startsWith(ref));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw invalid(`multiple IDs found with provided prefix: ${ref}`);
    }
    return undefined;
  }

  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw noSuchContainer(ref);
    return c;
  }

  /**
   * The id holding a name (without '/'): a container's, or a create or rename still writing
   * its record. Names are unique among names only: a name may look like another container's
   * id prefix, as with moby's name index.
   */
  nameHolder(name: string): string | undefined {
    const reserved = this.#reservedNames.get(name);
    if (reserved !== undefined) return reserved;
    for (const c of this.#records.values()) if (c.Name === `/${name}`) return c.Id;
    return undefined;
  }

  /**
   * Take a name for `id` now, before any await: parallel requests for one name see it taken
   * (moby reserves names in its registrar the same way). Returns the release function.
   */
  reserveName(name: string, id: string): () => void {
    const holder = this.nameHolder(name);
    if (holder !== undefined && holder !== id) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.#reservedNames.set(name, id);
    return () => {
      if (this.#reservedNames.get(name) === id) this.#reservedNames.delete(name);
    };
  }

  // ---- corrupt records -------------------------------------------------------------------

  isCorrupt(id: string): boolean {
    return this.#corrupt.has(id);
  }

  /** List a record that cannot be read as Dead, with the reason, its name kept when readable. */
  addCorrupt(e: Extract<ScanEntry, { kind: 'corrupt' }>): ContainerRecord {
    const raw = typeof e.raw === 'object' && e.raw !== null && !Array.isArray(e.raw) ? (e.raw as Record<string, unknown>) : {};
    const rawName = typeof raw['Name'] === 'string' ? raw['Name'].replace(/^\//, '') : '';
    const name = isValidName(rawName) && this.nameHolder(rawName) === undefined ? rawName : e.id.slice(0, 12);
    const created = typeof raw['Created'] === 'string' && !Number.isNaN(Date.parse(raw['Created'])) ? raw['Created'] : e.modified.toISOString();
    const rawConfig = typeof raw['Config'] === 'object' && raw['Config'] !== null ? (raw['Config'] as Record<string, unknown>) : {};
    const rec: ContainerRecord = {
      Id: e.id,
      Name: `/${name}`,
      Created: created,
      Image: typeof raw['Image'] === 'string' ? raw['Image'] : '',
      Path: '',
      Args: [],
      Config: { Image: typeof rawConfig['Image'] === 'string' ? rawConfig['Image'] : '' },
      HostConfig: {},
      State: { Status: 'dead', Pid: 0, ExitCode: 0, Error: `the container record is corrupt: ${e.reason}`, StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false },
      RestartCount: 0,
      ExitGeneration: 0,
    };
    this.#corrupt.add(e.id);
    this.#records.set(e.id, rec);
    return rec;
  }

  /**
   * Change a container's record: the change is made on a copy, the copy is written, and only
   * then does the record in memory become the copy. A failed write leaves memory as the disk.
   * With `applyAfter`, memory changes only once that has fulfilled too (the write runs
   * alongside it); when it rejects, the commit does, memory unchanged, disk already changed:
   * the caller writes what is true next (a failed start's record).
   */
  async commit(c: ContainerRecord, change: (next: ContainerRecord) => void, o: { durable?: boolean; applyAfter?: Promise<unknown> } = {}): Promise<void> {
    await this.recordWrite(c.Id, async () => {
      if (this.#corrupt.has(c.Id)) throw conflict(`container ${c.Id} has a corrupt record: remove it with rm -f`);
      const next = structuredClone(c);
      change(next);
      await this.save(next, o.durable !== false);
      await o.applyAfter;
      replaceRecord(c, next);
    });
  }

  /**
   * One change of a container's record at a time, in call order, each made on the record as
   * the one before left it. Not every change holds the operation lock (an exit's does not), so
   * without this two writes could land out of order: a rename's copy, taken before an exit
   * and renamed over the record after it, put "running" back on disk after the exit file was
   * cleared, and a restart then found a running record, no process and no exit code (255).
   * `fn` must not commit the same container itself.
   */
  recordWrite<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#writes.run(id, fn);
  }

  // ---- waiters ---------------------------------------------------------------------------

  /** Resolves with the exit code when the condition holds (at once for a stopped container and `not-running`). */
  wait(c: ContainerRecord, condition: WaitCondition): Promise<WaitResult> {
    if (condition === 'not-running' && !isLiveRecord(c)) return Promise.resolve({ StatusCode: c.State.ExitCode, Error: null });
    return new Promise((resolve) => this.#addWaiter(c, condition, resolve));
  }

  /** Resolves when the container's current run has exited (its exit handled). */
  exited(c: ContainerRecord): Promise<void> {
    if (!isLiveRecord(c)) return Promise.resolve();
    return new Promise((resolve) => this.#addWaiter(c, 'next-exit', () => resolve()));
  }

  #addWaiter(c: ContainerRecord, condition: WaitCondition, resolve: (r: WaitResult) => void): void {
    const list = this.#waiters.get(c.Id) ?? [];
    list.push({ condition, generation: c.ExitGeneration, resolve });
    this.#waiters.set(c.Id, list);
  }

  /** Answer waiters; `endedRun` says a run just ended even if its record could not be written. */
  resolveWaiters(c: ContainerRecord, conditions: WaitCondition[], endedRun?: { exitCode: number }): void {
    const list = this.#waiters.get(c.Id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (conditions.includes(w.condition) && (w.condition !== 'next-exit' || endedRun !== undefined || c.ExitGeneration > w.generation)) {
        w.resolve({ StatusCode: endedRun?.exitCode ?? c.State.ExitCode, Error: null });
      } else keep.push(w);
    }
    if (keep.length > 0) this.#waiters.set(c.Id, keep);
    else this.#waiters.delete(c.Id);
  }

  /** The container is gone: every waiter gets its last exit code. */
  releaseWaiters(c: ContainerRecord): void {
    const list = this.#waiters.get(c.Id) ?? [];
    this.#waiters.delete(c.Id);
    for (const w of list) w.resolve({ StatusCode: c.State.ExitCode, Error: null });
  }

  /** The labels and names `docker events` shows for a container. */
  attrs(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(c.Config.Labels ?? {}), image: c.Config.Image, name: c.Name.slice(1), ...extra };
  }
}

/** Make `target` (the object everyone holds) equal to `next`, keeping its identity. */
export function replaceRecord(target: ContainerRecord, next: ContainerRecord): void {
  for (const k of Object.keys(target)) if (!(k in next)) delete (target as unknown as Record<string, unknown>)[k];
  Object.assign(target, next);
}
