// Small helpers for integration tests that drive containers through a TestDaemon's API.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { TestDaemon } from './daemon.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Split a Docker multiplexed stream (8-byte frame headers) into stdout and stderr text. */
export function demuxText(buf: Buffer): { stdout: string; stderr: string; frames: Array<{ stream: number; data: string }> } {
  const frames: Array<{ stream: number; data: string }> = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const stream = buf[i]!;
    const len = buf.readUInt32BE(i + 4);
    frames.push({ stream, data: buf.subarray(i + 8, i + 8 + len).toString('utf8') });
    i += 8 + len;
  }
  assert.equal(i, buf.length, 'multiplexed stream ends on a frame boundary');
  return {
    stdout: frames.filter((f) => f.stream === 1).map((f) => f.data).join(''),
    stderr: frames.filter((f) => f.stream === 2).map((f) => f.data).join(''),
    frames,
  };
}

export interface InspectState {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface Inspect {
  Id: string;
  Name: string;
  State: InspectState;
  Config: { Hostname: string; Env: string[] };
  [k: string]: unknown;
}

/** POST /containers/create; asserts 201 and returns the id. */
export async function create(d: TestDaemon, body: Record<string, unknown>, name?: string): Promise<string> {
  const r = await d.api('POST', `/containers/create${name !== undefined ? `?name=${encodeURIComponent(name)}` : ''}`, { Image: 'busybox', ...body });
  assert.equal(r.status, 201, `create: ${r.body.toString()}`);
  return r.json<{ Id: string }>().Id;
}

/** Create and start; asserts both succeed. */
export async function run(d: TestDaemon, cmd: string[], extra: Record<string, unknown> = {}, name?: string): Promise<string> {
  const id = await create(d, { Cmd: cmd, ...extra }, name);
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, `start: ${s.body.toString()}`);
  return id;
}

export async function inspect(d: TestDaemon, ref: string): Promise<Inspect> {
  const r = await d.api('GET', `/containers/${ref}/json`);
  assert.equal(r.status, 200, `inspect ${ref}: ${r.body.toString()}`);
  return r.json<Inspect>();
}

/** Wait until the container is no longer running (through `wait`), then return its inspect. */
export async function waitExited(d: TestDaemon, id: string): Promise<Inspect> {
  const r = await d.api('POST', `/containers/${id}/wait`);
  assert.equal(r.status, 200, `wait: ${r.body.toString()}`);
  return await inspect(d, id);
}

/** The container's logs (non-TTY) through the API, demultiplexed. */
export async function logs(d: TestDaemon, id: string, query = 'stdout=1&stderr=1'): Promise<{ stdout: string; stderr: string }> {
  const r = await d.api('GET', `/containers/${id}/logs?${query}`);
  assert.equal(r.status, 200, `logs: ${r.body.toString()}`);
  const { stdout, stderr } = demuxText(r.body);
  return { stdout, stderr };
}

/** Wait until the container's stdout log contains `text`. */
export async function waitLog(d: TestDaemon, id: string, text: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`log of ${id.slice(0, 12)} to contain ${JSON.stringify(text)}`, async () => (await logs(d, id)).stdout.includes(text), timeoutMs);
}

/** Names (with '/') and ids of all containers. */
export async function listAll(d: TestDaemon): Promise<Array<{ Id: string; Names: string[]; State: string; Status: string }>> {
  const r = await d.api('GET', '/containers/json?all=1');
  assert.equal(r.status, 200);
  return r.json();
}

/**
 * A streaming request: resolves with the response as soon as headers arrive; rejects if they
 * do not arrive within `headersTimeoutMs` (a server that holds headers back fails the test).
 */
export function streamRequest(d: TestDaemon, method: string, path: string, body?: unknown, headersTimeoutMs = 10_000): Promise<http.IncomingMessage & { abort: () => void }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ socketPath: d.socket, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {} }, (res) => {
      clearTimeout(timer);
      resolve(Object.assign(res, { abort: () => req.destroy() }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no response headers within ${headersTimeoutMs} ms: ${method} ${path}`));
    }, headersTimeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

/** Collect a response body until it ends. */
export function collect(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** Mount points (from this process's mountinfo) whose path contains `needle`. */
export function mountsContaining(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.includes(needle));
}

/** Result of a promise, or `undefined` if it does not settle within `ms`. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]);
  } finally {
    if (t) clearTimeout(t);
  }
}
