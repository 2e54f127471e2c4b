// Images beyond the local store: pull, push, login, and the trust policy that pulls and
// container creates must satisfy. Built once by the daemon; `configure` applies a reloaded
// configuration (SIGHUP) without touching pulls already running.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { EngineError, errorText, readJsonIfExists, writeJsonAtomic, type Logger } from '../base/index.js';
import type { ImageRecord, ImageStore } from './store.js';
import { parseReference, familiarName, type ImageRef } from './reference.js';
import { RegistryClient, type RepoSession } from './registry/client.js';
import { remoteName, qualifiedName, checkEndpointConfig, type EndpointConfig } from './registry/endpoints.js';
import { parseManifest, type Platform } from './registry/manifest.js';
import type { Credentials } from './registry/auth.js';
import { Puller, type PullGate, type PullResult } from './pull.js';
import { pushImage, type PushResult } from './push.js';
import type { ProgressSink } from './progress.js';
import { OPEN_POLICY, judge, parseTrustPolicy, requirementFor, type TrustPolicy, type TrustVerdict } from './trust/policy.js';
import { keyFingerprint, loadPublicKey, verifyCosignSignature, type VerifiedSignature } from './trust/cosign.js';

export interface ImageServiceConfig extends EndpointConfig {
  /** The trust policy file; '' for none (everything allowed, as Docker). */
  trustPolicyFile: string;
}

export interface ImageServiceOptions {
  store: ImageStore;
  log: Logger;
  /** `<config-dir>/certs.d` */
  certsDir: string;
}

/** A verified signature kept for container creates (`<image root>/signatures.json`). */
interface SignatureRecord extends VerifiedSignature {
  /** `docker.io/library/busybox` */
  repository: string;
  time: string;
}

/** `moat images verify`: the verdict and what it was based on. */
export interface TrustReport {
  image: string;
  id: string;
  allowed: boolean;
  verdicts: TrustVerdict[];
  signatures: SignatureRecord[];
}

interface LoadedPolicy {
  policy: TrustPolicy;
  keys: Map<string, KeyObject>;
  fingerprints: Map<string, string>;
}

/**
 * Read a policy file and its keys. Throws 400 naming the file or key, so a bad policy stops
 * moatd at start and keeps the running one on SIGHUP.
 */
export async function loadTrustPolicy(file: string): Promise<LoadedPolicy> {
  if (file === '') return { policy: OPEN_POLICY, keys: new Map(), fingerprints: new Map() };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EngineError('invalid', 'ERR_TRUST_BAD_POLICY', `Cannot read image trust policy ${file}: ${errorText(err)}`);
  }
  const policy = parseTrustPolicy(text);
  const keys = new Map<string, KeyObject>();
  const fingerprints = new Map<string, string>();
  for (const r of policy.rules) {
    for (const k of r.signedBy) {
      if (keys.has(k)) continue;
      let pem: Buffer;
      try {
        pem = await readFile(k);
      } catch (err) {
        throw new EngineError('invalid', 'ERR_TRUST_BAD_KEY', `Cannot read public key ${k} of rule "${r.name}": ${errorText(err)}`);
      }
      const key = loadPublicKey(pem, k);
      keys.set(k, key);
      fingerprints.set(k, keyFingerprint(key));
    }
  }
  return { policy, keys, fingerprints };
}

function forbidden(verdict: TrustVerdict, what: string): EngineError {
  return new EngineError('forbidden', 'ERR_TRUST_DENIED', `${what} refused by the image trust policy: ${verdict.failures.join('; ')}`);
}

export class ImageService {
  readonly store: ImageStore;
  readonly #log: Logger;
  readonly #client: RegistryClient;
  readonly #puller: Puller;
  #endpoints: EndpointConfig = { insecureRegistries: [], registryMirrors: [], blockedRegistries: [] };
  #trust: LoadedPolicy = { policy: OPEN_POLICY, keys: new Map(), fingerprints: new Map() };
  #signatures: SignatureRecord[] = [];

  constructor(o: ImageServiceOptions) {
    this.store = o.store;
    this.#log = o.log.child({ component: 'images' });
    this.#client = new RegistryClient({ certsDir: o.certsDir, endpoints: () => this.#endpoints, log: this.#log });
    this.#puller = new Puller(o.store, this.#client, o.log);
  }

