// Issue 8: the `moat seccomp` workbench commands end to end: lint/explain/diff (pure, through
// the CLI), `test` (probe containers through a real moatd), `record` (strace + runc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { REPO, startDaemon, cgroupDirsOf } from '../../helpers/daemon.js';
import { buildBatchProbe } from '../../helpers/seccomp-workbench/index.js';
import { MOAT_DEFAULT_CAPS } from '../../../src/caps/index.js';
import { writeBundleSync } from '../../../src/runtime/index.js';
import { resolveProfile, type LinuxSeccomp, type Profile } from '../../../src/seccomp/index.js';
import { standaloneSpec } from '../../../src/spec/index.js';

function moat(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin/moat'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const tmp = (): string => mkdtempSync('/tmp/moat-scwcli-');

test('lint: exit 1 with JSON paths on errors, 0 with warnings only', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOPE' }] }));
  const r = await moat(['seccomp', 'lint', bad]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /error\s+syscalls\[0\]\.action\s+unknown_action/);
  const warn = join(dir, 'warn.json');
  writeFileSync(warn, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_ALLOW' }, { names: ['openat'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] }] }));
  const w = await moat(['seccomp', 'lint', '--json', warn]);
  assert.equal(w.code, 0, w.stderr);
  const out = JSON.parse(w.stdout) as { errors: unknown[]; warnings: Array<{ where: string; code: string }> };
  assert.deepEqual(out.errors, []);
  assert.deepEqual(out.warnings.map((x) => `${x.where} ${x.code}`).sort(), ['syscalls[0].names dangerous_allow', 'syscalls[1].args[0] pointer_arg']);
});

test('explain and diff through the CLI', async (t) => {
  const e = await moat(['seccomp', 'explain', '--json', 'default', 'socket', '40']);
  assert.equal(e.code, 0, e.stderr);
  const x = JSON.parse(e.stdout) as { action: string; errno: number; decidedBy: { kind: string; rule: number; comment: string }; bpfRet: number; ret: number };
  assert.equal(x.action, 'ERRNO(1)');
  assert.equal(x.decidedBy.kind, 'rule');
  assert.match(x.decidedBy.comment, /VSOCK/);
  assert.equal(x.bpfRet, x.ret);
  const human = await moat(['seccomp', 'explain', 'default', 'socket', '2']);
  assert.match(human.stdout, /^socket\(0x2\) on SCMP_ARCH_X86_64 \(nr 41\): ALLOW\ndecided by syscalls\[\d+\]: /);
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mine = JSON.parse(execFileSync(process.execPath, [join(REPO, 'bin/moat'), 'seccomp', 'default'], { encoding: 'utf8' })) as Profile;
  mine.syscalls.push({ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, comment: 'no getppid' });
  mine.syscalls = mine.syscalls.map((r) => (r.action === 'SCMP_ACT_ALLOW' && r.names.includes('getppid') && r.args === undefined ? { ...r, names: r.names.filter((n) => n !== 'getppid') } : r));
  const f = join(dir, 'mine.json');
  writeFileSync(f, JSON.stringify(mine));
  const d = await moat(['seccomp', 'diff', '--json', f, 'default']);
  assert.equal(d.code, 1, 'diff exits 1 when the profiles differ');
  const entries = JSON.parse(d.stdout) as Array<{ arch: string; syscall: string; a: string; b: string }>;
  assert.deepEqual(entries.map((y) => `${y.arch} ${y.syscall}: ${y.a} / ${y.b}`).filter((s) => s.startsWith('SCMP_ARCH_X86_64')), ['SCMP_ARCH_X86_64 getppid: ERRNO(5) / ALLOW']);
  const same = await moat(['seccomp', 'diff', 'default', 'default']);
  assert.deepEqual([same.code, same.stdout], [0, 'no differences\n']);
});

test('moat seccomp test: the kernel agrees with the emulator through moatd', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const probe = buildBatchProbe();
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const profile: Profile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 77 },
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 99, args: [{ index: 0, value: 8, op: 'SCMP_CMP_GT' }] },
      { names: ['umask'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 0, value: 0o700, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0o700 }] },
      { names: ['getpgid'], action: 'SCMP_ACT_TRACE', errnoRet: 3 },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
      { names: ['getsid'], action: 'SCMP_ACT_TRAP' },
    ],
  };
  const f = join(dir, 'p.json');
  writeFileSync(f, JSON.stringify(profile));
  const r = await d.moat(['seccomp', 'test', '--json', '--all', '--probe', probe, f], { timeoutMs: 120_000 });
  const out = JSON.parse(r.stdout || '{}') as { cases: number; mismatches: number; results: Array<{ syscall: string; verdict: string; kernel: string; baseline: string; ok: boolean }> };
  assert.ok(out.cases > 20, `${r.stdout}\n${r.stderr}`);
  const bad = out.results.filter((x) => !x.ok);
  assert.deepEqual(bad, [], 'no mismatches');
  assert.equal(r.code, 0, r.stderr);
  const kinds = new Set(out.results.map((x) => `${x.verdict.replace(/\(\d+\)/, '')}:${x.kernel.split(' ')[0]!}`));
  for (const k of ['ALLOW:ok', 'ERRNO:errno', 'KILL_PROCESS:signal', 'TRAP:signal', 'TRACE:errno']) assert.ok(kinds.has(k), `covered ${k}: ${[...kinds].join(' ')}`);
  // A profile that blocks what the probe needs is refused up front.
  writeFileSync(f, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['wait4'], action: 'SCMP_ACT_ERRNO' }] }));
  const refused = await d.moat(['seccomp', 'test', '--probe', probe, f]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /blocks what the probe needs \(wait4\)/);
});

