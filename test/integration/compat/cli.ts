// Runs the real docker CLI against a test daemon (DOCKER_HOST on its temporary socket).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { dockerCli } from '../../helpers/requires.js';
import type { TestDaemon } from '../../helpers/daemon.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function dockerEnv(d: TestDaemon): NodeJS.ProcessEnv {
  const cfg = join(d.root, 'docker-cli');
  // Not recursive: a call after the daemon's cleanup (a late `rm -f` in a test's after-hook)
  // must not make its removed root again, which was left in /tmp after every suite run. The
  // CLI itself never creates a missing config dir.
  try {
    mkdirSync(cfg);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOENT') throw err;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: cfg };
  delete env['DOCKER_API_VERSION'];
  delete env['DOCKER_CONTEXT'];
  return env;
}

/** Runs a docker-py script (Debian's python3 + python3-docker) against the test daemon; code 1 on any failure. */
export function dockerPy(d: TestDaemon, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/python3', ['-c', script], { env: dockerEnv(d), timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
}

/** `docker <args>` with optional stdin; never throws on a non-zero exit. */
export function docker(d: TestDaemon, args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliResult> {
  const bin = dockerCli();
  if (!bin) throw new Error('docker CLI not found');
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(bin, args, { env: dockerEnv(d), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr, ms: Date.now() - t0 });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(o.input ?? '');
  });
}

/** Like `docker` but fails the test with the CLI's stderr when the exit code is not 0. */
export async function dockerOk(d: TestDaemon, args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(d, args, o);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value or `ms` pass. */
export async function until<T>(fn: () => Promise<T | undefined | false>, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
