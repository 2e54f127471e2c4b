// `moat seccomp …`: moat's default profile and the profile workbench (compile, lint,
// explain, diff, test against the kernel, record). Pure analysis lives in
// seccomp-workbench/; this file does the I/O. docs/seccomp-workbench.md describes the
// commands and their output.
import type { Command } from 'commander';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import tar from 'tar-stream';
import {
  compileSeccomp,
  defaultProfile,
  disassemble,
  formatIssues,
  hostArch,
  parseProfile,
  resolveProfile,
  retLetsCallRun,
  syscallNumber,
  AUDIT_ARCH_X86_64,
  type Issue,
  type Profile,
  type SeccompArch,
} from '../../seccomp/index.js';
import {
  decide,
  diffProfiles,
  expectedOutcome,
  explainSyscall,
  formatOutcome,
  lintProfile,
  parseProbeOutput,
  parseStrace,
  probeArg,
  probeCorpus,
  queryData,
  sameOutcome,
  synthesizeProfile,
  type Outcome,
} from '../../seccomp-workbench/index.js';
import { MOAT_DEFAULT_CAPS, normalizeCapName, type CapName } from '../../caps/index.js';
import { writeBundleSync } from '../../runtime/index.js';
import { DEFAULT_PATH_ENV, standaloneSpec } from '../../spec/index.js';
import { ApiError, demux, readAll, type Client } from '../client.js';

export interface SeccompCommandDeps {
  client: () => Client;
  setExit: (code: number) => void;
  readFile: (path: string) => string;
  writeFile: (path: string, data: Uint8Array | string) => void;
}

const collect = (v: string, p: string[]): string[] => [...p, v];
const capName = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
/** --cap values (default: moat's default set) plus --cap-add values. */
const capsOf = (caps: string[], add: string[] = []): string[] => [...new Set([...(caps.length ? caps.map(capName) : MOAT_DEFAULT_CAPS), ...add.map(capName)])];

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));
const errnoText = (n: number): string => (ERRNO_NAMES.has(n) ? `${n} (${ERRNO_NAMES.get(n)!})` : String(n));

