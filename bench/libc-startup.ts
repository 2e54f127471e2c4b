// Start-up cost of the process that loads libc through koffi on its own: the seccomp notify
// listener (bin/moat-seccomp-listener), from spawn until its socket exists (module load +
// flock + bind/listen). Not a test: prints the median. (The attach reader worker it also
// timed is gone: the reader polls on libuv's thread pool, docs/performance.md phase M.)
//
//   node dist/bench/libc-startup.js [runs]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

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

const listener: number[] = [];
for (let i = 0; i < runs; i++) listener.push(await listenerOnce());
console.log(JSON.stringify({ runs, listenerMedianMs: Math.round(median(listener) * 10) / 10 }));
