// Attach sessions: a client's view of a container's (or exec's) stdio through conmon's
// attach socket. A session made before the process starts buffers its stdin until start.
import type net from 'node:net';
import { connectSeqpacket, onAttachPackets, attachStdin, ATTACH_STDERR } from '../runtime/index.js';

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
  #socket: net.Socket | undefined;
  #stdinWriter: ReturnType<typeof attachStdin> | undefined;
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

  /** Connect to conmon's attach socket; buffered stdin is flushed first. */
  async connect(socketPath: string): Promise<void> {
    if (this.#ended) return;
    const sock = await connectSeqpacket(socketPath);
    if (this.#ended) {
      sock.destroy();
      return;
    }
    this.#socket = sock;
    onAttachPackets(sock, (p) => {
      const stream = p.stream === ATTACH_STDERR ? 2 : 1;
      if ((stream === 1 && this.opts.stdout) || (stream === 2 && this.opts.stderr)) this.sink.output(stream, p.data);
    });
    sock.on('end', () => this.finish());
    sock.on('close', () => this.finish());
    sock.on('error', () => this.finish());
    if (this.opts.stdin) {
      this.#stdinWriter = attachStdin(sock);
      this.#stdinWriter.on('error', () => undefined);
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
    this.#socket?.destroy();
    this.sink.end();
    for (const fn of this.#onEnd.splice(0)) fn();
  }
}
