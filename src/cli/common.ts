// What the verbs in commands/ share: the context they register with, docker-style errors and
// exit codes, copying a hijacked stream to the terminal, and column output.
import type { Command } from 'commander';
import type { Duplex } from 'node:stream';
import { ApiError, demux, type Client } from './client.js';

export interface CliContext {
  /** A client for the daemon named by -H, $MOAT_HOST or $DOCKER_HOST. */
  client: () => Client;
  /** The code `moat` exits with when the command returns normally. */
  setExit: (code: number) => void;
}

/** commander accumulator for repeatable options. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Ends `moat` with `code`, printing `message` on stderr. */
export class ExitError extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

/** The docker CLI's wording: "Error response from daemon: …" for API errors, "Error: …" otherwise. */
export function daemonError(err: unknown, code = 1): ExitError {
  if (err instanceof ApiError) return new ExitError(code, `Error response from daemon: ${err.message}`);
  if (err instanceof ExitError) return err;
  return new ExitError(code, `Error: ${(err as Error).message}`);
}

/** docker/cli toStatusError: 127 not found, 126 cannot execute, else 125. */
export function runErrorCode(err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) return 127;
  if (/permission denied|is a directory/.test(msg)) return 126;
  return 125;
}

/** Copy a hijacked stream to stdout/stderr; resolves when the daemon closes it. */
export function pump(sock: Duplex, tty: boolean, stdin: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (sock.destroyed) {
      resolve();
      return;
    }
    const onData = tty ? (c: Buffer) => process.stdout.write(c) : demux((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
    sock.on('data', onData);
    sock.on('end', () => resolve());
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    if (stdin) {
      if (tty && process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.on('data', (d) => sock.write(d));
      process.stdin.on('end', () => (sock as Duplex & { end(): void }).end());
    } else (sock as Duplex & { end(): void }).end();
  });
}

/** Columns padded to the widest cell plus three spaces, as the docker CLI prints them. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** Bytes in the docker CLI's units (kB = 1000 B). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(2) : v < 100 && i > 0 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

/**
 * A verb that makes one API call per container argument and prints each id (stop, kill, rm,
 * …): a failure is printed and the others still run; any failure makes the exit code 1.
 */
export function registerPerContainerVerb(program: Command, ctx: CliContext, o: {
  name: string;
  description: string;
  method: string;
  path: (id: string, opts: Record<string, unknown>) => string;
  options?: (cmd: Command) => Command;
}): void {
  let cmd = program.command(o.name).description(o.description).argument('<containers...>');
  if (o.options) cmd = o.options(cmd);
  cmd.action(async (ids: string[], opts: Record<string, unknown>) => {
    let failed = false;
    for (const id of ids) {
      try {
        await ctx.client().call(o.method, o.path(id, opts));
        process.stdout.write(`${id}\n`);
      } catch (err) {
        failed = true;
        process.stderr.write(`${daemonError(err).message}\n`);
      }
    }
    if (failed) ctx.setExit(1);
  });
}
