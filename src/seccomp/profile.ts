// The Docker seccomp profile JSON (moby/profiles seccomp/seccomp.go): model, parser and
// validator. Errors and warnings are data with JSON paths; nothing here throws or logs.
import type { SeccompAction, SeccompArch, SeccompOperator } from './oci.js';
import { isKnownOnAnyArch, SECCOMP_ARCHES } from './tables/index.js';
import { ACTION_RET } from './bpf/semantics.js';

/** A problem found in a profile, located by its JSON path. */
export interface Issue {
  readonly path: ReadonlyArray<string | number>;
  readonly code: string;
  readonly message: string;
}

/** The result of a checker: a value plus warnings, or the list of everything wrong. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T; readonly warnings: readonly Issue[] }
  | { readonly ok: false; readonly issues: readonly Issue[] };

export interface ProfileArg {
  index: number;
  /** u64; JSON numbers above 2^53 lose precision (the parser warns). For MASKED_EQ: the mask. */
  value: number;
  /** For MASKED_EQ: the expected `(arg & value)`; absent = 0. */
  valueTwo?: number;
  op: SeccompOperator;
}

/** `includes` / `excludes` (moby `Filter`). `arches` use moby's spelling: amd64, arm64, x86, … */
export interface ProfileFilter {
  caps?: string[];
  arches?: string[];
  /** "major.minor" */
  minKernel?: string;
}

export interface ProfileRule {
  /** The deprecated `name` is folded in here by the parser. */
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: ProfileArg[];
  comment?: string;
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

export interface ArchMapEntry {
  architecture: SeccompArch;
  subArchitectures: SeccompArch[] | null;
}

/** A Docker-format seccomp profile; `JSON.stringify` gives a file any Docker-compatible engine reads. */
export interface Profile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  archMap?: ArchMapEntry[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls: ProfileRule[];
}

/** libseccomp's actions (runc `libcontainer/seccomp/config.go`): the keys of the one action table. */
export const SECCOMP_ACTIONS: readonly SeccompAction[] = Object.keys(ACTION_RET) as SeccompAction[];

export const SECCOMP_OPERATORS: readonly SeccompOperator[] = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];

/** runtime-spec `flags` values (config-linux.md). */
export const SECCOMP_FLAGS: readonly string[] = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

/**
 * Arch names accepted in includes/excludes `arches`: the values of moby's goToNative table
 * (seccomp_linux.go), plus x32 (which never equals the daemon arch but appears in profiles).
 */
export const FILTER_ARCHES: readonly string[] = [
  'x86', 'amd64', 'x32', 'arm', 'arm64', 'loongarch64', 'mips', 'mipsel', 'mips64', 'mipsel64',
  'mips64n32', 'mips3l64n32', 'ppc', 'ppc64', 'ppc64le', 'riscv64', 's390', 's390x',
];

/**
 * Arches the runtime-spec lists (libseccomp 2.6) that moat has no tables for and never runs
 * on: accepted with a warning and left out, so Docker's own default.json (which maps
 * SCMP_ARCH_LOONGARCH64) still parses.
 */
export const UNSUPPORTED_ARCHES: readonly string[] = ['SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB'];

/** errno is 12 bits in practice: the kernel clamps to MAX_ERRNO and libseccomp rejects more. */
export const MAX_ERRNO = 4095;
const U64_MAX = 18446744073709551615;

const isAction = (v: unknown): v is SeccompAction => typeof v === 'string' && (SECCOMP_ACTIONS as readonly string[]).includes(v);
const isOperator = (v: unknown): v is SeccompOperator => typeof v === 'string' && (SECCOMP_OPERATORS as readonly string[]).includes(v);
const isArch = (v: unknown): v is SeccompArch => typeof v === 'string' && (SECCOMP_ARCHES as readonly string[]).includes(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type Path = ReadonlyArray<string | number>;

/** Renders a path the way users write it: `syscalls[2].args[0].op`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** One line per issue: `syscalls[2].action: Unknown action "SCMP_ACT_NOPE"`. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path.length > 0 ? `${formatPath(i.path)}: ${i.message}` : i.message)).join('\n');
}

/** Parses "major.minor" as moby's `KernelVersion` does: two numbers, each <= 255, not 0.0. */
export function tryParseKernelVersion(s: string): { major: number; minor: number } | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(s);
  if (m === null) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > 255 || minor > 255 || (major === 0 && minor === 0)) return undefined;
  return { major, minor };
}

