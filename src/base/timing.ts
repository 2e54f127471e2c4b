// Time the phases of one operation, for debug logs. Pure.

/** Milliseconds spent in each phase of an operation, for debug logs. */
export class PhaseTimer {
  #last = performance.now();
  #phases: Record<string, number> = {};
  mark(name: string): void {
    const now = performance.now();
    this.#phases[name] = Math.round((now - this.#last) * 10) / 10 + (this.#phases[name] ?? 0);
    this.#last = now;
  }
  done(): Record<string, number> {
    return this.#phases;
  }
}
