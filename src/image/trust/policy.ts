// The image trust policy: which repositories may be pulled and run, whether a digest pin is
// required, and which public keys must have signed them. Pure: text in, decisions out. The
// first rule whose pattern matches the qualified repository name decides; `default` decides
// the rest. (Beyond Docker; in the spirit of containers-policy.json, simpler.)
import { EngineError } from '../../base/index.js';

export type TrustAction = 'allow' | 'deny';

export interface TrustRule {
  /** Shown in denials; `rules[N]` when not given. */
  name: string;
  /** Pattern on `domain/path` (`docker.io/library/busybox`): `*` within a segment, `**` across, `?` one character. */
  match: string;
  action: TrustAction;
  requireDigest: boolean;
  /** PEM public keys (file paths, resolved by the daemon); one must have signed the image. */
  signedBy: string[];
}

export interface TrustPolicy {
  default: TrustAction;
  rules: TrustRule[];
}

/** No policy: everything is allowed, as Docker. */
export const OPEN_POLICY: TrustPolicy = { default: 'allow', rules: [] };

function bad(path: string, message: string): EngineError {
  return new EngineError('invalid', 'ERR_TRUST_BAD_POLICY', `invalid image trust policy: ${path}: ${message}`);
}

/**
 * Parse a policy file. Unknown keys, bad patterns and bad actions are errors naming the path.
 *
 * @example
 * parseTrustPolicy('{"default":"deny","rules":[{"match":"127.0.0.1:*\/**","signedBy":["/k.pub"]}]}')
 */
export function parseTrustPolicy(text: string): TrustPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad('(file)', (err as Error).message);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('(file)', 'must be a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'default' && k !== 'rules') throw bad(k, 'unknown key');
  const def = o['default'] ?? 'allow';
  if (def !== 'allow' && def !== 'deny') throw bad('default', 'must be "allow" or "deny"');
  const rulesIn = o['rules'] ?? [];
  if (!Array.isArray(rulesIn)) throw bad('rules', 'must be a list');
  const rules = rulesIn.map((r, i): TrustRule => {
    const where = `rules[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad(where, 'must be an object');
    const ro = r as Record<string, unknown>;
    for (const k of Object.keys(ro)) if (!['name', 'match', 'action', 'requireDigest', 'signedBy'].includes(k)) throw bad(`${where}.${k}`, 'unknown key');
    if (typeof ro['match'] !== 'string' || ro['match'] === '') throw bad(`${where}.match`, 'must be a non-empty pattern');
    if (!/^[A-Za-z0-9._:\-/*?[\]]+$/.test(ro['match'])) throw bad(`${where}.match`, `invalid pattern ${JSON.stringify(ro['match'])}`);
    const action = ro['action'] ?? 'allow';
    if (action !== 'allow' && action !== 'deny') throw bad(`${where}.action`, 'must be "allow" or "deny"');
    const rd = ro['requireDigest'] ?? false;
    if (typeof rd !== 'boolean') throw bad(`${where}.requireDigest`, 'must be true or false');
    const sb = ro['signedBy'] ?? [];
    const keys = typeof sb === 'string' ? [sb] : sb;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && k !== '')) throw bad(`${where}.signedBy`, 'must be a key file or a list of key files');
    if (ro['name'] !== undefined && typeof ro['name'] !== 'string') throw bad(`${where}.name`, 'must be a string');
    return { name: typeof ro['name'] === 'string' && ro['name'] !== '' ? ro['name'] : where, match: ro['match'], action, requireDigest: rd, signedBy: keys as string[] };
  });
  return { default: def, rules };
}

/** A glob on repository names as a RegExp: `*` stays within a path segment, `**` crosses them. */
export function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The rule that decides for a qualified name, or undefined when the default decides. */
export function matchRule(policy: TrustPolicy, qualified: string): TrustRule | undefined {
  return policy.rules.find((r) => patternRegExp(r.match).test(qualified));
}

/** What the policy requires of one repository. */
export interface TrustRequirement {
  qualified: string;
  /** The rule's name, or `default`. */
  rule: string;
  action: TrustAction;
  requireDigest: boolean;
  signedBy: string[];
}

/**
 * The requirement for a repository.
 *
 * @example
 * requirementFor(policy, 'docker.io/library/busybox').action // 'deny'
 */
export function requirementFor(policy: TrustPolicy, qualified: string): TrustRequirement {
  const r = matchRule(policy, qualified);
  if (r === undefined) return { qualified, rule: 'default', action: policy.default, requireDigest: false, signedBy: [] };
  return { qualified, rule: r.name, action: r.action, requireDigest: r.requireDigest, signedBy: r.signedBy };
}

/** The facts about one image name that the requirement is checked against. */
export interface TrustFacts {
  /** The reference names a digest the image was pulled or pushed by. */
  digestPinned: boolean;
  /** Fingerprints of keys whose signature over one of the image's manifest digests was verified. */
  verifiedKeys: string[];
}

/** A verdict with every reason, for denials and `moat images verify`. */
export interface TrustVerdict {
  allowed: boolean;
  requirement: TrustRequirement;
  /** Every check, passed or failed, in words. */
  reasons: string[];
  /** The checks that failed (what a denial says). */
  failures: string[];
}

/**
 * Check facts against a requirement. `keyFingerprints` maps the rule's key files to their
 * fingerprints (a key that cannot be read matches nothing).
 */
export function judge(req: TrustRequirement, facts: TrustFacts, keyFingerprints: ReadonlyMap<string, string>): TrustVerdict {
  const reasons: string[] = [];
  const failures: string[] = [];
  const fail = (text: string): void => {
    reasons.push(text);
    failures.push(text);
  };
  const ruleText = req.rule === 'default' ? 'the default of the trust policy' : `trust policy rule "${req.rule}"`;
  if (req.action === 'deny') {
    fail(`${req.qualified} is denied by ${ruleText}`);
  } else {
    reasons.push(`${req.qualified} is allowed by ${ruleText}`);
  }
  if (req.requireDigest) {
    if (facts.digestPinned) reasons.push('the reference is pinned by digest, as the rule requires');
    else fail(`${ruleText} requires a digest reference (name@sha256:…)`);
  }
  if (req.signedBy.length > 0) {
    const wanted = req.signedBy.map((k) => keyFingerprints.get(k)).filter((f): f is string => f !== undefined);
    const ok = wanted.find((f) => facts.verifiedKeys.includes(f));
    if (ok !== undefined) reasons.push(`a signature by key ${ok.slice(0, 19)} was verified`);
    else fail(`${ruleText} requires a signature by ${req.signedBy.join(' or ')}, and none was verified for this image`);
  }
  return { allowed: failures.length === 0, requirement: req, reasons, failures };
}
