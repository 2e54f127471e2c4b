// The in-flight file (host): one 80-byte slot per notify fd the listener serves, mapped
// MAP_SHARED. The listener receives each notification straight into its fd's slot (RECV into
// the mapping), so the kernel has written it there before the ioctl returns. If the listener
// is killed between RECV and SEND, the standby that takes over reads the slot, checks with
// NOTIF_ID_VALID that the task still waits, and answers it; without this the task would wait
// in its syscall until it got a signal (the kernel answers ENOSYS only once no process holds
// the notify fd, and the standby holds it).
import { openSync, closeSync, fstatSync, ftruncateSync, constants as fsConstants } from 'node:fs';
import { mapShared } from './kernel.js';
import { SECCOMP_NOTIF_SIZE } from './structs.js';

/** Slots in the file (5 MiB, sparse on tmpfs: only touched pages cost memory). */
export const SLOT_COUNT = 65536;

export class InflightSlots {
  readonly #address: bigint;
  readonly #view: Buffer;
  readonly #used = new Set<number>();
  #next = 0;

  private constructor(address: bigint, view: Buffer) {
    this.#address = address;
    this.#view = view;
  }

  /**
   * Maps `path` (created 0600 if missing). `fresh` empties it first (a listener that starts
   * with no containers); a standby taking over keeps what the dead listener wrote.
   */
  static open(path: string, o: { fresh: boolean }): InflightSlots {
    const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600); // libuv adds O_CLOEXEC
    try {
      const size = SLOT_COUNT * SECCOMP_NOTIF_SIZE;
      if (o.fresh) ftruncateSync(fd, 0);
      if (fstatSync(fd).size !== size) ftruncateSync(fd, size);
      const { address, view } = mapShared(fd, size);
      return new InflightSlots(address, view);
    } finally {
      closeSync(fd); // the mapping stays
    }
  }

  /** A free slot, zeroed; undefined when all are in use. */
  alloc(): number | undefined {
    if (this.#used.size >= SLOT_COUNT) return undefined;
    while (this.#used.has(this.#next)) this.#next = (this.#next + 1) % SLOT_COUNT;
    const slot = this.#next;
    this.#next = (this.#next + 1) % SLOT_COUNT;
    this.#used.add(slot);
    this.view(slot).fill(0);
    return slot;
  }

  /** Marks `slot` used without clearing it (a takeover keeps the dead listener's content); false if taken or out of range. */
  claim(slot: number): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT || this.#used.has(slot)) return false;
    this.#used.add(slot);
    return true;
  }

  release(slot: number): void {
    this.#used.delete(slot);
  }

  /** The slot's address, for the RECV ioctl. */
  address(slot: number): bigint {
    return this.#address + BigInt(slot * SECCOMP_NOTIF_SIZE);
  }

  /** The slot's 80 bytes (shares memory with the mapping). */
  view(slot: number): Buffer {
    return this.#view.subarray(slot * SECCOMP_NOTIF_SIZE, (slot + 1) * SECCOMP_NOTIF_SIZE);
  }
}
