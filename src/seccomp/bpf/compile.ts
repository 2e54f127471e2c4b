// OCI `linux.seccomp` -> classic BPF. Pure.
//
// Layout (cf. libseccomp's, seccomp.md 5.1, but with range dispatch):
//   ld [arch]; jeq AUDIT_ARCH_<native> ...; jeq <sub-arch> ...; -> ret <bad-arch action>
//   per arch section: ld [nr]; balanced jge/jeq tree over *ranges* of syscall numbers whose
//   leaves are shared `ret` instructions or argument blocks
//   argument blocks (64-bit compares split into hi/lo words, see ranges.ts)
//   one `ret` per distinct return value
//
// Rule semantics (same as reference.ts, which is the oracle the tests compare against):
// - Each (rule, name) is one rule, in profile order (runc explodes `names`).
// - Names with no number on an arch (resolveNr -> undefined/negative) are skipped there.
// - A rule whose return value equals the default action's is dropped (libseccomp rejects
//   it, runc skips it).
// - For one syscall, if any rule has no `args`, the first such rule decides and every
//   conditional rule is ignored (libseccomp absorbs them; seccomp.md 1.6).
// - Otherwise the matching conditional rule with the highest kernel precedence wins
//   (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW); ties go
//   to the earlier rule. libseccomp leaves partial overlaps to its tree order; we pick the
//   most restrictive, which is also how the kernel combines stacked filters.
// - A rule's `args` are ANDed; if one arg index appears twice, runc splits the rule into
//   one rule per comparison (OR). `duplicateArgs: 'and'` keeps the AND instead.
// - On 32-bit ABIs (x86, x32, arm) only the low 32 bits of argument and values are
//   compared (libseccomp `_db_rule_gen_32`; its x32 arch has size 32).
// - x86_64 without SCMP_ARCH_X32: nr >= 0x40000000 gets the bad-arch action, except
//   nr == 0xffffffff (-1), which gets the default action (libseccomp).
// - The host arch is always filtered (libseccomp's native arch); listed sub-arches that the
//   host can run (x86 and x32 on x86_64, arm on aarch64) get their own sections; other
//   listed arches can never appear in seccomp_data on this host and are ignored.
// - Option `enosysStub`: runc's ENOSYS stub (numbers above the highest named one, for the
//   listed arches; semantics.ts enosysCutoff).
// Return values, precedence, comparisons and the stub are defined in semantics.ts.
//
// Not done (differences from libseccomp, see the report): i386 `socketcall`/`ipc`
// multiplexing (libseccomp also adds `socketcall(arg0 == SYS_SOCKET)` for a `socket` rule on
// x86), errors for rules libseccomp refuses (EEXIST duplicates, same arg twice in 'and' mode).
// `flags`, `listenerPath` and `listenerMetadata` are load-time settings, not program content.

import type { SeccompAction, SeccompOperator } from '../oci.js';
import { EngineError } from '../../base/index.js';
import { Assembler, lower, type AbsInsn, type Label } from './asm.js';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_KILL_THREAD, X32_SYSCALL_BIT } from './constants.js';
import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_MAXINSNS,
  BPF_RET, BPF_W, type Instruction,
} from './insn.js';
import { optimize } from './optimize.js';
import { createProgram, type Program } from './program.js';
import {
  U32_MAX, U64_MAX, buildRangeTree, highWordSegments, intersectSets, isFullSet, mergeSegments,
  unionSets, wordSegments, type IntervalSet, type RangeTree, type Segment,
} from './ranges.js';
import { ENOSYS_RET, acceptedValues, actionRet, argMask, enosysCutoff, filterNr, retRank, type NativeArch, type ResolveNr } from './semantics.js';

/** u64 argument values: JSON numbers (exact up to 2^53) or bigint. */
export type ArgValue = number | bigint;

/** `LinuxSeccompArg` with u64 values that may be bigint. */
export interface CompileArg {
  readonly index: number;
  readonly value: ArgValue;
  readonly valueTwo?: ArgValue;
  readonly op: SeccompOperator;
}