  get #signaturesFile(): string {
    return join(this.store.root, 'signatures.json');
  }

  /** Apply registry settings and the trust policy; on any error nothing changes. */
  async configure(c: ImageServiceConfig): Promise<void> {
    checkEndpointConfig(c);
    const trust = await loadTrustPolicy(c.trustPolicyFile);
    this.#endpoints = { insecureRegistries: [...c.insecureRegistries], registryMirrors: [...c.registryMirrors], blockedRegistries: [...(c.blockedRegistries ?? [])] };
    this.#trust = trust;
    const saved = (await readJsonIfExists<SignatureRecord[]>(this.#signaturesFile)) ?? [];
    this.#signatures = Array.isArray(saved) ? saved : [];
    this.#log.info({ rules: trust.policy.rules.length, default: trust.policy.default, insecureRegistries: c.insecureRegistries, registryMirrors: c.registryMirrors, blockedRegistries: c.blockedRegistries ?? [] }, 'image settings applied');
  }

  /** For `docker info` (RegistryConfig). */
  get endpointConfig(): EndpointConfig {
    return this.#endpoints;
  }

  // ---- pull ----------------------------------------------------------------------------

  /**
   * Pull `ref` (already parsed). The trust policy is checked before any traffic (pattern,
   * digest pin) and after the manifest is resolved (signatures).
   */
  async pull(ref: ImageRef, o: { creds: Credentials; platform?: Platform; progress: ProgressSink }): Promise<PullResult> {
    const verified: SignatureRecord[] = [];
    const gate: PullGate = {
      beforePull: (qualified, r) => {
        const req = requirementFor(this.#trust.policy, qualified);
        const verdict = judge({ ...req, signedBy: [] }, { digestPinned: r.digest !== undefined, verifiedKeys: [] }, this.#trust.fingerprints);
        if (!verdict.allowed) throw forbidden(verdict, `pull of ${familiarName(r)}`);
      },
      afterManifest: async (session, target) => {
        const req = requirementFor(this.#trust.policy, target.qualified);
        if (req.signedBy.length === 0) return;
        const keys = req.signedBy.map((k) => this.#trust.keys.get(k)).filter((k): k is KeyObject => k !== undefined);
        const problems: string[] = [];
        for (const digest of target.digests) {
          try {
            const sig = await verifyCosignSignature(signatureSource(session, target.qualified), digest, keys);
            verified.push({ ...sig, repository: target.qualified, time: new Date().toISOString() });
            return;
          } catch (err) {
            problems.push(`${digest}: ${errorText(err)}`);
          }
        }
        const ruleText = req.rule === 'default' ? 'the default' : `rule "${req.rule}"`;
        throw new EngineError('forbidden', 'ERR_TRUST_DENIED', `pull of ${target.qualified} refused by the image trust policy: ${ruleText} requires a signature by ${req.signedBy.join(' or ')}: ${problems.join('; ')}`);
      },
    };
    const result = await this.#puller.pull({ ref, creds: o.creds, progress: o.progress, gate, ...(o.platform ? { platform: o.platform } : {}) });
    if (verified.length > 0) await this.#recordSignatures(verified);
    return result;
  }

  async #recordSignatures(add: SignatureRecord[]): Promise<void> {
    const key = (s: SignatureRecord): string => `${s.repository} ${s.digest} ${s.keyFingerprint}`;
    const have = new Set(this.#signatures.map(key));
    const next = [...this.#signatures, ...add.filter((s) => !have.has(key(s)))];
    await writeJsonAtomic(this.#signaturesFile, next, 0o644);
    this.#signatures = next;
  }

  // ---- push and login ------------------------------------------------------------------

  /** Push one tag, or every tag of the repository when `tag` is empty. */
  async push(name: string, tag: string, o: { creds: Credentials; progress: ProgressSink }): Promise<PushResult[]> {
    const ref = parseReference(name);
    const tags = tag !== '' ? [tag] : ref.tag !== undefined ? [ref.tag] : this.store.list().flatMap((i) => i.repoTags).filter((t) => t.startsWith(`${ref.repo}:`)).map((t) => t.slice(ref.repo.length + 1)).sort();
    if (tags.length === 0) throw new EngineError('not-found', 'ERR_NO_SUCH_IMAGE', `An image does not exist locally with the tag: ${ref.repo}`);
    const out: PushResult[] = [];
    for (const t of tags) {
      const shown = familiarName({ repo: ref.repo, tag: t });
      const image = this.store.find(shown);
      if (!image) throw new EngineError('not-found', 'ERR_NO_SUCH_IMAGE', `An image does not exist locally with the tag: ${shown}`);
      out.push(await pushImage(this.store, this.#client, { image, repo: ref.repo, tag: t, creds: o.creds, progress: o.progress }));
    }
    return out;
  }

  /** `docker login`: throws 401 unless the registry accepts the credentials. */
  async login(server: string, creds: Credentials): Promise<void> {
    await this.#client.login(loginDomain(server), creds);
  }

  // ---- trust at container create -------------------------------------------------------

  /**
   * The verdict for running `image` as referenced by `ref` (a name, a digest reference, or an
   * id). A name is judged alone; an id is allowed when one of the image's names passes.
   */
  explain(ref: string, image: ImageRecord): TrustReport {
    const names = this.#namesFor(ref, image);
    const verdicts = names.map((n) => {
      const qualified = n.repo === '' ? '' : qualifiedName(remoteName(n.repo));
      const req = requirementFor(this.#trust.policy, qualified);
      const digests = image.repoDigests.filter((d) => d.startsWith(`${n.repo}@`)).map((d) => d.slice(n.repo.length + 1));
      const pinned = n.digest !== undefined && digests.includes(n.digest);
      const sigs = this.#signatures.filter((s) => s.repository === qualified && digests.includes(s.digest));
      return judge(req, { digestPinned: pinned, verifiedKeys: sigs.map((s) => s.keyFingerprint) }, this.#trust.fingerprints);
    });
    const repos = new Set(names.map((n) => (n.repo === '' ? '' : qualifiedName(remoteName(n.repo)))));
    return {
      image: ref,
      id: image.id,
      allowed: verdicts.some((v) => v.allowed),
      verdicts,
      signatures: this.#signatures.filter((s) => repos.has(s.repository) && image.repoDigests.some((d) => d.endsWith(`@${s.digest}`))),
    };
  }

  /** Throws 403 naming the rule when the policy refuses to run the image. */
  checkRun(ref: string, image: ImageRecord): void {
    if (this.#trust.policy.rules.length === 0 && this.#trust.policy.default === 'allow') return;
    const report = this.explain(ref, image);
    if (!report.allowed) throw forbidden(report.verdicts[0]!, `container create from ${ref}`);
  }

  #namesFor(ref: string, image: ImageRecord): ImageRef[] {
    const isId = /^(sha256:)?[a-f0-9]{4,64}$/.test(ref) && image.id.slice(7).startsWith(ref.replace(/^sha256:/, ''));
    if (!isId) {
      try {
        return [parseReference(ref)];
      } catch {
        // fall through to the image's own names
      }
    }
    const out: ImageRef[] = [];
    for (const t of image.repoTags) out.push(parseReference(t));
    for (const d of image.repoDigests) out.push(parseReference(d));
    return out.length > 0 ? out : [{ repo: '' }];
  }
}

/** The registry domain of a `docker login` server argument (`https://index.docker.io/v1/` is Docker Hub). */
export function loginDomain(server: string): string {
  let s = server.trim();
  if (s === '' || /^(https?:\/\/)?(index\.)?docker\.io(\/v1\/?)?\/?$/.test(s) || /^(https?:\/\/)?registry-1\.docker\.io\/?$/.test(s)) return 'docker.io';
  s = s.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(s)) throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid registry address ${JSON.stringify(server)}`);
  return s;
}

/** The `.sig` manifest and payloads of a repository, read through a registry session. */
function signatureSource(session: RepoSession, qualified: string): Parameters<typeof verifyCosignSignature>[0] {
  return {
    async signatureLayers(tag) {
      try {
        const m = await session.getManifest(tag, { familiarName: qualified, familiarRef: `${qualified}:${tag}` });
        const parsed = parseManifest(m.bytes, m.mediaType, `${qualified}:${tag}`);
        return parsed.kind === 'image' ? parsed.layers : [];
      } catch (err) {
        if (err instanceof EngineError && err.kind === 'not-found') return undefined;
        throw err;
      }
    },
    payload: (d) => session.getSmallBlob(d.digest, d.size),
  };
}