export function loadProfileArg(deps: SeccompCommandDeps, file: string): Profile {
  if (file === 'default') return defaultProfile();
  const parsed = parseProfile(JSON.parse(deps.readFile(file)));
  if (!parsed.ok) throw new Error(`Invalid seccomp profile ${file}: ${formatIssues(parsed.issues)}`);
  return parsed.value;
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

const pathText = (i: Issue): string => {
  let out = '';
  for (const p of i.path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(profile)' : out;
};

/** Parses an argument as a u64: decimal, 0x hex, or negative (two's complement). */
function parseArgValue(s: string): bigint {
  const neg = s.startsWith('-');
  const v = BigInt(neg ? s.slice(1) : s);
  return BigInt.asUintN(64, neg ? -v : v);
}

function nativeFor(arch: string | undefined): SeccompArch {
  return (arch ?? hostArch(process.arch)) as SeccompArch;
}

/** One record of `Security.SeccompDenials` in inspect (moat's listener format). */
interface DenialView {
  kind?: string;
  time?: string;
  pid?: number;
  nspid?: number;
  comm?: string;
  syscall?: string;
  nr?: number;
  errnoName?: string;
  args?: string[];
  count?: number;
  rule?: { index: number; comment?: string } | null;
}

export function registerSeccompCommands(program: Command, deps: SeccompCommandDeps): void {
  const sc = program.command('seccomp').description('seccomp profiles: export, compile, lint, explain, diff, test, record');
  sc.command('default')
    .description("print moat's default profile (Docker JSON format, usable by any Docker-compatible engine)")
    .action(() => {
      process.stdout.write(JSON.stringify(defaultProfile(), null, 2) + '\n');
    });
  sc.command('compile')
    .description('compile a profile to classic BPF (raw sock_filter bytes)')
    .argument('<file>', "profile JSON, or 'default'")
    .option('--arch <arch>', 'SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64 (default: this host)')
    .option('--cap <cap>', 'capability of the container (repeatable; default: moat defaults)', collect, [] as string[])
    .option('--kernel <version>', 'kernel version for minKernel rules', os.release())
    .option('--enosys-stub', "add runc's ENOSYS stub (numbers above the highest named one)")
    .option('-o, --output <file>', 'write the program here')
    .option('--disasm', 'print readable assembly')
    .action((file: string, o: { arch?: string; cap: string[]; kernel: string; output?: string; disasm?: boolean; enosysStub?: boolean }) => {
      const arch = nativeFor(o.arch);
      if (arch !== 'SCMP_ARCH_X86_64' && arch !== 'SCMP_ARCH_AARCH64') throw new Error(`cannot compile for ${arch}: SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64`);
      const resolved = resolveProfile(loadProfileArg(deps, file), { arch, capabilities: capsOf(o.cap), kernel: o.kernel });
      for (const w of resolved.warnings) if (w.code !== 'syscall_not_on_arch') process.stderr.write(`warning: ${pathText(w)}: ${w.message}\n`);
      const prog = compileSeccomp(resolved.seccomp, { arch, resolveNr: (a, n) => syscallNumber(a as SeccompArch, n), enosysStub: o.enosysStub === true });
      if (o.output) deps.writeFile(o.output, prog.bytes());
      if (o.disasm) process.stdout.write(disassemble(prog) + '\n');
      process.stderr.write(`${prog.length} instructions for ${arch}${o.output ? `, written to ${o.output}` : ''}\n`);
    });

  sc.command('lint')
    .description('check a profile: errors (exit 1) and warnings (exit 0)')
    .argument('<file>', "profile JSON, or 'default'")
    .option('--json', 'machine-readable output')
    .action((file: string, o: { json?: boolean }) => {
      let input: unknown;
      try {
        input = file === 'default' ? JSON.parse(JSON.stringify(defaultProfile())) : JSON.parse(deps.readFile(file));
      } catch (err) {
        const issue: Issue = { path: [], code: 'invalid_json', message: `Cannot read ${file}: ${(err as Error).message}` };
        printLint(o.json === true, [issue], []);
        deps.setExit(1);
        return;
      }
      const r = lintProfile(input);
      printLint(o.json === true, r.errors, r.warnings);
      deps.setExit(r.errors.length > 0 ? 1 : 0);
    });

  sc.command('explain')
    .description('what a profile does to one syscall: action, errno and the rule that decided')
    .argument('<file>', "profile JSON, or 'default'")
    .argument('<syscall>', 'name or number')
    .argument('[args...]', 'argument values (decimal, 0x hex, or negative)')
    .option('--arch <arch>', 'ABI of the call: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM (default: this host)')
    .option('--cap <cap>', 'capability of the container (repeatable; default: moat defaults)', collect, [] as string[])
    .option('--kernel <version>', 'kernel version for minKernel rules', os.release())
    .option('--no-enosys-stub', "leave out runc's ENOSYS stub")
    .option('--json', 'machine-readable output')
    .action((file: string, syscall: string, args: string[], o: { arch?: string; cap: string[]; kernel: string; enosysStub: boolean; json?: boolean }) => {
      const arch = nativeFor(o.arch);
      const e = explainSyscall(loadProfileArg(deps, file), { arch, syscall: /^\d+$|^0x/i.test(syscall) ? Number(syscall) : syscall, args: args.map(parseArgValue) }, { capabilities: capsOf(o.cap), kernel: o.kernel, enosysStub: o.enosysStub });
      if (e.bpfRet !== e.ret) process.stderr.write(`warning: the compiled program returns 0x${e.bpfRet.toString(16)}, the rules 0x${e.ret.toString(16)}: please report\n`);
      if (o.json) {
        process.stdout.write(JSON.stringify(e, null, 2) + '\n');
        return;
      }
      const call = `${e.query.syscall ?? `nr ${e.query.nr}`}(${e.query.args.join(', ')})`;
      const lines = [`${call} on ${e.query.arch} (nr ${e.query.nr}): ${e.action}${e.errno !== undefined ? `, errno ${errnoText(e.errno)}` : ''}`];
      const d = e.decidedBy;
      if (d.kind === 'rule') lines.push(`decided by syscalls[${d.rule!}]${d.comment !== undefined ? `: ${d.comment}` : ''}`);
      else if (d.kind === 'default') lines.push('decided by the default action (no rule matched)');
      else if (d.kind === 'enosys-stub') lines.push(`decided by runc's ENOSYS stub (number above ${d.cutoff!}, the highest the profile names)`);
      else if (d.kind === 'bad-arch') lines.push('decided by the bad-arch action: the profile does not list this ABI (libseccomp kills the thread)');
      else lines.push('never filtered: the kernel exempts uprobe/uretprobe on x86_64');
      process.stdout.write(lines.join('\n') + '\n');
      if (e.rules.length > 0) {
        process.stdout.write('\n' + table([['RULE', 'ACTION', 'CONDITIONS', 'MATCHED', 'COMMENT'], ...e.rules.map((r) => [`syscalls[${r.rule}]`, r.action, r.conditions, r.matched === undefined ? `- (${r.note ?? ''})` : r.matched ? 'yes' : 'no', r.comment ?? ''])]));
      }
    });

  sc.command('diff')
    .description('per syscall and condition: where two profiles decide differently (exit 1 if they do)')
    .argument('<a>', "profile JSON, or 'default'")
    .argument('<b>', "profile JSON, or 'default'")
    .option('--arch <arch>', 'host arch (default: this host); its sub-arches in either profile are compared too')
    .option('--cap <cap>', 'capability of the container (repeatable; default: moat defaults)', collect, [] as string[])
    .option('--kernel <version>', 'kernel version for minKernel rules', os.release())
    .option('--no-enosys-stub', "leave out runc's ENOSYS stub")
    .option('--json', 'machine-readable output')
    .action((a: string, b: string, o: { arch?: string; cap: string[]; kernel: string; enosysStub: boolean; json?: boolean }) => {
      const d = diffProfiles(loadProfileArg(deps, a), loadProfileArg(deps, b), { arch: nativeFor(o.arch), capabilities: capsOf(o.cap), kernel: o.kernel, enosysStub: o.enosysStub });
      if (o.json) process.stdout.write(JSON.stringify(d, null, 2) + '\n');
      else if (d.length === 0) process.stdout.write('no differences\n');
      else {
        const ex = (x: (typeof d)[number]): string => x.examples.map((e) => `(${e.args.join(', ')}): ${e.a} vs ${e.b}`).join('; ');
        process.stdout.write(table([['ARCH', 'SYSCALL', a, b, 'EXAMPLES'], ...d.map((x) => [x.arch.replace('SCMP_ARCH_', ''), x.syscall, x.a, x.b, ex(x)])]));
        process.stdout.write(`${d.length} syscall${d.length === 1 ? '' : 's'} differ\n`);
      }
      deps.setExit(d.length > 0 ? 1 : 0);
    });

  sc.command('denials')
    .description("the seccomp denials recorded for a container: syscall, arguments, pid, command, the rule")
    .argument('<container>')
    .option('--json', 'JSON for programs')
    .action(async (ref: string, o: { json?: boolean }) => {
      const info = await deps.client().json<{ Name: string; Security?: { Seccomp?: { Profile?: string; Explainer?: string }; SeccompDenials?: DenialView[] } }>('GET', `/containers/${encodeURIComponent(ref)}/json`);
      const list = info.Security?.SeccompDenials ?? [];
      if (o.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        return;
      }
      const explainer = info.Security?.Seccomp?.Explainer ?? 'off';
      process.stdout.write(`${info.Name.slice(1)}: profile ${info.Security?.Seccomp?.Profile ?? 'unconfined'}, explainer ${explainer}${explainer === 'notify' ? '' : ' (denials are not recorded)'}\n`);
      if (list.length === 0) {
        process.stdout.write('no denials recorded\n');
        return;
      }
      const rows = [['TIME', 'PID', 'COMMAND', 'SYSCALL', 'ERRNO', 'RULE', 'ARGS']];
      for (const d of list) {
        rows.push([d.time ?? '', String(d.nspid ?? d.pid ?? ''), d.comm ?? '', d.syscall ?? (d.kind === 'dropped' ? `(${d.count ?? 0} dropped)` : `#${d.nr ?? '?'}`), d.errnoName ?? '', d.rule ? `${d.rule.index}${d.rule.comment ? `: ${d.rule.comment}` : ''}` : '', (d.args ?? []).join(' ')]);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n');
    });
  sc.command('test')
    .description("run a probe in containers under the profile and compare the kernel's verdicts with the emulator's (exit 1 on any mismatch)")
    .argument('<file>', "profile JSON, or 'default'")
    .option('--probe <path>', 'static batch probe (test/helpers/seccomp-workbench/batch-probe.c); default $MOAT_SECCOMP_PROBE')
    .option('--cap-add <cap>', 'capability to add to the containers (and to the emulation)', collect, [] as string[])
    .option('--no-enosys-stub', "do not expect runc's ENOSYS stub")
    .option('--all', 'list every case, not only mismatches')
    .option('--timeout <s>', 'seconds per container run', '60')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { probe?: string; capAdd: string[]; enosysStub: boolean; all?: boolean; timeout: string; json?: boolean }) => {
      const code = await runTest(deps, file, o);
      deps.setExit(code);
    });

  sc.command('record')
    .description('run a workload under strace with runc (local, root) and write a minimal profile of the syscalls it made after exec')
    .argument('<image>', 'image to run (exported through moatd), or an unpacked root filesystem directory')
    .argument('<command...>', 'command to run')
    .option('-o, --output <file>', 'write the profile here (default: stdout)')
    .option('--merge <file>', "add the recorded syscalls to this profile (or 'default') instead of an empty ENOSYS-default one")
    .option('--cap-add <cap>', 'capability to add (default: moat defaults)', collect, [] as string[])
    .option('-e, --env <var>', 'environment variable', collect, [] as string[])
    .option('--rw', 'writable rootfs (default read-only, with a tmpfs on /tmp)')
    .option('--keep-trace <file>', 'keep the raw strace output here')
    .option('--json', 'print a JSON report (profile and counts) instead of the profile')
    .passThroughOptions()
    .action(async (rootfs: string, cmd: string[], o: { output?: string; merge?: string; capAdd: string[]; env: string[]; rw?: boolean; keepTrace?: string; json?: boolean }) => {
      deps.setExit(await runRecord(deps, rootfs, cmd, o));
    });
}

function printLint(json: boolean, errors: readonly Issue[], warnings: readonly Issue[]): void {
  if (json) {
    const conv = (i: Issue): Record<string, unknown> => ({ path: i.path, where: pathText(i), code: i.code, message: i.message });
    process.stdout.write(JSON.stringify({ errors: errors.map(conv), warnings: warnings.map(conv) }, null, 2) + '\n');
    return;
  }
  const rows = [...errors.map((i) => ['error', pathText(i), i.code, i.message]), ...warnings.map((i) => ['warning', pathText(i), i.code, i.message])];
  if (rows.length > 0) process.stdout.write(table([['LEVEL', 'PATH', 'CODE', 'MESSAGE'], ...rows]));
  process.stdout.write(`${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
}

// --- test -------------------------------------------------------------------------------

interface TestCaseResult { syscall: string; nr: number; arch: string; args: string[]; verdict: string; baseline: string; expected: string; kernel: string; ok: boolean }

async function probeImage(client: Client, probe: Buffer): Promise<string> {
  const tag = createHash('sha256').update(probe).digest('hex').slice(0, 12);
  const ref = `moat-seccomp-probe:${tag}`;
  try {
    await client.json('GET', `/images/${ref}/json`);
    return ref;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const pack = tar.pack();
  pack.entry({ name: 'batch-probe', mode: 0o755, size: probe.length, mtime: new Date(0) }, probe);
  pack.entry({ name: 'tmp/', type: 'directory', mode: 0o1777, mtime: new Date(0) });
  pack.finalize();
  const q = new URLSearchParams({ fromSrc: '-', repo: 'moat-seccomp-probe', tag });
  const res = await client.request('POST', `/images/create?${q.toString()}`, { raw: pack as unknown as NodeJS.ReadableStream, headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } });
  const body = (await readAll(res)).toString('utf8');
  if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, `Cannot import the probe image: ${body}`);
  return ref;
}

/** Runs the probe once in a container; returns its stdout. */
async function runProbe(client: Client, image: string, securityOpt: string, capAdd: string[], args: string[], timeoutMs: number): Promise<{ stdout: string; exit: number }> {
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    Image: image,
    Cmd: ['/batch-probe', ...args],
    Entrypoint: null,
    // no-new-privileges: runc 1.1.5's init panics (nil pointer in StartInitialization) for
    // many custom profiles when it must load the filter without no_new_privs (seen here).
    HostConfig: { SecurityOpt: [securityOpt, 'no-new-privileges'], CapAdd: capAdd, NetworkMode: 'none', Init: false },
  });
  const id = created.Id;
  try {
    const waitRes = client.request('POST', `/containers/${id}/wait?condition=next-exit`);
    await client.call('POST', `/containers/${id}/start`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`probe container did not exit within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const waited = await Promise.race([waitRes.then(readAll), timeout]).finally(() => clearTimeout(timer));
    const exit = (JSON.parse(waited.toString('utf8') || '{}') as { StatusCode?: number }).StatusCode ?? -1;
    const logs = await client.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    let stdout = '';
    let stderr = '';
    const onData = demux((s, d) => {
      if (s === 2) stderr += d.toString();
      else stdout += d.toString();
    });
    for await (const chunk of logs) onData(chunk as Buffer);
    if (stderr !== '') process.stderr.write(stderr);
    return { stdout, exit };
  } finally {
    await client.call('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
  }
}

async function runTest(deps: SeccompCommandDeps, file: string, o: { probe?: string; capAdd: string[]; enosysStub: boolean; all?: boolean; timeout: string; json?: boolean }): Promise<number> {
  const native = nativeFor(undefined);
  if (native !== 'SCMP_ARCH_X86_64') throw new Error('moat seccomp test runs on x86_64 hosts only (the probe is x86_64 code)');
  const probePath = o.probe ?? process.env['MOAT_SECCOMP_PROBE'];
  if (probePath === undefined || !existsSync(probePath)) {
    throw new Error('moat seccomp test needs the static batch probe: gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o batch-probe test/helpers/seccomp-workbench/batch-probe.c, then --probe ./batch-probe (or MOAT_SECCOMP_PROBE)');
  }
  const profile = loadProfileArg(deps, file);
  const caps = capsOf([], o.capAdd);
  const { seccomp, warnings } = resolveProfile(profile, { arch: native, capabilities: caps, kernel: os.release() });
  for (const w of warnings) if (w.code !== 'syscall_not_on_arch') process.stderr.write(`warning: ${pathText(w)}: ${w.message}\n`);
  const { cases, skipped } = probeCorpus(seccomp, { native });
  // The probe itself needs these (clone as fork, wait4, write, exit_group): refuse to test a
  // profile that blocks them, since every case would then look like a mismatch.
  const needs: Array<[string, bigint[]]> = [['clone', [17n]], ['wait4', []], ['write', [1n]], ['exit_group', []], ['execve', []]];
  const blocked = needs.filter(([n, args]) => {
    const d = decide(seccomp, queryData({ arch: native, syscall: n, args }), native, { enosysStub: o.enosysStub });
    return !retLetsCallRun(d.ret);
  });
  if (blocked.length > 0) throw new Error(`Cannot test this profile in a container: it blocks what the probe needs (${blocked.map(([n]) => n).join(', ')})`);
  const client = deps.client();
  const image = await probeImage(client, readFileSync(probePath));
  const argv = cases.map(probeArg);
  const timeoutMs = Number(o.timeout) * 1000;
  const base = await runProbe(client, image, 'seccomp=unconfined', o.capAdd, argv, timeoutMs);
  const run = await runProbe(client, image, `seccomp=${JSON.stringify(profile)}`, o.capAdd, argv, timeoutMs);
  const baseOut = parseProbeOutput(base.stdout, cases.length);
  const got = parseProbeOutput(run.stdout, cases.length);
  const results: TestCaseResult[] = cases.map((c, i) => {
    const d = decide(seccomp, { nr: c.nr | 0, arch: AUDIT_ARCH_X86_64, args: [...c.args] }, native, { enosysStub: o.enosysStub });
    const want: Outcome = expectedOutcome(d.ret, baseOut[i]!);
    return {
      syscall: c.name ?? `nr ${c.nr}`, nr: c.nr, arch: c.arch, args: c.args.map((a) => `0x${a.toString(16)}`),
      verdict: d.action, baseline: formatOutcome(baseOut[i]!), expected: formatOutcome(want), kernel: formatOutcome(got[i]!), ok: sameOutcome(want, got[i]!),
    };
  });
  const mismatches = results.filter((r) => !r.ok);
  const lostBase = baseOut.filter((x) => x.kind === 'lost').length;
  if (o.json) {
    process.stdout.write(JSON.stringify({ cases: results.length, mismatches: mismatches.length, skipped, baselineLost: lostBase, results: o.all ? results : mismatches }, null, 2) + '\n');
  } else {
    const shown = o.all ? results : mismatches;
    if (shown.length > 0) {
      process.stdout.write(table([['SYSCALL', 'ARGS', 'EMULATOR', 'UNFILTERED', 'EXPECTED', 'KERNEL', ''], ...shown.map((r) => [r.syscall + (r.arch === 'SCMP_ARCH_X32' ? ' (x32)' : ''), r.args.slice(0, 3).join(','), r.verdict, r.baseline, r.expected, r.kernel, r.ok ? 'ok' : 'MISMATCH'])]));
    }
    process.stdout.write(`${results.length} cases, ${mismatches.length} mismatch${mismatches.length === 1 ? '' : 'es'}${skipped.length ? `; ${skipped.length} named syscalls not executed (unsafe in a probe; --json lists them)` : ''}\n`);
  }
  return mismatches.length > 0 || lostBase > 0 ? 1 : 0;
}

// --- record -----------------------------------------------------------------------------

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 1 << 26 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args[0] ?? ''}: ${String(stderr).trim() || err.message}`)) : resolve(String(stdout))));
  });
}

/** Unpack `image` into `dest` through moatd: a created (never started) container, exported. */
async function exportImage(deps: SeccompCommandDeps, image: string, dest: string): Promise<void> {
  const c = deps.client();
  const created = await c.json<{ Id: string }>('POST', '/containers/create', { Image: image, Cmd: ['true'], Entrypoint: [] });
  try {
    const res = await c.request('GET', `/containers/${created.Id}/export`);
    if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, (await readAll(res)).toString('utf8'));
    mkdirSync(dest, { recursive: true, mode: 0o755 });
    await new Promise<void>((resolve, reject) => {
      const p = spawn('tar', ['-x', '-C', dest, '--numeric-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cannot unpack ${image}: ${err.trim()}`))));
      res.pipe(p.stdin);
    });
  } finally {
    await c.call('DELETE', `/containers/${created.Id}?force=1`).catch(() => undefined);
  }
}

