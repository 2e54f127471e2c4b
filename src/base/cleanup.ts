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

/**
 * Wait for every one of `work`, then throw the first failure: an undo never starts while
 * one of them may still be writing where the undo removes.
 */
export async function allSettledOrThrow(work: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
