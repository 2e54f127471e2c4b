// Which seccomp filter a container gets: the daemon's default (moat's own profile, a file,
// or unconfined), a profile sent with `--security-opt seccomp=<json>`, `seccomp=unconfined`,
// and moat's `seccomp-allow=` / `seccomp-deny=` amendments; privileged containers are
// unconfined. Blocked rules become notify rules when the denial explainer is on, so each
// denial is recorded while the process sees the same errno (rules answering ENOSYS, and
// clone3, stay plain errno rules: see toNotifyProfile).
import { EngineError, invalid } from '../base/index.js';
import {
  amendProfile,
  defaultProfile,
  formatIssues,
  parseProfile,
  profileDigest,
  orderForLibseccomp,
  resolveProfile,
  toNotifyProfile,
  type LinuxSeccomp,
  type NotifyRule,
  type Profile,
  type SeccompArch,
} from '../seccomp/index.js';
import { weakerSyscalls } from '../seccomp-workbench/index.js';
import { parseSecurityOpts } from '../spec/index.js';
import type { ContainerRecord } from './types.js';

export interface ContainerSeccomp {
  /** What runc applies; undefined = unconfined. */
  spec: LinuxSeccomp | undefined;
  /** `default` (moat's), `custom`, `unconfined`, or the daemon's profile file name. */
  name: string;
  /** sha256 of the resolved profile (before the notify conversion, which keeps behaviour). */
  sha256?: string;
  /** `notify` when denials are explained, `off` otherwise. */
  explainer?: string;
  allow?: string[];
  deny?: string[];
  /** For the listener: which errno each notify rule answers. */
  notifyRules?: NotifyRule[];
}

/** The denial explainer: a listener process that answers notify rules and records them. */
export interface DenialExplainer {
  readonly listenerPath: string;
  /** True when the listener is running and can take a new container. */
  available(): boolean;
}

export type DaemonSeccompDefault = { kind: 'builtin' } | { kind: 'unconfined' } | { kind: 'file'; name: string; profile: Profile };

export interface SeccompPolicyOptions {
  daemonDefault: DaemonSeccompDefault;
  arch: SeccompArch;
  kernel: string;
  /**
   * Whether the host kernel runs x32 syscalls (sys `kernelRunsX32`); default true. False
   * leaves SCMP_ARCH_X32 out of moat's built-in profile (never out of a profile a user
   * gave), and x32 calls are then no weaker when a user's filter lets them through.
   */
  x32Abi?: boolean;
  explainer?: DenialExplainer | undefined;
}

/** Parse `--seccomp-profile PATH|builtin|unconfined` (the file's text is read by the caller). */
export function parseDaemonSeccompProfile(value: string, readText: (path: string) => string): DaemonSeccompDefault {
  if (value === '' || value === 'builtin' || value === 'default') return { kind: 'builtin' };
  if (value === 'unconfined') return { kind: 'unconfined' };
  const parsed = parseProfile(JSON.parse(readText(value)) as unknown);
  if (!parsed.ok) throw invalid(`Invalid seccomp profile ${value}: ${formatIssues(parsed.issues)}`);
  return { kind: 'file', name: value, profile: parsed.value };
}

/**
 * A container's filter against the daemon's default, for authorization (see
 * `SeccompPolicy.assess`).
 */
export interface SeccompAssessment {
  /** `default`, `custom`, `unconfined`, or the daemon's profile file name. */
  profile: string;
  /** Syscalls the daemon's default blocks and this filter permits; undefined when not known. */
  weakerThanDefault: string[] | undefined;
  error?: string;
}

export class SeccompPolicy {
  readonly #o: SeccompPolicyOptions;

  constructor(o: SeccompPolicyOptions) {
    this.#o = o;
  }

  get daemonProfileName(): string {
    const d = this.#o.daemonDefault;
    return d.kind === 'builtin' ? 'builtin' : d.kind === 'unconfined' ? 'unconfined' : d.name;
  }

