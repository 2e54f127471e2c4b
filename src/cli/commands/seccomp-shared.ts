// What the `moat seccomp` sub-commands share: their dependencies, profile and argument
// parsing, capability defaults, and the workbench's column output.
import os from 'node:os';
import { MOAT_DEFAULT_CAPS } from '../../caps/index.js';
import { defaultProfile, formatIssues, hostArch, parseProfile, type Issue, type Profile, type SeccompArch } from '../../seccomp/index.js';
import type { CliContext } from '../common.js';

export interface SeccompCommandDeps extends CliContext {
  readFile: (path: string) => string;
  writeFile: (path: string, data: Uint8Array | string) => void;
}

const capName = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
/** --cap values (default: moat's default set) plus --cap-add values. */
export const capsOf = (caps: string[], add: string[] = []): string[] => [...new Set([...(caps.length ? caps.map(capName) : MOAT_DEFAULT_CAPS), ...add.map(capName)])];

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));
export const errnoText = (n: number): string => (ERRNO_NAMES.has(n) ? `${n} (${ERRNO_NAMES.get(n)!})` : String(n));

export function loadProfileArg(deps: SeccompCommandDeps, file: string): Profile {
  if (file === 'default') return defaultProfile();
  const parsed = parseProfile(JSON.parse(deps.readFile(file)));
  if (!parsed.ok) throw new Error(`Invalid seccomp profile ${file}: ${formatIssues(parsed.issues)}`);
  return parsed.value;
}

/** Columns padded to the widest cell plus two spaces (the workbench's tables). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

export const pathText = (i: Issue): string => {
  let out = '';
  for (const p of i.path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(profile)' : out;
};

/** Parses an argument as a u64: decimal, 0x hex, or negative (two's complement). */
export function parseArgValue(s: string): bigint {
  const neg = s.startsWith('-');
  const v = BigInt(neg ? s.slice(1) : s);
  return BigInt.asUintN(64, neg ? -v : v);
}

export function nativeFor(arch: string | undefined): SeccompArch {
  return (arch ?? hostArch(process.arch)) as SeccompArch;
}
