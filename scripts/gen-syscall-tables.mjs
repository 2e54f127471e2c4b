#!/usr/bin/env node
// Generates src/seccomp/tables/*.ts, the syscall name <-> number tables shipped with moat.
//
// Run offline, by hand, when the tables must follow a newer kernel:
//   node scripts/gen-syscall-tables.mjs [--x86-json <path>] [--check]
//
// Sources (named in every generated file):
// - x86_64, i386 (SCMP_ARCH_X86) and x32: test/fixtures/seccomp/x86_64-6.18.json, derived from
//   libseccomp master src/syscalls.csv (Linux v7.1-rc4 table) minus `listns` and
//   `rseq_slice_yield`, which are newer than 6.18. Describes Linux 6.18. Cross-checked
//   against Debian's libseccomp 2.5.4-1+deb12u1 (`scmp_sys_resolver`): every name both know
//   must have the same number, or the script fails.
// - every other arch: Debian's libseccomp 2.5.4-1+deb12u1 (`scmp_sys_resolver -a ARCH NR`,
//   package `seccomp`; Debian patched it to know syscalls up to Linux 6.7), scanning every
//   number of the arch's range; plus the calls added in Linux 6.8..6.18 (numbers 457..469:
//   statmount .. file_setattr). Since Linux 5.1 every arch numbers new syscalls identically
//   from 424 on (kernel scripts/syscall.tbl; mips adds its ABI base 4000/5000/6000), so those
//   numbers are taken from the x86_64 column of the 6.18 table plus the arch's base, which is
//   checked against libseccomp's number for futex_requeue (456). Describes Linux 6.18.
//
// --check regenerates in memory and fails if the files on disk differ (for CI on a host with
// scmp_sys_resolver installed).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(repo, 'src', 'seccomp', 'tables');
const args = process.argv.slice(2);
const check = args.includes('--check');
const jsonArg = args.indexOf('--x86-json');
const x86JsonPath = jsonArg >= 0 ? resolve(args[jsonArg + 1] ?? '') : join(repo, 'test', 'fixtures', 'seccomp', 'x86_64-6.18.json');

const LIBSECCOMP = 'Debian libseccomp 2.5.4-1+deb12u1 (scmp_sys_resolver; syscalls up to Linux 6.7)';
const X86_SOURCE = 'libseccomp master src/syscalls.csv (Linux v7.1-rc4) cut to Linux 6.18 (test/fixtures/seccomp/x86_64-6.18.json), cross-checked with ' + LIBSECCOMP;
const KERNEL = '6.18';
const X32_BIT = 0x40000000;
/** First number of the calls newer than Debian's libseccomp (statmount, Linux 6.8). */
const FIRST_NEW = 457;

// SeccompArch -> [scmp_sys_resolver arch name, file stem, number ranges to scan]
const R = (lo, hi) => [lo, hi];
const ARCHES = [
  ['SCMP_ARCH_AARCH64', 'aarch64', 'aarch64', [R(0, 600)]],
  ['SCMP_ARCH_ARM', 'arm', 'arm', [R(0, 600), R(0xf0000, 0xf0010)]],
  ['SCMP_ARCH_MIPS', 'mips', 'mips', [R(4000, 4600)]],
  ['SCMP_ARCH_MIPSEL', 'mipsel', 'mips', [R(4000, 4600)]],
  ['SCMP_ARCH_MIPS64', 'mips64', 'mips64', [R(5000, 5600)]],
  ['SCMP_ARCH_MIPSEL64', 'mipsel64', 'mips64', [R(5000, 5600)]],
  ['SCMP_ARCH_MIPS64N32', 'mips64n32', 'mips64n32', [R(6000, 6600)]],
  ['SCMP_ARCH_MIPSEL64N32', 'mipsel64n32', 'mips64n32', [R(6000, 6600)]],
  ['SCMP_ARCH_PPC', 'ppc', 'ppc', [R(0, 600)]],
  ['SCMP_ARCH_PPC64', 'ppc64', 'ppc64', [R(0, 600)]],
  ['SCMP_ARCH_PPC64LE', 'ppc64le', 'ppc64', [R(0, 600)]],
  ['SCMP_ARCH_S390', 's390', 's390', [R(0, 600)]],
  ['SCMP_ARCH_S390X', 's390x', 's390x', [R(0, 600)]],
  ['SCMP_ARCH_PARISC', 'parisc', 'parisc', [R(0, 600)]],
  ['SCMP_ARCH_PARISC64', 'parisc64', 'parisc64', [R(0, 600)]],
  ['SCMP_ARCH_RISCV64', 'riscv64', 'riscv64', [R(0, 600)]],
];

