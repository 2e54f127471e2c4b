// `moat seccomp …`: moat's default profile and the profile workbench.
import type { Command } from 'commander';
import os from 'node:os';
import {
  compileSeccomp,
  defaultProfile,
  disassemble,
  formatIssues,
  hostArch,
  parseProfile,
  resolveProfile,
  syscallNumber,
  type SeccompArch,
} from '../../seccomp/index.js';
import type { Client } from '../client.js';

export interface SeccompCommandDeps {
  client: () => Client;
  setExit: (code: number) => void;
  readFile: (path: string) => string;
  writeFile: (path: string, data: Uint8Array | string) => void;
}

const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_KILL', 'CAP_SYS_CHROOT', 'CAP_SETFCAP'];

export function loadProfileArg(deps: SeccompCommandDeps, file: string): ReturnType<typeof defaultProfile> {
  if (file === 'default') return defaultProfile();
  const parsed = parseProfile(JSON.parse(deps.readFile(file)));
  if (!parsed.ok) throw new Error(`Invalid seccomp profile ${file}: ${formatIssues(parsed.issues)}`);
  return parsed.value;
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
    .option('--cap <cap>', 'effective capability of the container (repeatable; default: moat defaults)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--kernel <version>', 'kernel version for minKernel rules', os.release())
    .option('-o, --output <file>', 'write the program here')
    .option('--disasm', 'print readable assembly')
    .action((file: string, o: { arch?: string; cap: string[]; kernel: string; output?: string; disasm?: boolean }) => {
      const arch = (o.arch ?? hostArch(process.arch)) as SeccompArch;
      if (arch !== 'SCMP_ARCH_X86_64' && arch !== 'SCMP_ARCH_AARCH64') throw new Error(`cannot compile for ${arch}: SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64`);
      const resolved = resolveProfile(loadProfileArg(deps, file), { arch, capabilities: o.cap.length ? o.cap.map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)) : DEFAULT_CAPS, kernel: o.kernel });
      const prog = compileSeccomp(resolved.seccomp, { arch, resolveNr: (a, n) => syscallNumber(a as SeccompArch, n) });
      if (o.output) deps.writeFile(o.output, prog.bytes());
      if (o.disasm) process.stdout.write(disassemble(prog) + '\n');
      process.stderr.write(`${prog.length} instructions for ${arch}${o.output ? `, written to ${o.output}` : ''}\n`);
    });
}
