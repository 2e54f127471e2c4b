/** Deferred undo steps, run in reverse order; failures are collected, never thrown. */
export class CleanupStack {
  #steps: Array<() => unknown> = [];

  defer(step: () => unknown): void {
    this.#steps.push(step);
  }

  /** Forget the steps (the operation succeeded). */
  dismiss(): void {
    this.#steps = [];
  }

  async unwind(): Promise<unknown[]> {
    const failures: unknown[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    }
    return failures;
  }
}
