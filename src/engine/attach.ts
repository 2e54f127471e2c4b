// Attach sessions: a client's view of a container's (or exec's) stdio through the runtime's
// attach stream. A session made before the process starts buffers its stdin until start.
import type { Writable } from 'node:stream';
import type { AttachStream } from '../runtime/index.js';

/** Where a session's output goes: the API frames it (non-TTY) or copies it raw (TTY). */
export interface AttachSink {
  output(stream: 1 | 2, data: Buffer): void;
  /** The process exited or the session ended: flush and close. */
  end(): void;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Close the process's stdin on the client's EOF (StdinOnce without TTY, and exec). */
  closeStdinOnEof: boolean;
}

export class AttachSession {
  #stream: AttachStream | undefined;
  #stdinWriter: Writable | undefined;
  #pending: Buffer[] = [];
  #stdinEof = false;
  #ended = false;
  #onEnd: Array<() => void> = [];

  constructor(
    readonly opts: AttachOptions,
    private readonly sink: AttachSink,
  ) {}

  get ended(): boolean {
    return this.#ended;
  }

  onEnded(fn: () => void): void {
    if (this.#ended) fn();
    else this.#onEnd.push(fn);
  }

  /** Connect to the process's stdio (`open` is the runtime's attach); buffered stdin is flushed first. */
  async connect(open: () => Promise<AttachStream>): Promise<void> {
    if (this.#ended) return;
    const stream = await open();
    if (this.#ended) {
      stream.destroy();
      return;
    }
    this.#stream = stream;
    stream.onOutput((which, data) => {
      if ((which === 1 && this.opts.stdout) || (which === 2 && this.opts.stderr)) this.sink.output(which, data);
    });
    stream.onEnd(() => this.finish());
    if (this.opts.stdin) {
      this.#stdinWriter = stream.stdin;
      for (const chunk of this.#pending) this.#stdinWriter.write(chunk);
      this.#pending = [];
      if (this.#stdinEof) this.#closeStdin();
    }
  }

  /** Bytes from the client for the process's stdin. */
  writeStdin(data: Buffer): void {
    if (!this.opts.stdin || this.#stdinEof || this.#ended) return;
    if (this.#stdinWriter) this.#stdinWriter.write(data);
    else this.#pending.push(Buffer.from(data));
  }

  /** The client half-closed its side. */
  clientEof(): void {
    if (this.#stdinEof) return;
    this.#stdinEof = true;
    if (!this.opts.stdin) return;
    if (this.opts.closeStdinOnEof) {
      if (this.#stdinWriter) this.#closeStdin();
    } else {
      this.finish();
    }
  }

  #closeStdin(): void {
    this.#stdinWriter?.end();
  }

  /** End the session: the process exited, the client went away, or nothing to stream. */
  finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stream?.destroy();
    this.sink.end();
    for (const fn of this.#onEnd.splice(0)) fn();
  }
}

/**
 * The sessions attached to containers: those waiting for a start (`docker start -a` attaches
 * first), connected at the start before the process runs, and those streaming now.
 */
export class AttachHub {
  readonly #pending = new Map<string, AttachSession[]>();
  readonly #attached = new Map<string, Set<AttachSession>>();

  /** Keep a session until the container's next start. */
  wait(id: string, session: AttachSession): void {
    const list = this.#pending.get(id) ?? [];
    list.push(session);
    this.#pending.set(id, list);
    session.onEnded(() => {
      const l = this.#pending.get(id);
      if (l) this.#pending.set(id, l.filter((x) => x !== session));
    });
  }

  /** The sessions waiting for `id`'s start, now taken. */
  takePending(id: string): AttachSession[] {
    const list = this.#pending.get(id) ?? [];
    this.#pending.delete(id);
    return list;
  }

  /** Connect a session to a running container; a failure ends the session (and is returned). */
  async connect(id: string, session: AttachSession, open: () => Promise<AttachStream>): Promise<unknown> {
    try {
      await session.connect(open);
      let set = this.#attached.get(id);
      if (!set) this.#attached.set(id, (set = new Set()));
      set.add(session);
      session.onEnded(() => set.delete(session));
      return undefined;
    } catch (err) {
      session.finish();
      return err;
    }
  }

  /** End every session of a container (its start failed). */
  finishAll(id: string): void {
    for (const s of this.takePending(id)) s.finish();
    for (const s of this.#attached.get(id) ?? []) s.finish();
  }

  /**
   * Sessions end when conmon closes the attach socket after the last output; this only
   * covers a conmon that died without closing it.
   */
  finishLater(id: string, ms: number): void {
    for (const s of this.#attached.get(id) ?? []) setTimeout(() => s.finish(), ms).unref();
  }

  close(): void {
    for (const set of this.#attached.values()) for (const s of set) s.finish();
  }
}
