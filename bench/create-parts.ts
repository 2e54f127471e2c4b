// What conmon and the filter's name order add to `runc create` (issue 18, phase E). Not a
// test: it prints medians. Run as root after a build, under the bench lock:
//
//   flock -x /work/notes/bench.lock node dist/bench/create-parts.js     # BENCH_RUNS=30
//
// One bundle per variant (static probe rootfs, no capabilities, moat's built-in filter for the
// default caps as moatd resolves it on this host), interleaved: bare `runc create`, conmon
// driven as moatd drives it (sync pipe, detached) with its flags removed one at a time, and
// `runc create` with the filter's names in the profile's order instead of libseccomp's. Three
// rows only measure what the filter costs and are nothing moatd does: no filter at all, the
// x86_64 section alone (no i386 ABI), and Docker's form of the same policy (EPERM default, no
// explicit EPERM rules; moat's default answers ENOSYS and names every EPERM, docs/seccomp.md).
// A row with moatd's no-op cgroup move (src/cgroups/prepay.ts) started as runc is shows what
// that saves runc's own move into the container's cgroups (phase J).
// The timer stops when the pid is known; every container is then removed with `runc delete --force`.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MOAT_DEFAULT_CAPS } from '../src/caps/index.js';
import { prepayCgroupMove } from '../src/cgroups/index.js';
import { defaultProfile, orderForLibseccomp, resolveProfile, type LinuxSeccomp } from '../src/seccomp/index.js';
import { standaloneSpec } from '../src/spec/index.js';
import { cgroupDirsOf } from '../test/helpers/daemon.js';
import { buildBatchProbe } from '../test/helpers/seccomp-workbench/index.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 30);
const EARLY_MS = Number(process.env['BENCH_EARLY_MS'] ?? 5);
const SETTLE_MS = 100;
const RUNC = '/usr/sbin/runc';
const root = mkdtempSync('/tmp/moat-bench-create-');
const cgroupParent = `moat-bench-create-${process.pid}`;
const runcRoot = join(root, 'state');
const exitDir = join(root, 'exits');
const socketDir = join(root, 's');
for (const d of [runcRoot, exitDir, socketDir]) mkdirSync(d, { recursive: true });

const resolved = resolveProfile(defaultProfile({ x32: false }), { arch: 'SCMP_ARCH_X86_64', capabilities: MOAT_DEFAULT_CAPS, kernel: '6.18.0' }).seccomp;
const ordered = orderForLibseccomp(resolved, 'SCMP_ARCH_X86_64');
const x86_64Only: LinuxSeccomp = { ...ordered, architectures: ['SCMP_ARCH_X86_64'] };
const epermDefault: LinuxSeccomp = {
  ...ordered,
  defaultErrnoRet: 1,
  syscalls: (ordered.syscalls ?? []).filter((r) => !(r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 1 && (r.args ?? []).length === 0)),
};

function conmonArgs(id: string, bundle: string): string[] {
  return ['--api-version', '1', '-c', id, '-u', id, '-n', id, '-r', RUNC, '-b', bundle, '-p', `${bundle}/pid`, '-P', `${bundle}/conmon.pid`,
    '-l', `k8s-file:${bundle}/ctr.log`, '--exit-dir', exitDir, '--socket-dir-path', socketDir, '--log-level', 'error',
    '--runtime-arg', `--root=${runcRoot}`, '--runtime-arg', '--log-format=json', '--runtime-arg', `--log=${bundle}/runc.log`];
}
const without = (args: string[], flag: string, n: number): string[] => {
  const i = args.indexOf(flag);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + n)];
};

interface Variant { name: string; seccomp: LinuxSeccomp | undefined; conmon?: (id: string, bundle: string) => string[]; early?: boolean; prepay?: boolean }
const VARIANTS: Variant[] = [
  { name: 'runc create', seccomp: ordered },
  // moatd's no-op cgroup move started as runc is (phase J): runc's own move then waits less.
  { name: 'runc create, moatd\'s cgroup move started with it', seccomp: ordered, prepay: true },
  { name: 'runc create, names in profile order', seccomp: resolved },
  { name: 'runc create, no filter (measure only)', seccomp: undefined },
  { name: 'runc create, x86_64 section only (measure only)', seccomp: x86_64Only },
  { name: 'runc create, EPERM default (measure only)', seccomp: epermDefault },
  { name: 'conmon as moatd runs it', seccomp: ordered, conmon: conmonArgs },
  { name: 'conmon without runc --log/--log-format', seccomp: ordered, conmon: (id, b) => { const a = conmonArgs(id, b); return a.slice(0, a.indexOf('--log-format=json') - 1); } },
  { name: 'conmon, log driver none', seccomp: ordered, conmon: (id, b) => conmonArgs(id, b).map((x) => (x.startsWith('k8s-file:') ? 'none' : x)) },
  { name: 'conmon without --log-level', seccomp: ordered, conmon: (id, b) => without(conmonArgs(id, b), '--log-level', 2) },
  { name: 'conmon with --sync', seccomp: ordered, conmon: (id, b) => [...conmonArgs(id, b), '--sync'] },
  // conmon spawned EARLY_MS before the go on its start pipe (_OCI_STARTPIPE): timed from the go.
  { name: `conmon with --sync, started ${EARLY_MS} ms early, from the go`, seccomp: ordered, conmon: (id, b) => [...conmonArgs(id, b), '--sync'], early: true },
];

