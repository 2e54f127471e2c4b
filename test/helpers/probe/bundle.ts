// An OCI bundle run directly with runc (no moatd, no conmon) for seccomp kernel tests: a
// rootfs holding only the static probe, `runc spec` adjusted (no terminal, given caps and
// seccomp, writable root, relative cgroupsPath under a unique parent), a private runc root.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cgroupDirsOf } from '../daemon.js';
import { buildProbe } from './index.js';

export interface ProbeBundleOptions {
  /** `linux.seccomp`; omitted = unconfined. */
  seccomp?: unknown;
  /** bounding/effective/permitted; default none. */
  capabilities?: readonly string[];
  /** Probe arguments (see probe.c). */
  args: readonly string[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProbeBundle {
  readonly id: string;
  readonly dir: string;
  readonly rootfs: string;
  readonly runcRoot: string;
  /** `runc run`, resolving when the container exits (a 30 s limit kills it). */
  run(): Promise<RunResult>;
  /** Like run(), but calls `onLine` for each stdout line as it arrives. */
  runStreaming(onLine: (line: string) => void): Promise<RunResult>;
  /** `runc exec` of the probe in the running container. */
  exec(args: readonly string[]): Promise<RunResult>;
  /** runc delete -f, cgroup parent, temp dir. Never throws. */
  cleanup(): void;
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy: left for the next run to see
  }
}

/** The parts of `runc spec`'s config.json changed here. */
interface RuncSpec {
  process: Record<string, unknown>;
  root: { path: string; readonly: boolean };
  hostname: string;
  linux: { cgroupsPath?: string; seccomp?: unknown; [k: string]: unknown };
  [k: string]: unknown;
}

/** Creates a bundle; call `cleanup()` in a `finally` / `t.after`. */
export function createProbeBundle(o: ProbeBundleOptions): ProbeBundle {
  const dir = mkdtempSync('/tmp/moat-sc-');
  const id = `moat-sc-${randomBytes(6).toString('hex')}`;
  const cgroupParent = `moat-test-sc-${randomBytes(4).toString('hex')}`;
  const rootfs = join(dir, 'rootfs');
  const runcRoot = join(dir, 'runc');
  mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
  copyFileSync(buildProbe(), join(rootfs, 'probe'));
  execFileSync('chmod', ['0755', join(rootfs, 'probe')]);
  execFileSync('runc', ['spec', '--bundle', dir]);
  const cfgPath = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as RuncSpec;
  const caps = [...(o.capabilities ?? [])];
  cfg.process = { ...cfg.process, terminal: false, args: ['/probe', ...o.args], capabilities: { bounding: caps, effective: caps, permitted: caps }, noNewPrivileges: true };
  cfg.root = { path: 'rootfs', readonly: false };
  cfg.hostname = 'probe';
  cfg.linux.cgroupsPath = `${cgroupParent}/${id}`;
  if (o.seccomp !== undefined) cfg.linux.seccomp = o.seccomp;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));

  const runWith = (onLine?: (line: string) => void, argv = ['--root', runcRoot, 'run', '--bundle', dir, id]): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const p = spawn('runc', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let pending = '';
      p.stdout.on('data', (c: Buffer) => {
        const s = c.toString();
        stdout += s;
        if (onLine === undefined) return;
        pending += s;
        let i: number;
        while ((i = pending.indexOf('\n')) >= 0) {
          onLine(pending.slice(0, i));
          pending = pending.slice(i + 1);
        }
      });
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
      p.on('error', reject);
      p.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal !== null ? 128 + 9 : -1), stdout, stderr });
      });
    });

  return {
    id,
    dir,
    rootfs,
    runcRoot,
    run: () => runWith(),
    runStreaming: (onLine) => runWith(onLine),
    exec: (args) => runWith(undefined, ['--root', runcRoot, 'exec', id, '/probe', ...args]),
    cleanup() {
      try {
        execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {
        // not there (runc run deletes it on exit)
      }
      for (const d of cgroupDirsOf(cgroupParent)) removeTree(d);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