async function runRecord(deps: SeccompCommandDeps, rootfsArg: string, cmd: string[], o: { output?: string; merge?: string; capAdd: string[]; env: string[]; rw?: boolean; keepTrace?: string; json?: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('moat seccomp record runs runc directly and needs root');
  const native = nativeFor(undefined) as 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';
  const merge = o.merge !== undefined ? loadProfileArg(deps, o.merge) : undefined;
  const dir = mkdtempSync(join(os.tmpdir(), 'moat-record-'));
  let rootfs = resolvePath(rootfsArg);
  if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) {
    // An image: moatd unpacks it (create, export, remove), so recording needs no other tool.
    rootfs = join(dir, 'rootfs');
    try {
      await exportImage(deps, rootfsArg, rootfs);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const short = createHash('sha256').update(`${process.pid}${Date.now()}`).digest('hex').slice(0, 12);
  const id = `moat-record-${short}`;
  const trace = join(dir, 'trace.txt');
  try {
    // The config.json moatd would write for this process (the real spec generator, moat's
    // default capabilities, no_new_privs off as in moatd's containers, so runc loads the filter
    // as early as it does there and the trace shows every call its init makes after the load).
    // The cgroup is one relative component: runc nests it under ours and removes it on delete.
    writeBundleSync(dir, standaloneSpec({
      rootfs,
      readonlyRootfs: o.rw !== true,
      args: cmd,
      env: [DEFAULT_PATH_ENV, ...o.env],
      cwd: '/',
      hostname: short,
      capabilities: capsOf([], o.capAdd).map((c) => normalizeCapName(c, { field: 'CapAdd' })).filter((c): c is CapName => c !== 'ALL'),
      noNewPrivileges: false,
      // A filter that allows everything, so that runc loads one and the trace shows where.
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['afs_syscall'], action: 'SCMP_ACT_ERRNO' }] },
      cgroupsPath: id,
      mounts: o.rw === true ? [] : [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }],
    }));
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn('strace', ['-f', '-qq', '--decode-pids=pidns', '-s', '256', '-o', trace, 'runc', '--root', join(dir, 'state'), 'run', '--bundle', dir, id], { stdio: ['inherit', 'inherit', 'inherit'] });
      p.on('error', reject);
      p.on('close', (c, sig) => resolve(c ?? (sig !== null ? 128 : 1)));
    });
    const text = readFileSync(trace, 'utf8');
    if (o.keepTrace) deps.writeFile(o.keepTrace, text);
    const rec = parseStrace(text);
    if (rec.exec === undefined) throw new Error(`The workload never ran (runc exited ${code}); see --keep-trace`);
    const { profile, added, unknown, conditional } = synthesizeProfile(rec, { arch: native, ...(merge ? { merge } : {}) });
    const out = JSON.stringify(profile, null, 2) + '\n';
    if (o.json) {
      process.stdout.write(JSON.stringify({ exit: code, exec: rec.exec, workload: Object.fromEntries(rec.workload), runtime: Object.fromEntries(rec.runtime), added, conditional, unknown, profile }, null, 2) + '\n');
    } else if (o.output) deps.writeFile(o.output, out);
    else process.stdout.write(out);
    process.stderr.write(`recorded ${rec.workload.size} syscalls after exec (${rec.pids.length} process${rec.pids.length === 1 ? '' : 'es'}), ${rec.runtime.size} made by runc init after the filter load; workload exited ${code}${merge ? `; ${added.length} added to the merged profile${conditional.length ? `, left conditional as in the base: ${conditional.join(' ')}` : ''}` : ''}${o.output ? `; profile written to ${o.output}` : ''}\n`);
    return 0;
  } finally {
    await execFileText('runc', ['--root', join(dir, 'state'), 'delete', '--force', id]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