// Arch-specific calls (not in the unified numbering) that Debian's libseccomp 2.5.4 lacks.
// Each from the kernel's arch header, checked against a neighbour libseccomp does know.
const ARCH_EXTRA = {
  // arch/riscv/include/uapi/asm/unistd.h: __NR_riscv_hwprobe = __NR_arch_specific_syscall
  // (244) + 14, Linux 6.4; riscv_flush_icache is + 15 = 259.
  SCMP_ARCH_RISCV64: { check: ['riscv_flush_icache', 259], add: [['riscv_hwprobe', 258]] },
};

function resolver(arch, what) {
  const r = spawnSync('scmp_sys_resolver', ['-a', arch, String(what)], { encoding: 'utf8' });
  if (r.error) throw new Error(`Cannot run scmp_sys_resolver: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`scmp_sys_resolver -a ${arch} ${what} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Every (name, nr) libseccomp knows for `arch` in the given number ranges. */
function scan(arch, ranges, offset = 0) {
  const entries = new Map();
  for (const [lo, hi] of ranges) {
    for (let n = lo; n <= hi; n++) {
      const name = resolver(arch, n + offset);
      if (name === 'UNKNOWN' || name === '') continue;
      if (!entries.has(name)) entries.set(name, n + offset);
    }
  }
  return entries;
}

function sorted(map) {
  return [...map.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
}

function render(arch, stem, source, entries) {
  const lines = [];
  for (let i = 0; i < entries.length; i += 6) {
    lines.push('    ' + entries.slice(i, i + 6).map(([n, v]) => `['${n}', ${v}]`).join(', ') + ',');
  }
  return `// GENERATED by scripts/gen-syscall-tables.mjs; do not edit.
// Arch: ${arch}. Kernel: Linux ${KERNEL}. ${entries.length} names.
// Source: ${source}.
import type { SyscallTableData } from './types.js';

export const TABLE: SyscallTableData = {
  arch: '${arch}',
  kernel: '${KERNEL}',
  source: ${JSON.stringify(source)},
  entries: [
${lines.join('\n')}
  ],
};
`;
}

const outputs = new Map(); // file name -> content
const index = []; // [SeccompArch, stem]

// x86 family from the 6.18 table.
const x86json = JSON.parse(readFileSync(x86JsonPath, 'utf8'));
const x86Sets = [
  ['SCMP_ARCH_X86_64', 'x86_64', 'x86-64', x86json.x86_64],
  ['SCMP_ARCH_X86', 'x86', 'x86', x86json.i386],
  ['SCMP_ARCH_X32', 'x32', 'x32', x86json.x32],
];
let mismatches = 0;
for (const [arch, resolverArch, stem, table] of x86Sets) {
  const map = new Map(Object.entries(table));
  // Cross-check with libseccomp 2.5.4: same numbers where both know the name, and no name
  // libseccomp places on this arch that the 6.18 table lacks.
  const ranges = arch === 'SCMP_ARCH_X32' ? [R(0, 600)] : [R(0, 600)];
  const known = scan(resolverArch, ranges, arch === 'SCMP_ARCH_X32' ? X32_BIT : 0);
  for (const [name, nr] of known) {
    const ours = map.get(name);
    if (ours === undefined) {
      process.stderr.write(`note: ${arch}: libseccomp 2.5.4 knows ${name}=${nr}, the 6.18 table does not\n`);
    } else if (ours !== nr) {
      process.stderr.write(`MISMATCH ${arch} ${name}: 6.18 table ${ours}, libseccomp ${nr}\n`);
      mismatches++;
    }
  }
  outputs.set(`${stem}.ts`, render(arch, stem, X86_SOURCE, sorted(map)));
  index.push([arch, stem]);
}
if (mismatches > 0) throw new Error(`${mismatches} number mismatches between the sources`);

// Newer-than-libseccomp calls, from the unified numbering (x86_64 column >= 457).
const newer = Object.entries(x86json.x86_64).filter(([, nr]) => nr >= FIRST_NEW);

const byContent = new Map(); // rendered entries JSON -> stem already written
for (const [arch, resolverArch, stem, ranges] of ARCHES) {
  const map = scan(resolverArch, ranges);
  const base = Number(resolver(resolverArch, 'futex_requeue')) - 456;
  if (![0, 4000, 5000, 6000].includes(base)) throw new Error(`${arch}: unexpected syscall base ${base}`);
  for (const [name, nr] of newer) {
    const have = map.get(name);
    if (have !== undefined && have !== base + nr) throw new Error(`${arch} ${name}: ${have} vs ${base + nr}`);
    map.set(name, base + nr);
  }
  const extra = ARCH_EXTRA[arch];
  if (extra !== undefined) {
    const [cn, cnr] = extra.check;
    if (map.get(cn) !== cnr) throw new Error(`${arch}: expected ${cn}=${cnr}, libseccomp says ${map.get(cn)}`);
    for (const [name, nr] of extra.add) if (!map.has(name)) map.set(name, nr);
  }
  const entries = sorted(map);
  const key = JSON.stringify(entries);
  const source = `${LIBSECCOMP}, plus Linux 6.8-6.18 calls ${FIRST_NEW}-${Math.max(...newer.map(([, n]) => n))} from the unified syscall numbering${base ? ` (ABI base ${base})` : ''}${extra ? `, plus ${extra.add.map(([n, v]) => `${n}=${v}`).join(', ')} from the kernel's arch header` : ''}`;
  const existing = byContent.get(key);
  if (existing !== undefined) {
    index.push([arch, existing]);
    continue;
  }
  const file = outputs.has(`${stem}.ts`) ? resolverArch : stem;
  byContent.set(key, file);
  outputs.set(`${file}.ts`, render(arch, file, source, entries));
  index.push([arch, file]);
}

const stems = [...new Set(index.map(([, s]) => s))];
const ident = (s) => 'T_' + s.replace(/[^a-z0-9]/gi, '_');
outputs.set('generated.ts', `// GENERATED by scripts/gen-syscall-tables.mjs; do not edit.
// Which table describes which arch (arches with identical numbering share one table).
import type { SeccompArch } from '../oci.js';
import type { SyscallTableData } from './types.js';
${stems.map((s) => `import { TABLE as ${ident(s)} } from './${s}.js';`).join('\n')}

export const TABLES: Readonly<Record<SeccompArch, SyscallTableData>> = {
${index.map(([a, s]) => `  ${a}: ${ident(s)},`).join('\n')}
};
`);

let differs = 0;
mkdirSync(outDir, { recursive: true });
for (const [file, content] of outputs) {
  const path = join(outDir, file);
  if (check) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) {
      process.stderr.write(`differs: ${path}\n`);
      differs++;
    }
  } else {
    writeFileSync(path, content);
  }
}
if (check && differs > 0) process.exitCode = 1;
process.stdout.write(`${check ? 'checked' : 'wrote'} ${outputs.size} files in ${outDir}\n`);