export interface CompileSyscall {
  readonly names: readonly string[];
  readonly action: SeccompAction;
  readonly errnoRet?: number;
  readonly args?: readonly CompileArg[];
}

/** What the compiler reads from an OCI `LinuxSeccomp` (which is assignable to it). */
export interface CompileInput {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[];
  readonly syscalls?: readonly CompileSyscall[];
}

export type { NativeArch } from './semantics.js';

export interface CompileOptions {
  /** The host arch; always filtered, whatever `architectures` says (libseccomp's native arch). */
  arch: NativeArch;
  /**
   * Syscall number of `name` on `arch` (`SCMP_ARCH_X86_64`, `SCMP_ARCH_X86`, `SCMP_ARCH_X32`,
   * `SCMP_ARCH_AARCH64`, `SCMP_ARCH_ARM`), or undefined if it has none. x32 numbers may be
   * given with or without 0x40000000.
   */
  resolveNr: ResolveNr;
  /** Return value for an arch not in the filter. Default SECCOMP_RET_KILL_THREAD (libseccomp, runc). */
  badArchRet?: number;
  /** Same arg index twice in one rule: 'or' splits the rule as runc does (default), 'and' keeps the AND. */
  duplicateArgs?: 'or' | 'and';
  /**
   * Add runc's ENOSYS stub: numbers above the highest one the profile names (per sub-arch)
   * return ERRNO(ENOSYS) instead of the default action. Default false.
   */
  enosysStub?: boolean;
  /** Run the optimizer passes (default true). */
  optimize?: boolean;
}

function compileError(message: string): EngineError {
  return new EngineError('invalid', 'ERR_SECCOMP_COMPILE', `Cannot compile seccomp profile: ${message}`);
}

function toU64(v: ArgValue | undefined, where: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw compileError(`${where} ${v} is not a u64`);
    return v;
  }
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** 64) throw compileError(`${where} ${String(v)} is not a u64`);
  return BigInt(v);
}

interface Cond { arg: number; op: SeccompOperator; value: bigint; valueTwo: bigint }
interface Rule { order: number; ret: number; conds: Cond[] | undefined; width: 32 | 64 }

type Atom =
  | { kind: 'set'; arg: number; set: IntervalSet }
  | { kind: 'masked'; arg: number; mask: bigint; datum: bigint };

interface Section {
  audit: number;
  /** Sub-arches sharing the AUDIT_ARCH value; width = argument bits libseccomp compares. */
  subs: { arch: string; bit: number; width: 32 | 64 }[];
  x32Guard: boolean;
}

function sectionsFor(native: NativeArch, listed: readonly string[]): Section[] {
  const has = (a: string): boolean => listed.includes(a);
  if (native === 'SCMP_ARCH_X86_64') {
    const out: Section[] = [{
      audit: AUDIT_ARCH_X86_64,
      subs: [{ arch: 'SCMP_ARCH_X86_64', bit: 0, width: 64 }, ...(has('SCMP_ARCH_X32') ? [{ arch: 'SCMP_ARCH_X32', bit: X32_SYSCALL_BIT, width: 32 as const }] : [])],
      x32Guard: !has('SCMP_ARCH_X32'),
    }];
    if (has('SCMP_ARCH_X86')) out.push({ audit: AUDIT_ARCH_I386, subs: [{ arch: 'SCMP_ARCH_X86', bit: 0, width: 32 }], x32Guard: false });
    return out;
  }
  const out: Section[] = [{ audit: AUDIT_ARCH_AARCH64, subs: [{ arch: 'SCMP_ARCH_AARCH64', bit: 0, width: 64 }], x32Guard: false }];
  if (has('SCMP_ARCH_ARM')) out.push({ audit: AUDIT_ARCH_ARM, subs: [{ arch: 'SCMP_ARCH_ARM', bit: 0, width: 32 }], x32Guard: false });
  return out;
}

