// Benchmark (not a test): size and instructions executed per syscall of our compiled Docker
// default profile against libseccomp's and runc's programs, over a weighted syscall mix.
// Run: npx tsc -p tsconfig.json && node dist/bench/seccomp-bpf.js

import type { LinuxSeccomp } from '../src/seccomp/oci.js';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, compileSeccomp, isConstAllow, loadProgram, runFilter, runFilterTrace,
  type Program, type SeccompData,
} from '../src/seccomp/bpf/index.js';
import { linux618Resolver, readFixture, readJsonFixture } from '../test/fixtures/bpf/load.js';

const X = AUDIT_ARCH_X86_64;
const NR: Readonly<Record<string, number>> = {
  read: 0, write: 1, close: 3, fstat: 5, poll: 7, lseek: 8, mmap: 9, mprotect: 10, munmap: 11, brk: 12,
  rt_sigprocmask: 14, pread64: 17, sched_yield: 24, madvise: 28, nanosleep: 35, getpid: 39, socket: 41,
  sendto: 44, recvfrom: 45, clone: 56, getppid: 110, personality: 135, futex: 202, epoll_wait: 232,
  clock_gettime: 228, openat: 257, newfstatat: 262, ppoll: 271, epoll_pwait: 281, accept4: 288,
};

/** Weights loosely modelled on a busy network service (strace -c of nginx / a Go server). */
const MIX: readonly [string, number, SeccompData['args']?][] = [
  ['read', 20], ['write', 14], ['futex', 14], ['epoll_wait', 8], ['epoll_pwait', 4], ['close', 6], ['openat', 5],
  ['mmap', 5], ['munmap', 3], ['mprotect', 2], ['newfstatat', 4], ['fstat', 2], ['recvfrom', 4], ['sendto', 4],
  ['clock_gettime', 1], ['brk', 2], ['rt_sigprocmask', 2], ['lseek', 2], ['pread64', 2], ['ppoll', 1], ['poll', 1],
  ['madvise', 1], ['nanosleep', 1], ['sched_yield', 1], ['getpid', 1], ['getppid', 1], ['accept4', 1],
  ['socket', 1, [2n, 1n, 0n]], ['clone', 0.5, [0x1200011n]], ['personality', 0.1, [0xffffffffn]],
];

interface Row { name: string; program: Program }

const profile = readJsonFixture<LinuxSeccomp>('default-main.oci-amd64-defaultcaps.json');
const resolveNr = linux618Resolver(true);
const rows: Row[] = [
  { name: 'moat, x86_64 only', program: compileSeccomp({ ...profile, architectures: ['SCMP_ARCH_X86_64'] }, { arch: 'SCMP_ARCH_X86_64', resolveNr }) },
  { name: 'moat, x86_64+x86+x32', program: compileSeccomp(profile, { arch: 'SCMP_ARCH_X86_64', resolveNr }) },
  { name: 'moat, 3 arches + ENOSYS stub', program: compileSeccomp(profile, { arch: 'SCMP_ARCH_X86_64', resolveNr, enosysStub: true }) },
  { name: 'libseccomp linear, x86_64', program: loadProgram(readFixture('libseccomp-2.5.4deb-default-linear-x86_64.bpf')) },
  { name: 'libseccomp bintree, x86_64', program: loadProgram(readFixture('libseccomp-2.5.4deb-default-bintree-x86_64.bpf')) },
  { name: 'libseccomp linear, 3 arches', program: loadProgram(readFixture('libseccomp-2.5.4deb-default-linear-3arch.bpf')) },
  { name: 'libseccomp bintree, 3 arches', program: loadProgram(readFixture('libseccomp-2.5.4deb-default-bintree-3arch.bpf')) },
  { name: 'runc 1.1.5 installed', program: loadProgram(readFixture('runc-1.1.5-default-main.bpf')) },
  { name: 'dockerd 20.10.24 builtin', program: loadProgram(readFixture('dockerd-20.10.24-builtin.bpf')) },
];

const mixData = MIX.map(([name, w, args]) => ({ w, d: args === undefined ? { nr: NR[name]!, arch: X } : { nr: NR[name]!, arch: X, args } }));
const totalWeight = mixData.reduce((s, m) => s + m.w, 0);

const table = rows.map(({ name, program }) => {
  const weighted = mixData.reduce((s, m) => s + m.w * runFilterTrace(program, m.d).executed, 0) / totalWeight;
  // With the kernel's action cache (>= 5.11), constant-ALLOW syscalls run no BPF at all.
  const cached = mixData.reduce((s, m) => s + m.w * (m.d.args === undefined && isConstAllow(program, m.d) ? 0 : runFilterTrace(program, m.d).executed), 0) / totalWeight;
  const paths = Array.from({ length: 470 }, (_, nr) => runFilterTrace(program, { nr, arch: X }).executed);
  const i386 = Array.from({ length: 470 }, (_, nr) => runFilterTrace(program, { nr, arch: AUDIT_ARCH_I386 }).executed);
  const cacheable = Array.from({ length: 470 }, (_, nr) => nr).filter((nr) => isConstAllow(program, { arch: X, nr })).length;
  const path = (n: string): number => runFilterTrace(program, { nr: NR[n]!, arch: X }).executed;
  return {
    program: name,
    insns: program.length,
    'mix avg': weighted.toFixed(2),
    'mix avg (cache)': cached.toFixed(2),
    'x86_64 0..469 mean/max': `${(paths.reduce((a, b) => a + b, 0) / paths.length).toFixed(1)}/${Math.max(...paths)}`,
    'i386 mean': (i386.reduce((a, b) => a + b, 0) / i386.length).toFixed(1),
    getppid: path('getppid'), read: path('read'), futex: path('futex'),
    'socket(AF_INET)': runFilterTrace(program, { nr: 41, arch: X, args: [2n] }).executed,
    cacheable,
  };
});

// Emulator throughput, for scale only (not kernel cost).
const t0 = process.hrtime.bigint();
let sink = 0;
const ours = rows[0]!.program;
for (let i = 0; i < 200_000; i++) sink ^= runFilter(ours, mixData[i % mixData.length]!.d);
const ns = Number(process.hrtime.bigint() - t0) / 200_000;

console.table(table);
console.log(`mix: ${MIX.length} syscalls, total weight ${totalWeight}; emulator: ${ns.toFixed(0)} ns per runFilter call (checksum ${sink})`);
