// The daemon's own cgroup parent (`<moatd's cgroup>/moat` in every hierarchy) goes when no
// container is live, an idle period after the last one's removal, not at once: back-to-back
// `run --rm`s would otherwise rmdir it after each (4-11 ms of rmdirs in a dozen v1
// hierarchies, off the wait's answer but not off the CPU) and have the next `runc create`
// make it again. A runtime create never runs while the removal does: runc makes the leaf
// with the parent levels, and an rmdir between the two fails the create.

/** What the parent's removal needs from the engine. */
export interface DaemonCgroupHooks {
  /** rmdir the parent in every hierarchy (one that still holds a cgroup stays). */
  remove(): Promise<void>;
  /** True when no container is live (running, paused, restarting). */
  idle(): boolean;
}

/** Default idle period before the parent goes. */
export const DAEMON_CGROUP_IDLE_MS = 5000;

export class DaemonCgroupParent {
  readonly #hooks: DaemonCgroupHooks;
  readonly #idleMs: number;
  #timer: NodeJS.Timeout | undefined;
  #removal: Promise<void> | undefined;
  /** Runtime creates between `beforeCreate` and `afterCreate`. */
  #creating = 0;

  constructor(hooks: DaemonCgroupHooks, idleMs = DAEMON_CGROUP_IDLE_MS) {
    this.#hooks = hooks;
    this.#idleMs = idleMs;
  }

  /** Before a runtime create: a scheduled removal is cancelled, one under way waited for. */
  async beforeCreate(): Promise<void> {
    this.#creating += 1;
    this.#cancel();
    await this.#removal;
  }

  /** After the runtime create (done or failed): with nothing live, the idle period starts again. */
  afterCreate(): void {
    this.#creating -= 1;
    this.scheduleIfIdle();
  }

  /** The last live container went (a removal, a failed start, moatd's start): remove after the idle period. */
  scheduleIfIdle(): void {
    if (this.#creating > 0 || !this.#hooks.idle()) return;
    this.#cancel();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#removeNow();
    }, this.#idleMs);
    this.#timer.unref();
  }

  /** moatd stops: a scheduled removal happens now, and any under way is waited for. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#cancel();
      await this.#removeNow();
    }
    await this.#removal;
  }

  #cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #removeNow(): Promise<void> {
    // Checked again: a container may have started since it was scheduled.
    if (this.#creating > 0 || this.#removal !== undefined || !this.#hooks.idle()) return;
    const removal = this.#hooks.remove().finally(() => {
      if (this.#removal === removal) this.#removal = undefined;
    });
    this.#removal = removal;
    await removal;
  }
}