/** Profile rules -> per-syscall-number rule lists for one section. */
function collectRules(input: CompileInput, section: Section, opts: CompileOptions, defaultRet: number): Map<number, Rule[]> {
  const byNr = new Map<number, Rule[]>();
  let order = 0;
  (input.syscalls ?? []).forEach((sc, ri) => {
    const where = `syscalls[${ri}]`;
    const ret = actionRet(sc.action, sc.errnoRet, `${where}.action`);
    const conds: Cond[] | undefined = sc.args === undefined || sc.args.length === 0 ? undefined : sc.args.map((a, ai) => {
      const w = `${where}.args[${ai}]`;
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw compileError(`${w}.index ${String(a.index)}: syscalls only have up to 6 arguments`);
      return { arg: a.index, op: a.op, value: toU64(a.value, `${w}.value`), valueTwo: toU64(a.valueTwo, `${w}.valueTwo`) };
    });
    // runc matchCall: the same index twice splits the rule into one rule per comparison.
    const split = conds !== undefined && (opts.duplicateArgs ?? 'or') === 'or' && new Set(conds.map((c) => c.arg)).size < conds.length;
    const variants: (Cond[] | undefined)[] = split ? conds.map((c) => [c]) : [conds];
    for (const name of sc.names) {
      const o = order++;
      if (ret === defaultRet) continue;
      for (const sub of section.subs) {
        const nr = filterNr(sub.arch, name, opts.resolveNr);
        if (nr === undefined) continue;
        const list = byNr.get(nr) ?? [];
        for (const v of variants) list.push({ order: o, ret, conds: v, width: sub.width });
        byNr.set(nr, list);
      }
    }
  });
  return byNr;
}

/** One comparison as an atom in `width` bits; undefined = always true, null = never. */
function condAtom(c: Cond, width: 32 | 64): Atom | undefined | null {
  const accepted = acceptedValues(c, width);
  if (accepted === false) return null;
  if (accepted === true) return undefined;
  return accepted.kind === 'masked' ? { kind: 'masked', arg: c.arg, mask: accepted.mask, datum: accepted.datum } : { kind: 'set', arg: c.arg, set: accepted.set };
}

/** A rule's conditions as atoms (same-arg sets intersected); null = never matches. */
function ruleAtoms(conds: readonly Cond[], width: 32 | 64): Atom[] | null {
  const max = argMask(width);
  const sets = new Map<number, IntervalSet>();
  const masked: Atom[] = [];
  for (const c of conds) {
    const a = condAtom(c, width);
    if (a === null) return null;
    if (a === undefined) continue;
    if (a.kind === 'set') {
      const prev = sets.get(a.arg);
      const next = prev === undefined ? a.set : intersectSets(prev, a.set);
      if (next.length === 0) return null;
      sets.set(a.arg, next);
    } else masked.push(a);
  }
  const atoms: Atom[] = [];
  for (const [arg, set] of sets) if (!isFullSet(set, max)) atoms.push({ kind: 'set', arg, set });
  atoms.push(...masked);
  return atoms.sort((x, y) => x.arg - y.arg || (x.kind === y.kind ? 0 : x.kind === 'set' ? -1 : 1));
}

/** A group of rules with one return value: match if any test (a conjunction of atoms) holds. */
interface Group { ret: number; tests: Atom[][] }

/** Conditional rules for one syscall -> groups in evaluation order. */
function planGroups(rules: readonly Rule[], width: 32 | 64): Group[] {
  const sorted = [...rules].sort((a, b) => retRank(a.ret) - retRank(b.ret) || a.order - b.order);
  const groups: Group[] = [];
  for (const r of sorted) {
    const atoms = ruleAtoms(r.conds ?? [], width);
    if (atoms === null) continue;
    // First match in this order = the strictest matching rule, earliest on ties.
    const last = groups[groups.length - 1];
    if (last !== undefined && last.ret === r.ret) last.tests.push(atoms);
    else groups.push({ ret: r.ret, tests: [atoms] });
  }
  // Within a group order does not matter: fold one-atom set tests on the same arg together.
  for (const g of groups) {
    const merged = new Map<number, IntervalSet>();
    const rest: Atom[][] = [];
    for (const t of g.tests) {
      const only = t.length === 1 ? t[0]! : undefined;
      if (only !== undefined && only.kind === 'set') merged.set(only.arg, unionSets(merged.get(only.arg) ?? [], only.set));
      else rest.push(t);
    }
    const max = argMask(width);
    const mergedTests: Atom[][] = [...merged].map(([arg, set]) => (isFullSet(set, max) ? [] : [{ kind: 'set', arg, set }]));
    g.tests = [...mergedTests, ...rest];
    // An always-true test makes the others (and later groups) irrelevant.
    if (g.tests.some((t) => t.length === 0)) g.tests = [[]];
  }
  const cut = groups.findIndex((g) => g.tests.length === 1 && g.tests[0]!.length === 0);
  return cut >= 0 ? groups.slice(0, cut + 1) : groups;
}

