// Request bodies are read whole before authorization (plugins must see all of them), so
// their bytes sit in moatd's memory until the request is done. Without a bound across
// connections, N unfinished uploads hold N × max-request-body (issue 11 finding 6: 40 of them
// took 600 MB). The budget counts those bytes for everyone and per caller (SO_PEERCRED uid,
// TLS CN); a request that would pass either bound is answered 503, never buffered. Pure.

/** Defaults: four bodies of the default 16 MiB limit in flight, two per caller. */
export const DEFAULT_BODY_BUDGET_TOTAL = 64 * 1024 * 1024;
export const DEFAULT_BODY_BUDGET_PER_CALLER = 32 * 1024 * 1024;

/**
 * Bytes of request bodies held in memory.
 *
 * @example
 * const budget = new BodyBudget({ total: 64 << 20, perCaller: 32 << 20 });
 * const grant = budget.reserve('uid:1000', 4096); // false: answer 503
 */
export class BodyBudget {
  readonly total: number;
  readonly perCaller: number;
  #used = 0;
  readonly #byCaller = new Map<string, number>();

  constructor(o: { total?: number; perCaller?: number } = {}) {
    this.total = o.total ?? DEFAULT_BODY_BUDGET_TOTAL;
    this.perCaller = Math.min(o.perCaller ?? DEFAULT_BODY_BUDGET_PER_CALLER, this.total);
  }

  /** Bytes held now, in all and by one caller. */
  get used(): number {
    return this.#used;
  }

  usedBy(caller: string): number {
    return this.#byCaller.get(caller) ?? 0;
  }

  /**
   * Take `n` more bytes for `caller`: `ok`, or which bound it would pass (nothing taken).
   */
  reserve(caller: string, n: number): 'ok' | 'total' | 'caller' {
    const mine = this.usedBy(caller);
    if (mine + n > this.perCaller) return 'caller';
    if (this.#used + n > this.total) return 'total';
    this.#used += n;
    this.#byCaller.set(caller, mine + n);
    return 'ok';
  }

  release(caller: string, n: number): void {
    if (n <= 0) return;
    const mine = this.usedBy(caller);
    const left = Math.max(0, mine - n);
    this.#used = Math.max(0, this.#used - Math.min(n, mine));
    if (left === 0) this.#byCaller.delete(caller);
    else this.#byCaller.set(caller, left);
  }
}
