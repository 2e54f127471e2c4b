// An OCI bundle run directly with runc (no moatd, no conmon) for seccomp kernel tests: a
// rootfs holding only the static probe, the config.json moatd would write for it (the shared
// standalone builder: src/spec standaloneSpec, src/runtime writeBundleSync) with the given
// caps and seccomp, no_new_privs, a relative cgroupsPath under a unique parent, and a
// private runc root.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CapName } from '../../../src/caps/index.js';
import { writeBundleSync } from '../../../src/runtime/index.js';
import type { LinuxSeccomp } from '../../../src/seccomp/index.js';
import { standaloneSpec } from '../../../src/spec/index.js';
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
  writeBundleSync(dir, standaloneSpec({
    rootfs: 'rootfs',
    args: ['/probe', ...o.args],
    hostname: 'probe',
    capabilities: (o.capabilities ?? []) as readonly CapName[],
    noNewPrivileges: true,
    cgroupsPath: `${cgroupParent}/${id}`,
    ...(o.seccomp !== undefined ? { seccomp: o.seccomp as LinuxSeccomp } : {}),
  }));

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