function runcRun(rootfs: string, args: string[], seccomp: unknown): { code: number; out: string } {
  const dir = tmp();
  const id = `moat-scwrec-${randomBytes(5).toString('hex')}`;
  const parent = `moat-test-scwrec-${randomBytes(4).toString('hex')}`;
  try {
    // The config.json moatd would write (shared standalone builder), read-only rootfs, tmpfs /tmp.
    writeBundleSync(dir, standaloneSpec({
      rootfs,
      readonlyRootfs: true,
      args,
      capabilities: MOAT_DEFAULT_CAPS,
      noNewPrivileges: true,
      seccomp: seccomp as LinuxSeccomp,
      cgroupsPath: `${parent}/${id}`,
      mounts: [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }],
    }));
    try {
      const out = execFileSync('runc', ['--root', join(dir, 'state'), 'run', '--bundle', dir, id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
      return { code: 0, out };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { code: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    try {
      execFileSync('runc', ['--root', join(dir, 'state'), 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // gone
    }
    for (const c of cgroupDirsOf(parent)) rmSync(c, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

test('moat seccomp record: a minimal profile that runs the workload and nothing more', async (t) => {
  if (!requires(t, 'root', 'runc', 'strace', 'busybox')) return;
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'tmp', 'proc', 'dev', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const out = join(dir, 'rec.json');
  const workload = ['/bin/busybox', 'sh', '-c', 'mkdir /tmp/x && echo made'];
  const r = await moat(['seccomp', 'record', '-o', out, rootfs, ...workload]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'made\n', 'the workload ran with its output');
  assert.match(r.stderr, /recorded \d+ syscalls after exec \(2 processes\)/);
  const profile = JSON.parse(readFileSync(out, 'utf8')) as Profile;
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(profile.defaultErrnoRet, 38);
  const names = profile.syscalls.flatMap((x) => x.names);
  for (const n of ['execve', 'mkdir', 'write', 'exit_group', 'fstatfs']) assert.ok(names.includes(n), n);
  for (const n of ['rmdir', 'socket', 'mount', 'keyctl']) assert.ok(!names.includes(n), `${n} not recorded`);
  const lint = await moat(['seccomp', 'lint', out]);
  assert.equal(lint.code, 0, lint.stdout);
  const { seccomp } = resolveProfile(profile, { arch: 'SCMP_ARCH_X86_64', capabilities: [], kernel: '6.18' });
  const again = runcRun(rootfs, workload, seccomp);
  assert.deepEqual(again, { code: 0, out: 'made\n' }, 'the recorded profile runs the workload');
  const other = runcRun(rootfs, ['/bin/busybox', 'sh', '-c', 'mkdir /tmp/y && rmdir /tmp/y'], seccomp);
  assert.equal(other.code, 1);
  assert.match(other.out, /Function not implemented/, 'an unrecorded syscall gets ENOSYS');
  // --merge keeps the base profile and adds what it lacks.
  const merged = await moat(['seccomp', 'record', '--json', '--merge', 'default', rootfs, ...workload]);
  assert.equal(merged.code, 0, merged.stderr);
  const rep = JSON.parse(merged.stdout.slice(merged.stdout.indexOf('{'))) as { added: string[]; profile: Profile };
  assert.ok(rep.profile.syscalls.length > 80);
  assert.ok(!rep.added.includes('mkdir'), 'the default already allows mkdir');
  void existsSync;
});

test('moat seccomp record IMAGE: moatd unpacks the image, the profile runs the workload', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'strace', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'rec.json');
  const r = await d.moat(['seccomp', 'record', '-o', out, 'busybox', 'sh', '-c', 'echo hello > /tmp/f && cat /tmp/f']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  const profile = JSON.parse(readFileSync(out, 'utf8')) as Profile;
  const names = profile.syscalls.flatMap((x) => x.names);
  for (const n of ['execve', 'write', 'exit_group']) assert.ok(names.includes(n), n);
  assert.deepEqual((await d.api('GET', '/containers/json?all=1')).json<unknown[]>(), [], 'the export container is gone');
  // The profile runs the same workload through moatd.
  const again = await d.moat(['run', '--rm', '--security-opt', `seccomp=${out}`, 'busybox', 'sh', '-c', 'echo hello > /tmp/f && cat /tmp/f']);
  assert.equal(again.code, 0, `${again.stdout}${again.stderr}`);
  assert.equal(again.stdout, 'hello\n');
});