  /** Throws a 400 naming the problem when the container's seccomp options are invalid. */
  check(rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]): void {
    this.forContainer(rec, caps);
  }

  /** Resolving and converting a profile costs milliseconds; most containers share one. */
  readonly #cache = new Map<string, ContainerSeccomp>();

  forContainer(rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]): ContainerSeccomp {
    const key = JSON.stringify([rec.HostConfig.SecurityOpt ?? [], rec.HostConfig.Privileged === true, caps, this.#o.explainer?.available() ?? false]);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const out = this.#decide(rec, caps);
    if (this.#cache.size >= 32) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, out);
    return out;
  }

  readonly #assessed = new Map<string, SeccompAssessment>();

  /**
   * The container's filter as runc will get it (before the notify conversion, which keeps
   * every verdict), compared with what the daemon's default gives a container with the same
   * capabilities: the syscalls the default blocks and this one lets through. This is what an
   * authorization policy judges, so seccomp-allow, custom profiles and privileged are seen
   * by their effect, not by their spelling. Throws the create's 400 when the options are bad.
   */
  assess(rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]): SeccompAssessment {
    const key = JSON.stringify([rec.HostConfig.SecurityOpt ?? [], rec.HostConfig.Privileged === true, caps]);
    const hit = this.#assessed.get(key);
    if (hit) return hit;
    const mine = this.#resolve(rec, caps);
    const base = this.#resolve({ HostConfig: {} }, caps);
    const weaker = weakerSyscalls(mine.spec, base.spec, { arch: this.#o.arch, x32Abi: this.#o.x32Abi ?? true });
    const out: SeccompAssessment = weaker === undefined
      ? { profile: mine.name, weakerThanDefault: undefined, error: `seccomp filters on ${this.#o.arch} cannot be compared` }
      : { profile: mine.name, weakerThanDefault: weaker };
    if (this.#assessed.size >= 32) this.#assessed.delete(this.#assessed.keys().next().value!);
    this.#assessed.set(key, out);
    return out;
  }

  #decide(rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]): ContainerSeccomp {
    const r = this.#resolve(rec, caps);
    if (r.resolved === undefined) return { spec: undefined, name: r.name };
    const { resolved, name, allow, deny } = r;
    const sha256 = profileDigest(resolved.seccomp);
    // What runc gets: the same filter, names ordered so libseccomp builds it faster (the
    // digest stays that of the resolved profile).
    const forRunc = (s: LinuxSeccomp): LinuxSeccomp => orderForLibseccomp(s, this.#o.arch);
    const base: ContainerSeccomp = { spec: forRunc(resolved.seccomp), name, sha256, ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) };
    const ex = this.#o.explainer;
    // A profile with its own listener keeps it; runc supports one listener per filter.
    if (ex === undefined || resolved.seccomp.listenerPath !== undefined) return { ...base, explainer: 'off' };
    if (!ex.available()) return { ...base, explainer: 'unavailable' };
    const converted = toNotifyProfile(resolved.seccomp, ex.listenerPath, { comments: resolved.origins.map((o) => o.comment) });
    if (converted.table.length === 0) return { ...base, explainer: 'off' };
    return { ...base, spec: forRunc(converted.seccomp), explainer: 'notify', notifyRules: converted.table };
  }

  /** The resolved filter (undefined: unconfined) and its name; the one place options become a profile. */
  #resolve(rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]): { spec: LinuxSeccomp | undefined; resolved?: ReturnType<typeof resolveProfile>; name: string; allow: string[]; deny: string[] } {
    const opts = parseSecurityOpts(rec.HostConfig.SecurityOpt);
    const allow = opts.seccompAllow;
    const deny = opts.seccompDeny;
    const choice = opts.seccomp;
    if (rec.HostConfig.Privileged === true || choice?.kind === 'unconfined' || (choice === undefined && this.#o.daemonDefault.kind === 'unconfined' && allow.length === 0 && deny.length === 0)) {
      if ((allow.length > 0 || deny.length > 0) && rec.HostConfig.Privileged !== true) {
        throw invalid('seccomp-allow and seccomp-deny need a seccomp profile: they cannot amend seccomp=unconfined');
      }
      return { spec: undefined, name: 'unconfined', allow, deny };
    }
    let profile: Profile;
    let name: string;
    if (choice?.kind === 'profile') {
      let json: unknown;
      try {
        json = JSON.parse(choice.json);
      } catch (err) {
        throw invalid(`Invalid seccomp profile: ${(err as Error).message}`);
      }
      const parsed = parseProfile(json);
      if (!parsed.ok) throw invalid(`Invalid seccomp profile: ${formatIssues(parsed.issues)}`);
      profile = parsed.value;
      name = 'custom';
    } else if (choice?.kind === 'builtin' || this.#o.daemonDefault.kind !== 'file') {
      profile = defaultProfile({ x32: this.#o.x32Abi ?? true });
      name = 'default';
    } else {
      profile = this.#o.daemonDefault.profile;
      name = this.#o.daemonDefault.name;
    }
    if (allow.length > 0 || deny.length > 0) {
      const amended = amendProfile(profile, { allow, deny });
      if (!amended.ok) throw invalid(`Invalid seccomp amendment: ${formatIssues(amended.issues)}`);
      profile = amended.value;
    }
    let resolved;
    try {
      resolved = resolveProfile(profile, { arch: this.#o.arch, capabilities: caps, kernel: this.#o.kernel });
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw invalid(`Invalid seccomp profile: ${(err as Error).message}`);
    }
    return { spec: resolved.seccomp, resolved, name, allow, deny };
  }
}
