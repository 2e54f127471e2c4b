// `moat …seccomp`: moat's default profile and the profile workbench (compile, lint,
// explain, diff, denials, test against the kernel, record). Pure analysis lives in
// src/seccomp-workbench/; these files do the I/O (test: seccomp-test.ts, record:
// seccomp-record.ts). docs/seccomp-workbench.md describes the commands and their output.
import type { Command } from 'commander';
import os from 'node:os';
import { compileSeccomp, defaultProfile, disassemble, resolveProfile, syscallNumber, type Issue, type SeccompArch } from '../../seccomp/index.js';
import { diffProfiles, explainSyscall, lintProfile } from '../../seccomp-workbench/index.js';
import { collect } from '../common.js';
import { runRecord } from './seccomp-record.js';
import { capsOf, errnoText, loadProfileArg, nativeFor, parseArgValue, pathText, table, type SeccompCommandDeps } from './seccomp-shared.js';
import { runTest } from './seccomp-test.js';

export type { SeccompCommandDeps } from './seccomp-shared.js';

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
