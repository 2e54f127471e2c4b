// Learns about exits from conmon's exit files: one file per container id, holding the
// exit code. fs.watch gives prompt notice; a periodic scan covers missed events.
import { readdirSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export class ExitMonitor {
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seen = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly onExit: (id: string, code: number) => void,
    private readonly isWatched: (id: string) => boolean,
  ) {}

  start(): void {
    this.#watcher = watch(this.dir, () => void this.scan());
    this.#watcher.on('error', () => undefined);
    this.#timer = setInterval(() => void this.scan(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
  }

  // The exit dir is moatd's own and holds a few small files (one per container that exited
  // and is not yet recorded): read synchronously, microseconds where the thread pool took
  // five round trips between conmon's write and the exit's handling.

  /** The exit code conmon recorded for `id`, if it exited. */
  async read(id: string): Promise<number | undefined> {
    return this.#readNow(id);
  }

  #readNow(id: string): number | undefined {
    try {
      const text = readFileSync(join(this.dir, id), 'utf8').trim();
      if (text === '') return undefined;
      const n = Number(text);
      return Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async clear(id: string): Promise<void> {
    this.#seen.delete(id);
    // One unlink in moatd's own exit dir: synchronous, not two thread-pool round trips.
    rmSync(join(this.dir, id), { force: true });
  }

  async scan(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const id of names) {
      if (this.#seen.has(id) || !this.isWatched(id)) continue;
      const code = this.#readNow(id);
      if (code === undefined) continue;
      if (this.#seen.has(id)) continue;
      this.#seen.add(id);
      this.onExit(id, code);
    }
  }

  /** Forget that we reported `id` (it will be started again). */
  reset(id: string): void {
    this.#seen.delete(id);
  }
}