const bigKey = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `${v}n` : v);

const LD_ABS = BPF_LD | BPF_W | BPF_ABS;
const loOff = (arg: number): number => 16 + 8 * arg;
const hiOff = (arg: number): number => 20 + 8 * arg;

class Emitter {
  readonly asm = new Assembler();
  readonly #rets = new Map<number, Label>();
  readonly #blocks = new Map<string, { label: Label; groups: Group[]; width: 32 | 64 }>();
  readonly #defaults = new Map<Label, number>();

  retLabel(ret: number): Label {
    let l = this.#rets.get(ret >>> 0);
    if (l === undefined) { l = this.asm.newLabel(); this.#rets.set(ret >>> 0, l); }
    return l;
  }

  blockLabel(groups: Group[], width: 32 | 64, defaultRet: number): Label {
    const key = JSON.stringify({ groups, width, defaultRet }, bigKey);
    let b = this.#blocks.get(key);
    if (b === undefined) {
      const label = this.asm.newLabel();
      b = { label, groups, width };
      this.#blocks.set(key, b);
      this.#defaults.set(label, defaultRet);
    }
    return b.label;
  }

  /** Emit a range tree; leaves are labels or (for 64-bit sets) low-word sets to test next. */
  tree<T>(tree: RangeTree<T>, target: (out: T) => Label): void {
    if (tree.kind === 'leaf') { this.asm.ja(target(tree.out)); return; }
    const emitNode = (n: RangeTree<T>): void => {
      if (n.kind !== 'cmp') return;
      const tl = n.t.kind === 'leaf' ? target(n.t.out) : this.asm.newLabel();
      const fl = n.f.kind === 'leaf' ? target(n.f.out) : undefined;
      this.asm.jmp(BPF_JMP | (n.op === 'jeq' ? BPF_JEQ : BPF_JGE) | BPF_K, n.k, tl, fl);
      if (n.f.kind === 'cmp') emitNode(n.f);
      if (n.t.kind === 'cmp') { this.asm.bind(tl); emitNode(n.t); }
    };
    emitNode(tree);
  }

  /** Test a set atom: jump to t if the argument is in the set, else to f. */
  setAtom(atom: { arg: number; set: IntervalSet }, width: 32 | 64, t: Label, f: Label): void {
    if (width === 32) {
      this.asm.op(LD_ABS, loOff(atom.arg));
      this.tree(buildRangeTree(wordSegments(atom.set, t, f), { maxChain: 8 }), (l) => l);
      return;
    }
    const hiSegs = highWordSegments(atom.set, t, f);
    const partial: { label: Label; set: IntervalSet }[] = [];
    this.asm.op(LD_ABS, hiOff(atom.arg));
    this.tree(buildRangeTree(hiSegs, { maxChain: 8 }), (out) => {
      if (typeof out === 'number') return out;
      const label = this.asm.newLabel();
      partial.push({ label, set: out });
      return label;
    });
    for (const p of partial) {
      this.asm.bind(p.label);
      this.asm.op(LD_ABS, loOff(atom.arg));
      this.tree(buildRangeTree(wordSegments(p.set, t, f), { maxChain: 8 }), (l) => l);
    }
  }

  /** Test `(arg & mask) == datum` word by word. */
  maskedAtom(atom: { arg: number; mask: bigint; datum: bigint }, width: 32 | 64, t: Label, f: Label): void {
    const words: { off: number; m: number; d: number }[] = [];
    if (width === 64) words.push({ off: hiOff(atom.arg), m: Number(atom.mask >> 32n), d: Number(atom.datum >> 32n) });
    words.push({ off: loOff(atom.arg), m: Number(atom.mask & 0xffffffffn), d: Number(atom.datum & 0xffffffffn) });
    const live = words.filter((w) => w.m !== 0);
    live.forEach((w, i) => {
      const next = i === live.length - 1 ? t : undefined;
      this.asm.op(LD_ABS, w.off);
      const singleBit = (w.m & (w.m - 1)) === 0;
      if (w.d === 0) this.asm.jmp(BPF_JMP | BPF_JSET | BPF_K, w.m, f, next);
      else if (w.d === w.m && singleBit) this.asm.jmp(BPF_JMP | BPF_JSET | BPF_K, w.m, next, f);
      else if (w.m === 0xffffffff) this.asm.jmp(BPF_JMP | BPF_JEQ | BPF_K, w.d, next, f);
      else { this.asm.op(BPF_ALU | BPF_AND | BPF_K, w.m); this.asm.jmp(BPF_JMP | BPF_JEQ | BPF_K, w.d, next, f); }
    });
    if (live.length === 0) this.asm.ja(t);
  }

  /** Emit every argument block requested so far. */
  blocks(): void {
    for (const b of this.#blocks.values()) {
      this.asm.bind(b.label);
      const defaultRet = this.#defaults.get(b.label)!;
      for (const g of b.groups) {
        const match = this.retLabel(g.ret);
        for (const test of g.tests) {
          const fail = this.asm.newLabel();
          if (test.length === 0) this.asm.ja(match);
          test.forEach((atom, i) => {
            const t = i === test.length - 1 ? match : this.asm.newLabel();
            if (atom.kind === 'set') this.setAtom(atom, b.width, t, fail);
            else this.maskedAtom(atom, b.width, t, fail);
            if (i < test.length - 1) this.asm.bind(t);
          });
          this.asm.bind(fail);
        }
      }
      this.asm.ja(this.retLabel(defaultRet));
    }
  }

  returns(): void {
    for (const [ret, label] of this.#rets) { this.asm.bind(label); this.asm.op(BPF_RET | BPF_K, ret); }
  }
}

/** runc's ENOSYS stub cutoff per sub-arch of a section (semantics.ts enosysCutoff). */
function enosysCutoffs(input: CompileInput, section: Section, opts: CompileOptions): Map<string, number> {
  const out = new Map<string, number>();
  if (opts.enosysStub !== true) return out;
  for (const sub of section.subs) {
    const cut = enosysCutoff(input, sub.arch, opts.resolveNr);
    if (cut !== undefined) out.set(sub.arch, cut);
  }
  return out;
}

/** The plan before optimisation: absolute-target instructions (for pass tests). */
export function planSeccomp(input: CompileInput, opts: CompileOptions): AbsInsn[] {
  const defaultRet = actionRet(input.defaultAction, input.defaultErrnoRet, 'defaultAction');
  const badArchRet = (opts.badArchRet ?? SECCOMP_RET_KILL_THREAD) >>> 0;
  if (opts.arch !== 'SCMP_ARCH_X86_64' && opts.arch !== 'SCMP_ARCH_AARCH64') {
    throw compileError(`unsupported native arch ${JSON.stringify(opts.arch)}`);
  }
  const sections = sectionsFor(opts.arch, input.architectures ?? []);
  const e = new Emitter();
  const { asm } = e;
  const sectionLabels = sections.map(() => asm.newLabel());

  asm.op(LD_ABS, 4);
  sections.forEach((s, i) => {
    const last = i === sections.length - 1;
    asm.jmp(BPF_JMP | BPF_JEQ | BPF_K, s.audit, sectionLabels[i], last ? e.retLabel(badArchRet) : undefined);
  });

  sections.forEach((s, i) => {
    asm.bind(sectionLabels[i]!);
    asm.op(LD_ABS, 0);
    const byNr = collectRules(input, s, opts, defaultRet);
    const points: Segment<Label>[] = [];
    for (const [nr, rules] of [...byNr].sort((a, b) => a[0] - b[0])) {
      const uncond = rules.filter((r) => r.conds === undefined).sort((a, b) => a.order - b.order)[0];
      let out: Label;
      if (uncond !== undefined) out = e.retLabel(uncond.ret);
      else {
        const width = rules[0]!.width;
        const groups = planGroups(rules, width);
        out = groups.length === 0 ? e.retLabel(defaultRet) : e.blockLabel(groups, width, defaultRet);
      }
      points.push({ lo: nr, hi: nr, out });
    }
    // Numbers no rule names: the default action, or the bad-arch action for x32 numbers when
    // x32 is not filtered, or ENOSYS above the sub-arch's highest named number (runc stub).
    const cutoffs = enosysCutoffs(input, s, opts);
    const gapRet = (v: number): number => {
      const sub = s.audit === AUDIT_ARCH_X86_64 && v >= X32_SYSCALL_BIT ? 'SCMP_ARCH_X32' : s.subs[0]!.arch;
      if (s.x32Guard && v >= X32_SYSCALL_BIT) return v === U32_MAX ? defaultRet : badArchRet;
      const cut = cutoffs.get(sub);
      return cut !== undefined && v > cut ? ENOSYS_RET : defaultRet;
    };
    const breaks = [...new Set([X32_SYSCALL_BIT, U32_MAX, ...[...cutoffs.values()].map((c) => c + 1)])].sort((x, y) => x - y);
    const segs: Segment<Label>[] = [];
    let cursor = 0;
    const fill = (lo: number, hi: number): void => {
      let from = lo;
      for (const b of [...breaks.filter((x) => x > lo && x <= hi), hi + 1]) {
        segs.push({ lo: from, hi: b - 1, out: e.retLabel(gapRet(from)) });
        from = b;
      }
    };
    for (const p of points) { if (cursor < p.lo) fill(cursor, p.lo - 1); segs.push(p); cursor = p.hi + 1; }
    if (cursor <= U32_MAX) fill(cursor, U32_MAX);
    if (s.subs.length > 1) {
      // x86_64 + x32 share a section: split on the x32 bit first, so native calls pay one
      // compare for x32 instead of a deeper common tree.
      const below: Segment<Label>[] = [];
      const above: Segment<Label>[] = [];
      for (const g of segs) {
        if (g.hi < X32_SYSCALL_BIT) below.push(g);
        else if (g.lo >= X32_SYSCALL_BIT) above.push(g);
        else { below.push({ ...g, hi: X32_SYSCALL_BIT - 1 }); above.push({ ...g, lo: X32_SYSCALL_BIT }); }
      }
      e.tree({ kind: 'cmp', op: 'jge', k: X32_SYSCALL_BIT,
        t: buildRangeTree(mergeSegments(above), { maxChain: 4 }), f: buildRangeTree(mergeSegments(below), { maxChain: 4 }) }, (l) => l);
    } else {
      e.tree(buildRangeTree(mergeSegments(segs), { maxChain: 4 }), (l) => l);
    }
  });
  e.blocks();
  e.returns();
  return asm.finish();
}

/**
 * Compile an OCI `linux.seccomp` section into a validated classic BPF program.
 * Throws EngineError ERR_SECCOMP_COMPILE (bad input) or ERR_SECCOMP_PROGRAM_TOO_LARGE.
 */
export function compileSeccomp(input: CompileInput, opts: CompileOptions): Program {
  const plan = planSeccomp(input, opts);
  const insns: Instruction[] = lower(opts.optimize === false ? plan : optimize(plan));
  if (insns.length > BPF_MAXINSNS) {
    throw new EngineError('invalid', 'ERR_SECCOMP_PROGRAM_TOO_LARGE',
      `Cannot compile seccomp profile: the program has ${insns.length} instructions, the kernel limit is ${BPF_MAXINSNS}`);
  }
  return createProgram(insns);
}