function bundle(i: number, seccomp: LinuxSeccomp | undefined): string {
  const dir = join(root, `b${i}`);
  mkdirSync(join(dir, 'rootfs/tmp'), { recursive: true });
  copyFileSync(buildBatchProbe(), join(dir, 'rootfs/batch-probe'));
  chmodSync(join(dir, 'rootfs/batch-probe'), 0o755);
  const spec = standaloneSpec({ rootfs: 'rootfs', args: ['/batch-probe'], capabilities: [], noNewPrivileges: true, cgroupsPath: `${cgroupParent}/c${i}`, ...(seccomp !== undefined ? { seccomp } : {}) });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/**
 * Starts conmon; `reported` resolves with its first sync-pipe message (the pid, or runc's
 * error). With `early`, conmon waits on its start pipe until `go()`, which returns the time
 * of the go.
 */
function conmonCreate(args: string[], early = false): { reported: Promise<string>; go: () => bigint } {
  const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', ...(early ? { _OCI_STARTPIPE: '4' } : {}) };
  const child = spawn('/usr/bin/conmon', args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe', ...(early ? ['pipe' as const] : [])], env, detached: true });
  const go = (): bigint => {
    (child.stdio[4] as NodeJS.WritableStream).write('{"data":0}\n');
    return process.hrtime.bigint();
  };
  const reported = new Promise<string>((resolve, reject) => {
    const pipe = child.stdio[3] as Readable;
    let text = '';
    pipe.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('}')) return;
      pipe.destroy();
      child.unref();
      resolve(text);
    });
    pipe.on('end', () => reject(new Error(`conmon exited without reporting: ${text}`)));
    child.on('error', reject);
  });
  return { reported, go };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const bundles = VARIANTS.map((v, i) => bundle(i, v.seccomp));
  const times = VARIANTS.map((): number[] => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, v] of VARIANTS.entries()) {
      const id = `moat-bench-create-${i}-${r}`;
      // A quiet spell first: the previous create's cgroup move would otherwise have left the
      // kernel's lock for moves warm for this one (phase J).
      await new Promise((done) => setTimeout(done, SETTLE_MS));
      let t0 = process.hrtime.bigint();
      if (v.prepay === true) {
        // Asynchronous: the move's open and write are thread-pool steps the main thread dispatches.
        const moved = prepayCgroupMove();
        // stdio ignored: the container's init would hold pipes open until it is deleted.
        const code = await new Promise<number | null>((resolve, reject) => {
          const runc = spawn(RUNC, ['--root', runcRoot, 'create', '--bundle', bundles[i]!, id], { stdio: 'ignore' });
          runc.on('error', reject);
          runc.on('exit', resolve);
        });
        if (code !== 0) throw new Error(`${v.name}: runc create exited ${String(code)}`);
        await moved;
      } else if (v.conmon === undefined) {
        execFileSync(RUNC, ['--root', runcRoot, 'create', '--bundle', bundles[i]!, id], { stdio: 'ignore' });
      } else {
        const created = conmonCreate(v.conmon(id, bundles[i]!), v.early === true);
        if (v.early === true) {
          await new Promise((r) => setTimeout(r, EARLY_MS));
          t0 = created.go();
        }
        const msg = await created.reported;
        if (!/"data":\s*\d+/.test(msg)) throw new Error(`${v.name}: ${msg}`);
      }
      times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      execFileSync(RUNC, ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    }
  }
  console.table(VARIANTS.map((v, i) => ({ variant: v.name, 'median ms': median(times[i]!).toFixed(1), runs: times[i]!.length })));
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  // conmon exits once its container is deleted; give it a moment before the cgroups go.
  await new Promise((r) => setTimeout(r, 500));
  for (const d of cgroupDirsOf(cgroupParent)) {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirSync(join(d, e.name));
    rmdirSync(d);
  }
  rmSync(root, { recursive: true, force: true });
}
