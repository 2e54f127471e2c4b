// Docker profile -> OCI linux.seccomp for one container, as moby/profiles
// seccomp/seccomp_linux.go `setupSeccomp` does it, plus one moat step: names that exist on
// none of the filter's architectures are dropped (with a warning) instead of being handed
// to runc, which would drop them silently.
// errors.js, not index.js: the base index also loads the logger (pino), which pure code does not need.
import { EngineError } from '../base/index.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompArch } from './oci.js';
import { type Issue, type Profile, type ProfileFilter, tryParseKernelVersion } from './profile.js';
import { syscallNumber } from './tables/index.js';

export interface ResolveOptions {
  /** The daemon's own arch (moby uses runtime.GOARCH, never the image's). */
  readonly arch: SeccompArch;
  /**
   * The container's capabilities, CAP_ names. moby compares with the bounding set after
   * --cap-add/--cap-drop; moat passes the effective set, which equals it for containers
   * moat creates.
   */
  readonly capabilities: readonly string[];
  /** Host kernel release as `uname -r` prints it; only "major.minor" counts (6.18.44-x -> 6.18). */
  readonly kernel: string;
}

/** Where an OCI rule came from: the index in the profile's `syscalls` and its comment. */
export interface RuleOrigin {
  readonly rule: number;
  readonly comment?: string;
}

export interface Resolved {
  readonly seccomp: LinuxSeccomp;
  /** Parallel to `seccomp.syscalls`. */
  readonly origins: readonly RuleOrigin[];
  readonly warnings: readonly Issue[];
}

// moby seccomp_linux.go goToNative, keyed by the arch moat runs on.
const MOBY_ARCH: Readonly<Record<SeccompArch, string>> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'amd64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'arm64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL64N32: 'mips3l64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
};

/** Parses a kernel release like Go's `fmt.Sscanf(release, "%d.%d")`. */
export function parseKernelRelease(release: string): { major: number; minor: number } {
  const m = /^\s*(\d+)\.(\d+)/.exec(release);
  if (m === null) {
    throw new EngineError('invalid', 'ERR_SECCOMP_KERNEL', `Cannot resolve seccomp profile: invalid kernel release ${JSON.stringify(release)}`);
  }
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * Resolves a parsed profile for one container: evaluates includes/excludes (caps, arches,
 * minKernel) in moby's order, expands archMap, drops comments, and drops names that exist on
 * none of the filter's arches.
 */
export function resolveProfile(profile: Profile, options: ResolveOptions): Resolved {
  const { arch } = options;
  const native = MOBY_ARCH[arch];
  const caps = new Set(options.capabilities);
  const kernel = parseKernelRelease(options.kernel);
  const kernelAtLeast = (v: string): boolean => {
    const want = tryParseKernelVersion(v);
    // The parser rejects invalid versions; an unchecked Profile with one never matches.
    if (want === undefined) return false;
    return kernel.major > want.major || (kernel.major === want.major && kernel.minor >= want.minor);
  };
  const warnings: Issue[] = [];

  const seccomp: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) seccomp.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures !== undefined && profile.architectures.length > 0) {
    seccomp.architectures = [...profile.architectures];
  } else if (profile.archMap !== undefined) {
    const entry = profile.archMap.find((e) => e.architecture === arch);
    if (entry !== undefined) seccomp.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  if (profile.flags !== undefined && profile.flags.length > 0) seccomp.flags = [...profile.flags];
  if (profile.listenerPath !== undefined && profile.listenerPath !== '') seccomp.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined && profile.listenerMetadata !== '') seccomp.listenerMetadata = profile.listenerMetadata;

  const filterArches = seccomp.architectures ?? [arch];
  const syscalls: LinuxSyscall[] = [];
  const origins: RuleOrigin[] = [];

  const excluded = (f: ProfileFilter | undefined): boolean =>
    f !== undefined &&
    ((f.arches?.includes(native) ?? false) ||
      (f.caps?.some((c) => caps.has(c)) ?? false) ||
      (f.minKernel !== undefined && kernelAtLeast(f.minKernel)));
  const included = (f: ProfileFilter | undefined): boolean =>
    f === undefined ||
    ((f.arches === undefined || f.arches.length === 0 || f.arches.includes(native)) &&
      (f.caps?.every((c) => caps.has(c)) ?? true) &&
      (f.minKernel === undefined || kernelAtLeast(f.minKernel)));

  profile.syscalls.forEach((rule, i) => {
    if (excluded(rule.excludes) || !included(rule.includes)) return;
    const names: string[] = [];
    const foreign: string[] = [];
    for (const n of rule.names) {
      if (filterArches.some((a) => syscallNumber(a, n) !== undefined)) names.push(n);
      else foreign.push(n);
    }
    if (foreign.length > 0) {
      warnings.push({
        path: ['syscalls', i, 'names'],
        code: 'syscall_not_on_arch',
        message: `Skipped ${foreign.length === 1 ? 'syscall' : 'syscalls'} not on ${filterArches.join(', ')}: ${foreign.join(', ')}`,
      });
    }
    if (names.length === 0) return;
    const out: LinuxSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args !== undefined && rule.args.length > 0) {
      out.args = rule.args.map((a) => {
        const arg: LinuxSeccompArg = { index: a.index, value: a.value, op: a.op };
        // OCI's valueTwo is omitempty: 0 and absent are the same.
        if (a.valueTwo !== undefined && a.valueTwo !== 0) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(out);
    origins.push(rule.comment !== undefined ? { rule: i, comment: rule.comment } : { rule: i });
  });
  if (syscalls.length > 0) seccomp.syscalls = syscalls;
  return { seccomp, origins, warnings };
}
