// Signatures in cosign's format, verified with a public key (node:crypto). cosign stores the
// signature of manifest `sha256:H` as the tag `sha256-H.sig` of the same repository: an OCI
// manifest whose layers are simple-signing payloads
// (`application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 signature in the
// annotation `dev.cosignproject.cosign/signature` (ECDSA P-256 over SHA-256, ASN.1 DER).
// (sigstore/cosign specs/SIGNATURE_SPEC.md; containers/image docs/containers-signature.5.md)
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { EngineError } from '../../base/index.js';
import type { Descriptor } from '../registry/manifest.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** `sha256:abc…` -> `sha256-abc….sig` */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** A public key from PEM; throws 400 naming the source. */
export function loadPublicKey(pem: string | Buffer, source: string): KeyObject {
  try {
    const k = createPublicKey(pem);
    if (k.type !== 'public') throw new Error('not a public key');
    return k;
  } catch (err) {
    throw new EngineError('invalid', 'ERR_TRUST_BAD_KEY', `Cannot read public key ${source}: ${(err as Error).message}`);
  }
}

/** `SHA256:<hex>` of the key's SubjectPublicKeyInfo: the same key has the same fingerprint anywhere. */
export function keyFingerprint(key: KeyObject): string {
  return `SHA256:${createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/**
 * Check a simple-signing payload: it must be a cosign image signature for exactly `digest`.
 * Returns the `docker-reference` it names. Pure.
 *
 * @example
 * checkPayload(Buffer.from(JSON.stringify({ critical: { type: SIMPLE_SIGNING_TYPE,
 *   image: { 'docker-manifest-digest': d }, identity: { 'docker-reference': 'r' } } })), d) // 'r'
 */
export function checkPayload(payload: Buffer, digest: string): string {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Error('the signed payload is not JSON');
  }
  const critical = (v as { critical?: Record<string, unknown> }).critical;
  if (typeof critical !== 'object' || critical === null) throw new Error('the signed payload has no "critical" section');
  if (critical['type'] !== SIMPLE_SIGNING_TYPE) throw new Error(`the signed payload's type is ${JSON.stringify(critical['type'])}`);
  const image = critical['image'] as Record<string, unknown> | undefined;
  const signed = image?.['docker-manifest-digest'];
  if (signed !== digest) throw new Error(`the signature is for ${String(signed)}, not ${digest}`);
  const identity = critical['identity'] as Record<string, unknown> | undefined;
  return typeof identity?.['docker-reference'] === 'string' ? identity['docker-reference'] : '';
}

/** True when `signatureB64` is a valid signature of `payload` by `key` (ECDSA or RSA, SHA-256). */
export function verifyPayloadSignature(payload: Buffer, signatureB64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length === 0) return false;
  try {
    return verify('sha256', payload, key, sig);
  } catch {
    return false;
  }
}

/** What was verified. */
export interface VerifiedSignature {
  digest: string;
  keyFingerprint: string;
  dockerReference: string;
}

/** Where the signature manifest and its payloads come from (a registry session). */
export interface SignatureSource {
  /** The signature manifest's layers, or undefined when the `.sig` tag does not exist. */
  signatureLayers(tag: string): Promise<Descriptor[] | undefined>;
  /** A payload blob, already checked against its digest. */
  payload(d: Descriptor): Promise<Buffer>;
}

/**
 * Verify that one of `keys` signed `digest`. Returns the first verified signature; throws an
 * Error saying why none verified (no `.sig` tag, no payload of the right type, bad signature,
 * payload for another digest).
 */
export async function verifyCosignSignature(src: SignatureSource, digest: string, keys: readonly KeyObject[]): Promise<VerifiedSignature> {
  const tag = signatureTag(digest);
  const layers = await src.signatureLayers(tag);
  if (layers === undefined) throw new Error(`no signature: the registry has no tag ${tag}`);
  const problems: string[] = [];
  for (const l of layers) {
    if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
    const sig = l.annotations?.[SIGNATURE_ANNOTATION];
    if (sig === undefined) {
      problems.push('a payload without a signature annotation');
      continue;
    }
    const payload = await src.payload(l);
    for (const key of keys) {
      if (!verifyPayloadSignature(payload, sig, key)) continue;
      try {
        const dockerReference = checkPayload(payload, digest);
        return { digest, keyFingerprint: keyFingerprint(key), dockerReference };
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    if (problems.length === 0) problems.push('no signature matches the trusted keys');
  }
  if (problems.length === 0) problems.push(`the tag ${tag} holds no simple-signing payload`);
  throw new Error(problems.join('; '));
}
