// Learns about exits from conmon's exit files: one file per container id, holding the
// exit code. fs.watch gives prompt notice; a periodic scan covers missed events.
import { rmSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
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

  /** The exit code conmon recorded for `id`, if it exited. */
  async read(id: string): Promise<number | undefined> {
    try {
      const text = (await readFile(join(this.dir, id), 'utf8')).trim();
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
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const id of names) {
      if (this.#seen.has(id) || !this.isWatched(id)) continue;
      const code = await this.read(id);
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
