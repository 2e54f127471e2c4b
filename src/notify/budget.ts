// How much of the shared listener one container may use (issue 11, finding 7). Pure: the
// listener passes a monotonic clock in milliseconds.
//
// Every notified syscall wakes the one listener all containers share, and the kernel gives
// no way to stop or batch notifications (a loaded filter cannot change; ERRNO wins over
// USER_NOTIF only in a filter the task loads itself). So the listener bounds its own work
// per container:
// - answers: a container may have `answerBurst` notifications answered at once, then
//   `answerPerSecond`. Past that its notify fds are not read: its callers wait in the kernel
//   (interruptible, using no CPU) until a token frees up, then get the same errno. All
//   throttled containers together share `throttledPerSecond`, so any number of flooding
//   containers cost the listener at most that many answers a second beyond their bursts.
// - records: each syscall name of a container `syscallRecordBurst`, then
//   `syscallRecordPerSecond`, and the container as a whole `recordBurst`, then
//   `recordPerSecond`. A denial past either is answered without reading /proc or writing a
//   line, and counted in the next record's `suppressed`.

/** The budgets; {@link DEFAULT_LIMITS} is what the listener uses. */
export interface BudgetLimits {
  readonly answerBurst: number;
  readonly answerPerSecond: number;
  readonly throttledPerSecond: number;
  readonly recordBurst: number;
  readonly recordPerSecond: number;
  readonly syscallRecordBurst: number;
  readonly syscallRecordPerSecond: number;
}

/**
 * Measured here (bench/seccomp-listener.ts): two throttled containers cost the listener ~5 %
 * of one core (~50 µs per answer, poll and event-loop turn included), so all throttled
 * containers together stay near 10 %.
 */
export const DEFAULT_LIMITS: BudgetLimits = {
  answerBurst: 1000,
  answerPerSecond: 500,
  throttledPerSecond: 2000,
  recordBurst: 200,
  recordPerSecond: 20,
  syscallRecordBurst: 20,
  syscallRecordPerSecond: 1,
};

/** A token bucket over a caller-supplied clock (ms); the refill rate may change per call. */
export class TokenBucket {
  #tokens: number;
  #last: number | undefined;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
  ) {
    this.#tokens = capacity;
  }

  #refill(nowMs: number, rate: number): void {
    if (this.#last !== undefined && nowMs > this.#last) this.#tokens = Math.min(this.capacity, this.#tokens + ((nowMs - this.#last) / 1000) * rate);
    if (this.#last === undefined || nowMs > this.#last) this.#last = nowMs;
  }

  /** True when a token is there (nothing taken). */
  available(nowMs: number, rate = this.perSecond): boolean {
    this.#refill(nowMs, rate);
    return this.#tokens >= 1;
  }

  /** Takes a token; false when there is none. */
  take(nowMs: number, rate = this.perSecond): boolean {
    this.#refill(nowMs, rate);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there at `rate` (0: now). */
  waitMs(nowMs: number, rate = this.perSecond): number {
    this.#refill(nowMs, rate);
    if (this.#tokens >= 1) return 0;
    return rate > 0 ? Math.ceil(((1 - this.#tokens) * 1000) / rate) : Infinity;
  }
}

/** Syscall names tracked per container before the oldest bucket is forgotten. */
const MAX_SYSCALL_BUCKETS = 512;

/**
 * One container's share of the listener: answers and records, with totals.
 *
 * @example
 * const b = new ContainerBudget();
 * if (b.takeAnswer(now, throttledCount)) { … RECV, answer …; if (b.takeRecord(now, 'keyctl')) writeRecord(); }
 */
export class ContainerBudget {
  readonly #answers: TokenBucket;
  readonly #records: TokenBucket;
  readonly #bySyscall = new Map<string, TokenBucket>();
  /** Notifications answered. */
  answered = 0;
  /** Records written. */
  recorded = 0;

  constructor(readonly limits: BudgetLimits = DEFAULT_LIMITS) {
    this.#answers = new TokenBucket(limits.answerBurst, limits.answerPerSecond);
    this.#records = new TokenBucket(limits.recordBurst, limits.recordPerSecond);
  }

  /** The answer rate of a throttled container while `throttledCount` containers are throttled (fair share). */
  answerRate(throttledCount: number): number {
    return Math.min(this.limits.answerPerSecond, this.limits.throttledPerSecond / Math.max(1, throttledCount));
  }

  /** True while the container has no answer left: its fds are not read. */
  isThrottled(nowMs: number, throttledCount: number): boolean {
    return !this.#answers.available(nowMs, this.answerRate(throttledCount));
  }

  /** Takes one answer (false: throttled, leave the notification queued in the kernel). */
  takeAnswer(nowMs: number, throttledCount: number): boolean {
    if (!this.#answers.take(nowMs, this.answerRate(throttledCount))) return false;
    this.answered += 1;
    return true;
  }

  /** Milliseconds until the next answer is allowed. */
  answerWaitMs(nowMs: number, throttledCount: number): number {
    return this.#answers.waitMs(nowMs, this.answerRate(throttledCount));
  }

  /** True (and counted) when a record may be written for a denial of `syscall`. */
  takeRecord(nowMs: number, syscall: string): boolean {
    let b = this.#bySyscall.get(syscall);
    if (b === undefined) {
      if (this.#bySyscall.size >= MAX_SYSCALL_BUCKETS) this.#bySyscall.delete(this.#bySyscall.keys().next().value!);
      b = new TokenBucket(this.limits.syscallRecordBurst, this.limits.syscallRecordPerSecond);
      this.#bySyscall.set(syscall, b);
    }
    if (!b.available(nowMs) || !this.#records.available(nowMs)) return false;
    b.take(nowMs);
    this.#records.take(nowMs);
    this.recorded += 1;
    return true;
  }
}