class Checker {
  readonly issues: Issue[] = [];
  readonly warnings: Issue[] = [];
  error(path: Path, code: string, message: string): void {
    this.issues.push({ path: [...path], code, message });
  }
  warn(path: Path, code: string, message: string): void {
    this.warnings.push({ path: [...path], code, message });
  }
  string(v: unknown, path: Path): string | undefined {
    if (typeof v === 'string') return v;
    this.error(path, 'invalid_type', `Expected a string, got ${describe(v)}`);
    return undefined;
  }
  stringArray(v: unknown, path: Path): string[] | undefined {
    if (!Array.isArray(v)) {
      this.error(path, 'invalid_type', `Expected an array of strings, got ${describe(v)}`);
      return undefined;
    }
    const out: string[] = [];
    v.forEach((x, i) => {
      const s = this.string(x, [...path, i]);
      if (s !== undefined) out.push(s);
    });
    return out.length === v.length ? out : undefined;
  }
  errno(v: unknown, path: Path): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.error(path, 'invalid_type', `Expected an integer errno, got ${describe(v)}`);
      return undefined;
    }
    if (v < 0 || v > MAX_ERRNO) {
      this.error(path, 'errno_out_of_range', `errno ${v} is out of range 0-${MAX_ERRNO} (libseccomp rejects larger values, the kernel clamps them)`);
      return undefined;
    }
    return v;
  }
  u64(v: unknown, path: Path): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U64_MAX) {
      this.error(path, 'invalid_type', `Expected an unsigned 64-bit integer, got ${describe(v)}`);
      return undefined;
    }
    if (v > Number.MAX_SAFE_INTEGER) {
      this.warn(path, 'imprecise_number', `Value ${v} is above 2^53 and may have lost precision in JSON; compare against a value below 2^53 or a mask`);
    }
    return v;
  }
  unknownKeys(obj: Record<string, unknown>, known: readonly string[], path: Path): void {
    for (const k of Object.keys(obj)) {
      if (!known.includes(k)) this.warn([...path, k], 'unknown_key', `Unknown key ${JSON.stringify(k)} is ignored`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `number ${v}`;
  return typeof v;
}

const TOP_KEYS = ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls'];
const RULE_KEYS = ['name', 'names', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes'];
const ARG_KEYS = ['index', 'value', 'valueTwo', 'op'];
const FILTER_KEYS = ['caps', 'arches', 'minKernel'];

/**
 * Parses and validates a Docker/OCI seccomp profile. Fails closed where runc would silently
 * change meaning: unknown syscall names (runc drops them), two comparisons on one argument
 * (runc turns the AND into an OR), unknown actions, operators, flags and arches.
 */
export function parseProfile(input: unknown): Parsed<Profile> {
  const c = new Checker();
  if (!isRecord(input)) {
    c.error([], 'invalid_type', `Expected a JSON object, got ${describe(input)}`);
    return { ok: false, issues: c.issues };
  }
  c.unknownKeys(input, TOP_KEYS, []);
  const out: Partial<Profile> & { syscalls: ProfileRule[] } = { syscalls: [] };

  if (input.defaultAction === undefined) {
    c.error(['defaultAction'], 'required', 'Missing defaultAction');
  } else if (!isAction(input.defaultAction)) {
    c.error(['defaultAction'], 'unknown_action', `Unknown action ${JSON.stringify(input.defaultAction)}`);
  } else if (input.defaultAction === 'SCMP_ACT_NOTIFY') {
    c.error(['defaultAction'], 'notify_default', 'SCMP_ACT_NOTIFY cannot be the default action (runc refuses it: the notify agent would have to answer every syscall)');
  } else {
    out.defaultAction = input.defaultAction;
  }
  if (input.defaultErrnoRet !== undefined) {
    const e = c.errno(input.defaultErrnoRet, ['defaultErrnoRet']);
    if (e !== undefined) {
      out.defaultErrnoRet = e;
      if (out.defaultAction !== undefined && out.defaultAction !== 'SCMP_ACT_ERRNO' && out.defaultAction !== 'SCMP_ACT_TRACE') {
        c.warn(['defaultErrnoRet'], 'errno_ignored', `defaultErrnoRet is ignored with ${out.defaultAction}`);
      }
    }
  }

  if (input.architectures !== undefined && input.archMap !== undefined) {
    c.error(['archMap'], 'arch_conflict', 'Use either architectures or archMap, not both');
  }
  if (input.architectures !== undefined) {
    const list = c.stringArray(input.architectures, ['architectures']);
    if (list !== undefined) {
      list.forEach((a, i) => checkArch(c, a, ['architectures', i]));
      if (list.every((a) => isArch(a) || UNSUPPORTED_ARCHES.includes(a))) out.architectures = list.filter(isArch);
    }
  }
  if (input.archMap !== undefined) {
    const m = parseArchMap(c, input.archMap);
    if (m !== undefined) out.archMap = m;
  }
  if (input.flags !== undefined) {
    const flags = c.stringArray(input.flags, ['flags']);
    if (flags !== undefined) {
      flags.forEach((f, i) => {
        if (!SECCOMP_FLAGS.includes(f)) c.error(['flags', i], 'unknown_flag', `Unknown seccomp flag ${JSON.stringify(f)}`);
      });
      if (flags.length > 0) c.warn(['flags'], 'flags_unsupported', 'runc 1.1 refuses any seccomp flags ("seccomp flags are not yet supported by runc")');
      out.flags = flags;
    }
  }
  for (const key of ['listenerPath', 'listenerMetadata'] as const) {
    if (input[key] !== undefined) {
      const s = c.string(input[key], [key]);
      if (s !== undefined) out[key] = s;
    }
  }

  if (input.syscalls !== undefined && input.syscalls !== null) {
    if (!Array.isArray(input.syscalls)) {
      c.error(['syscalls'], 'invalid_type', `Expected an array of rules, got ${describe(input.syscalls)}`);
    } else {
      input.syscalls.forEach((r, i) => {
        const rule = parseRule(c, r, ['syscalls', i]);
        if (rule !== undefined) out.syscalls.push(rule);
      });
      const usesNotify = out.syscalls.some((r) => r.action === 'SCMP_ACT_NOTIFY');
      if (usesNotify && out.listenerPath === undefined) {
        c.error(['listenerPath'], 'notify_without_listener', 'SCMP_ACT_NOTIFY rules need listenerPath (runc: "listenerPath is not set")');
      }
    }
  }

  if (c.issues.length > 0 || out.defaultAction === undefined) return { ok: false, issues: c.issues };
  const value: Profile = { defaultAction: out.defaultAction, ...out, syscalls: out.syscalls };
  return { ok: true, value, warnings: c.warnings };
}

/** True when `a` is usable or only unsupported (warned); false after an error. */
function checkArch(c: Checker, a: unknown, path: Path): boolean {
  if (isArch(a)) return true;
  if (typeof a === 'string' && UNSUPPORTED_ARCHES.includes(a)) {
    c.warn(path, 'unsupported_arch', `Architecture ${JSON.stringify(a)} is not supported by moat and is left out`);
    return true;
  }
  c.error(path, 'unknown_arch', `Unknown architecture ${JSON.stringify(a)}`);
  return false;
}

function parseArchMap(c: Checker, v: unknown): ArchMapEntry[] | undefined {
  if (!Array.isArray(v)) {
    c.error(['archMap'], 'invalid_type', `Expected an array, got ${describe(v)}`);
    return undefined;
  }
  const out: ArchMapEntry[] = [];
  let ok = true;
  v.forEach((e, i) => {
    const path = ['archMap', i];
    if (!isRecord(e)) {
      c.error(path, 'invalid_type', `Expected an object, got ${describe(e)}`);
      ok = false;
      return;
    }
    c.unknownKeys(e, ['architecture', 'subArchitectures'], path);
    if (!isArch(e.architecture)) {
      if (!checkArch(c, e.architecture, [...path, 'architecture'])) ok = false;
      return;
    }
    let subs: SeccompArch[] | null = null;
    if (e.subArchitectures !== undefined && e.subArchitectures !== null) {
      const list = c.stringArray(e.subArchitectures, [...path, 'subArchitectures']);
      if (list === undefined) {
        ok = false;
        return;
      }
      list.forEach((a, j) => checkArch(c, a, [...path, 'subArchitectures', j]));
      if (!list.every((a) => isArch(a) || UNSUPPORTED_ARCHES.includes(a))) {
        ok = false;
        return;
      }
      subs = list.filter(isArch);
    }
    out.push({ architecture: e.architecture, subArchitectures: subs });
  });
  return ok ? out : undefined;
}

function parseRule(c: Checker, r: unknown, path: Path): ProfileRule | undefined {
  if (!isRecord(r)) {
    c.error(path, 'invalid_type', `Expected a rule object, got ${describe(r)}`);
    return undefined;
  }
  const before = c.issues.length;
  c.unknownKeys(r, RULE_KEYS, path);

  let names: string[] = [];
  if (r.name !== undefined && r.names !== undefined) {
    c.error([...path, 'name'], 'name_conflict', 'Use either name or names, not both');
  } else if (r.name !== undefined) {
    const n = c.string(r.name, [...path, 'name']);
    if (n !== undefined) names = [n];
  } else if (r.names !== undefined) {
    names = c.stringArray(r.names, [...path, 'names']) ?? [];
  }
  if (r.name === undefined && r.names === undefined) {
    c.error([...path, 'names'], 'required', 'A rule needs at least one syscall name');
  } else if (Array.isArray(r.names) && r.names.length === 0) {
    c.error([...path, 'names'], 'required', 'A rule needs at least one syscall name');
  }
  const namesPath = r.name !== undefined ? [...path, 'name'] : [...path, 'names'];
  names.forEach((n, i) => {
    const p = r.name !== undefined ? namesPath : [...namesPath, i];
    if (!isKnownOnAnyArch(n)) {
      c.error(p, 'unknown_syscall', `Unknown syscall ${JSON.stringify(n)}: not in the table of any architecture (runc would drop it silently)`);
    }
  });

  let action: SeccompAction | undefined;
  if (r.action === undefined) c.error([...path, 'action'], 'required', 'Missing action');
  else if (!isAction(r.action)) c.error([...path, 'action'], 'unknown_action', `Unknown action ${JSON.stringify(r.action)}`);
  else action = r.action;
  if (action === 'SCMP_ACT_NOTIFY' && names.includes('write')) {
    c.error([...path, 'action'], 'notify_write', 'SCMP_ACT_NOTIFY cannot apply to write (runc refuses it: the agent could deadlock the container)');
  }

  const rule: Partial<ProfileRule> = { names };
  if (r.errnoRet !== undefined) {
    const e = c.errno(r.errnoRet, [...path, 'errnoRet']);
    if (e !== undefined) {
      rule.errnoRet = e;
      if (action !== undefined && action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
        c.warn([...path, 'errnoRet'], 'errno_ignored', `errnoRet is ignored with ${action}`);
      }
    }
  }
  if (r.args !== undefined && r.args !== null) {
    const args = parseArgs(c, r.args, [...path, 'args']);
    if (args !== undefined && args.length > 0) rule.args = args;
  }
  if (r.comment !== undefined) {
    const s = c.string(r.comment, [...path, 'comment']);
    if (s !== undefined) rule.comment = s;
  }
  for (const key of ['includes', 'excludes'] as const) {
    if (r[key] !== undefined && r[key] !== null) {
      const f = parseFilter(c, r[key], [...path, key]);
      if (f !== undefined && Object.keys(f).length > 0) rule[key] = f;
    }
  }
  if (c.issues.length > before || action === undefined) return undefined;
  return { ...rule, names, action };
}

function parseArgs(c: Checker, v: unknown, path: Path): ProfileArg[] | undefined {
  if (!Array.isArray(v)) {
    c.error(path, 'invalid_type', `Expected an array of argument comparisons, got ${describe(v)}`);
    return undefined;
  }
  const out: ProfileArg[] = [];
  const seen = new Map<number, number>();
  v.forEach((a, i) => {
    const p = [...path, i];
    if (!isRecord(a)) {
      c.error(p, 'invalid_type', `Expected an object, got ${describe(a)}`);
      return;
    }
    c.unknownKeys(a, ARG_KEYS, p);
    let index: number | undefined;
    if (typeof a.index !== 'number' || !Number.isInteger(a.index) || a.index < 0) {
      c.error([...p, 'index'], 'invalid_type', `Expected an argument index 0-5, got ${describe(a.index)}`);
    } else if (a.index > 5) {
      c.error([...p, 'index'], 'arg_index_out_of_range', `Argument index ${a.index} is out of range 0-5 (syscalls only have up to 6 arguments)`);
    } else {
      index = a.index;
      const first = seen.get(index);
      if (first !== undefined) {
        c.error([...p, 'index'], 'duplicate_arg_index',
          `Argument ${index} is already compared in args[${first}]; two comparisons on one argument in one rule are not supported: libseccomp rejects them and runc splits the rule into one rule per comparison, which turns the AND into an OR. Express a range as separate rules (e.g. "< 38" and "> 40") or a single MASKED_EQ`);
      } else {
        seen.set(index, i);
      }
    }
    const value = a.value === undefined ? (c.error([...p, 'value'], 'required', 'Missing value'), undefined) : c.u64(a.value, [...p, 'value']);
    const valueTwo = a.valueTwo === undefined ? undefined : c.u64(a.valueTwo, [...p, 'valueTwo']);
    let op: SeccompOperator | undefined;
    if (a.op === undefined) c.error([...p, 'op'], 'required', 'Missing op');
    else if (!isOperator(a.op)) c.error([...p, 'op'], 'unknown_operator', `Unknown operator ${JSON.stringify(a.op)}`);
    else op = a.op;
    if (op !== undefined && op !== 'SCMP_CMP_MASKED_EQ' && valueTwo !== undefined && valueTwo !== 0) {
      c.warn([...p, 'valueTwo'], 'value_two_ignored', `valueTwo is only used by SCMP_CMP_MASKED_EQ and is ignored with ${op}`);
    }
    if (op === 'SCMP_CMP_MASKED_EQ' && value !== undefined && valueTwo !== undefined && (BigInt(valueTwo) & ~BigInt(value)) !== 0n) {
      c.warn([...p, 'valueTwo'], 'never_matches', `(arg & ${value}) can never equal ${valueTwo}: valueTwo has bits outside the mask, so this rule never matches`);
    }
    if (index !== undefined && value !== undefined && op !== undefined) {
      const arg: ProfileArg = { index, value, op };
      if (valueTwo !== undefined) arg.valueTwo = valueTwo;
      out.push(arg);
    }
  });
  return out;
}

function parseFilter(c: Checker, v: unknown, path: Path): ProfileFilter | undefined {
  if (!isRecord(v)) {
    c.error(path, 'invalid_type', `Expected an object, got ${describe(v)}`);
    return undefined;
  }
  c.unknownKeys(v, FILTER_KEYS, path);
  const out: ProfileFilter = {};
  if (v.caps !== undefined && v.caps !== null) {
    const caps = c.stringArray(v.caps, [...path, 'caps']);
    if (caps !== undefined) {
      caps.forEach((cap, i) => {
        if (!/^CAP_[A-Z_]+$/.test(cap)) {
          c.warn([...path, 'caps', i], 'unknown_cap', `Capability ${JSON.stringify(cap)} is not a CAP_ name and never matches (caps are compared as strings)`);
        }
      });
      if (caps.length > 0) out.caps = caps;
    }
  }
  if (v.arches !== undefined && v.arches !== null) {
    const arches = c.stringArray(v.arches, [...path, 'arches']);
    if (arches !== undefined) {
      arches.forEach((a, i) => {
        if (!FILTER_ARCHES.includes(a)) {
          c.warn([...path, 'arches', i], 'unknown_arch', `Architecture ${JSON.stringify(a)} is not one moby reports (amd64, arm64, x86, …) and never matches`);
        }
      });
      if (arches.length > 0) out.arches = arches;
    }
  }
  if (v.minKernel !== undefined && v.minKernel !== '') {
    const s = c.string(v.minKernel, [...path, 'minKernel']);
    if (s !== undefined) {
      if (tryParseKernelVersion(s) === undefined) {
        c.error([...path, 'minKernel'], 'invalid_kernel_version', `Invalid kernel version ${JSON.stringify(s)}: expected "major.minor", each 0-255, not "0.0"`);
      } else {
        out.minKernel = s;
      }
    }
  }
  return out;
}
