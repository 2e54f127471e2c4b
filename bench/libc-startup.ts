// Start-up cost of the two processes/threads that load libc through koffi on their own:
// the attach reader worker (runtime/seqpacket-reader.ts, one per attach session) and the
// seccomp notify listener (bin/moat-seccomp-listener). Not a test: prints medians.
//
//   node dist/bench/libc-startup.js [runs]
//
// worker: `new Worker(seqpacket-reader)` until the first packet written to its socket
// arrives (module load + koffi + libc binding + first poll/recv).
// listener: spawn until its socket exists (module load + flock + bind/listen).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';

const runs = Number(process.argv[2] ?? 30);
const lib = koffi.load('libc.so.6');
const socketpair = lib.func('int socketpair(int domain, int type, int protocol, void *sv)') as (d: number, t: number, p: number, sv: Buffer) => number;
const write = lib.func('intptr_t write(int fd, const void *buf, size_t len)') as (fd: number, b: Buffer, n: number) => number | bigint;
const close = lib.func('int close(int fd)') as (fd: number) => number;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function workerOnce(): Promise<number> {
  const sv = Buffer.alloc(8);
  if (socketpair(1, 5 | 0o2000000, 0, sv) !== 0) throw new Error(`socketpair: errno ${koffi.errno()}`);
  const [mine, theirs] = [sv.readInt32LE(0), sv.readInt32LE(4)];
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const t0 = performance.now();
  const w = new Worker(new URL('../src/runtime/seqpacket-reader.js', import.meta.url), { workerData: { tag: 'moat-seqpacket-reader', fd: theirs, flags: flags.buffer } });
  const packet = Buffer.from('\x02hello');
  write(mine, packet, packet.length);
  const ms = await new Promise<number>((resolve, reject) => {
    w.once('message', () => resolve(performance.now() - t0));
    w.once('error', reject);
  });
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 1);
  close(mine);
  await w.terminate();
  return ms;
}

async function listenerOnce(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-libc-bench-'));
  const sock = join(dir, 's.sock');
  const bin = fileURLToPath(new URL('../../bin/moat-seccomp-listener', import.meta.url));
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, '--socket', sock, '--state-dir', join(dir, 'state'), '--log-level', 'warn'], { stdio: 'ignore' });
  try {
    for (;;) {
      if (existsSync(sock)) return performance.now() - t0;
      if (child.exitCode !== null) throw new Error(`listener exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const worker: number[] = [];
const listener: number[] = [];
for (let i = 0; i < runs; i++) worker.push(await workerOnce());
for (let i = 0; i < Math.min(runs, 15); i++) listener.push(await listenerOnce());
console.log(JSON.stringify({ runs, workerMedianMs: Math.round(median(worker) * 10) / 10, listenerMedianMs: Math.round(median(listener) * 10) / 10 }));
