// Builds the workbench's two C helpers (batch-probe: raw syscalls, one forked child per
// case; lsc-export: libseccomp's program for a profile) and runs the batch probe under runc.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, cgroupDirsOf } from '../daemon.js';
import { writeBundleSync } from '../../../src/runtime/index.js';
import { actionRet, type LinuxSeccomp, type SeccompAction } from '../../../src/seccomp/index.js';
import { standaloneSpec } from '../../../src/spec/index.js';

const DIR = join(REPO, 'test/helpers/seccomp-workbench');

function build(source: string, name: string, flags: string[], libs: string[] = []): string {
  const src = join(DIR, source);
  const hash = createHash('sha256').update(readFileSync(src)).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'moat-probe-cache');
  const out = join(dir, `${name}-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    execFileSync('gcc', [...flags, '-o', tmp, src, ...libs], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

/** The freestanding static batch probe (x86_64). */
export const buildBatchProbe = (): string => build('batch-probe.c', 'batch-probe', ['-O2', '-static', '-nostdlib', '-fno-stack-protector', '-fno-builtin']);

/** lsc-export, linked with the system libseccomp. */
export const buildLscExport = (): string => build('lsc-export.c', 'lsc-export', ['-O2'], ['-lseccomp']);

// libseccomp's enum scmp_compare (seccomp.h), which lsc-export reads.
const OP: Readonly<Record<string, number>> = { SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7 };
const ARCH: Readonly<Record<string, string>> = { SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32' };

interface OciLike {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls?: Array<{ names: string[]; action: string; errnoRet?: number; args?: Array<{ index: number; value: number | bigint; valueTwo?: number | bigint; op: string }> }>;
}

const actionU32 = (a: string, errno: number | undefined): number => actionRet(a as SeccompAction, errno);

/** libseccomp's program (raw bytes) for an OCI section, built the way runc 1.1 builds it (no ENOSYS stub). */
export function libseccompProgram(s: OciLike, optimize: 1 | 2 = 1): Buffer {
  const lines = [`default 0x${actionU32(s.defaultAction, s.defaultErrnoRet).toString(16)}`, `optimize ${optimize}`];
  for (const a of s.architectures ?? []) lines.push(`arch ${ARCH[a]!}`);
  for (const r of s.syscalls ?? []) {
    const act = `0x${actionU32(r.action, r.errnoRet).toString(16)}`;
    const args = (r.args ?? []).map((a) => `${a.index} ${OP[a.op]!} 0x${BigInt(a.value).toString(16)} 0x${BigInt(a.valueTwo ?? 0).toString(16)}`);
    for (const n of r.names) lines.push(`rule ${act} ${n} ${args.length} ${args.join(' ')}`);
  }
  return execFileSync(buildLscExport(), [], { input: lines.join('\n') + '\n', maxBuffer: 1 << 24, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface BatchRun { code: number; stdout: string; stderr: string }

/** Runs batch-probe with `cases` under runc with `seccomp` (undefined = unconfined), no capabilities. */
export function runBatchProbe(seccomp: unknown, cases: readonly string[], timeoutMs = 30_000): Promise<BatchRun> {
  const dir = mkdtempSync('/tmp/moat-scw-');
  const id = `moat-scw-${randomBytes(6).toString('hex')}`;
  const cgroupParent = `moat-test-scw-${randomBytes(4).toString('hex')}`;
  const rootfs = join(dir, 'rootfs');
  const runcRoot = join(dir, 'runc');
  mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
  copyFileSync(buildBatchProbe(), join(rootfs, 'batch-probe'));
  chmodSync(join(rootfs, 'batch-probe'), 0o755);
  // The config.json moatd would write (shared standalone builder), no capabilities, no_new_privs.
  writeBundleSync(dir, standaloneSpec({
    rootfs: 'rootfs',
    args: ['/batch-probe', ...cases],
    capabilities: [],
    noNewPrivileges: true,
    cgroupsPath: `${cgroupParent}/${id}`,
    ...(seccomp !== undefined ? { seccomp: seccomp as LinuxSeccomp } : {}),
  }));
  const cleanup = (): void => {
    try {
      execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // runc run removed it
    }
    for (const d of cgroupDirsOf(cgroupParent)) removeTree(d);
    rmSync(dir, { recursive: true, force: true });
  };
  return new Promise<BatchRun>((resolve, reject) => {
    const p = spawn('runc', ['--root', runcRoot, 'run', '--bundle', dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal !== null ? 137 : -1), stdout, stderr });
    });
  }).finally(cleanup);
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy
  }
}
