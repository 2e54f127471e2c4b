// Image manifests as registries serve them: Docker schema 2 manifests and manifest lists,
// OCI image manifests and indexes. Pure: bytes in, checked data out. Schema 1 is refused.
// (distribution/distribution manifest/schema2, manifest/manifestlist; OCI image-spec
// manifest.md, image-index.md.)
import { EngineError } from '../../base/index.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a pull asks for, most wanted first (Docker sends the same list). */
export const MANIFEST_ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export type Compression = 'gzip' | 'none' | 'zstd';

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function bad(message: string): EngineError {
  return new EngineError('invalid', 'ERR_REGISTRY_BAD_MANIFEST', message);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw bad(`invalid manifest: ${where} is not an object`);
  const o = v as Record<string, unknown>;
  if (typeof o['digest'] !== 'string' || !DIGEST.test(o['digest'])) throw bad(`invalid manifest: ${where}.digest is not a sha256 digest`);
  if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] < 0) throw bad(`invalid manifest: ${where}.size is not a size`);
  const d: Descriptor = { mediaType: typeof o['mediaType'] === 'string' ? o['mediaType'] : '', digest: o['digest'], size: o['size'] };
  const p = o['platform'];
  if (typeof p === 'object' && p !== null) {
    const pp = p as Record<string, unknown>;
    d.platform = { os: String(pp['os'] ?? ''), architecture: String(pp['architecture'] ?? '') };
    if (typeof pp['variant'] === 'string' && pp['variant'] !== '') d.platform.variant = pp['variant'];
  }
  if (typeof o['annotations'] === 'object' && o['annotations'] !== null) d.annotations = o['annotations'] as Record<string, string>;
  if (Array.isArray(o['urls'])) d.urls = o['urls'].map(String);
  return d;
}

/**
 * Parse manifest bytes. `contentType` is the registry's Content-Type (used when the body has
 * no `mediaType`). Throws 400 for schema 1, unknown media types and malformed descriptors.
 *
 * @example
 * const m = parseManifest(bytes, res.headers['content-type']);
 * if (m.kind === 'index') selectPlatform(m.manifests, hostPlatform());
 */
export function parseManifest(bytes: Buffer, contentType = '', name = 'the image'): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(`invalid manifest for ${name}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(`invalid manifest for ${name}: not a JSON object`);
  const o = doc as Record<string, unknown>;
  const ct = contentType.split(';')[0]!.trim();
  const mediaType = typeof o['mediaType'] === 'string' && o['mediaType'] !== '' ? o['mediaType'] : ct;
  if (o['schemaVersion'] === 1 || mediaType === MEDIA.schema1 || mediaType === MEDIA.schema1Signed) {
    throw new EngineError(
      'invalid',
      'ERR_REGISTRY_SCHEMA1',
      `Docker Image manifest version 2, schema 1 is not supported: ${name} must be pushed again in the Docker schema 2 or OCI format`,
    );
  }
  if (o['schemaVersion'] !== 2) throw bad(`invalid manifest for ${name}: schemaVersion is ${JSON.stringify(o['schemaVersion'])}, not 2`);
  const isIndex = mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex || (mediaType === '' || mediaType === 'application/json' ? Array.isArray(o['manifests']) : false);
  if (isIndex) {
    if (!Array.isArray(o['manifests'])) throw bad(`invalid manifest for ${name}: an index without manifests`);
    return { kind: 'index', mediaType: mediaType || MEDIA.ociIndex, manifests: o['manifests'].map((m, i) => descriptor(m, `manifests[${i}]`)) };
  }
  const isImage = mediaType === MEDIA.dockerManifest || mediaType === MEDIA.ociManifest || ((mediaType === '' || mediaType === 'application/json') && o['config'] !== undefined);
  if (!isImage) throw bad(`invalid manifest for ${name}: unsupported media type ${JSON.stringify(mediaType)}`);
  if (!Array.isArray(o['layers'])) throw bad(`invalid manifest for ${name}: no layers`);
  const parsed: ParsedManifest = {
    kind: 'image',
    mediaType: mediaType || MEDIA.ociManifest,
    config: descriptor(o['config'], 'config'),
    layers: o['layers'].map((l, i) => descriptor(l, `layers[${i}]`)),
  };
  if (typeof o['annotations'] === 'object' && o['annotations'] !== null) parsed.annotations = o['annotations'] as Record<string, string>;
  return parsed;
}

/** How a layer blob is compressed, from its media type; throws for types that are not layers. */
export function layerCompression(mediaType: string): Compression {
  switch (mediaType) {
    case MEDIA.dockerLayerGzip:
    case MEDIA.dockerForeignLayerGzip:
    case MEDIA.ociLayerGzip:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip':
      return 'gzip';
    case MEDIA.ociLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MEDIA.ociLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      throw new EngineError('invalid', 'ERR_REGISTRY_BAD_MANIFEST', `unsupported layer media type ${JSON.stringify(mediaType)}`);
  }
}

/** `linux/amd64`, `linux/arm/v7` -> Platform; throws 400 naming the value. */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid platform ${JSON.stringify(text)}: expected os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0]!, architecture: normalizeArch(parts[1]!) };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

function normalizeArch(a: string): string {
  if (a === 'x86_64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  return a;
}

/**
 * Whether an image of platform `have` is what a `--platform` of `want` asks for (moby's check
 * at create): the same os and architecture; where both name a variant, the same one, except
 * that an older arm variant runs on a newer one (an armv6 image on linux/arm/v7).
 *
 * @example
 * platformMatches({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/arm64')); // false
 */
export function platformMatches(have: { os: string; architecture: string; variant?: string | undefined }, want: Platform): boolean {
  if (have.os !== want.os || normalizeArch(have.architecture) !== want.architecture) return false;
  if (want.variant === undefined || have.variant === undefined) return true;
  if (want.architecture === 'arm') return Number(have.variant.slice(1)) <= Number(want.variant.slice(1));
  return have.variant === want.variant;
}

/** The platform of this host in OCI words (Node's `x64` is `amd64`). */
export function hostPlatform(nodeArch: string = process.arch): Platform {
  switch (nodeArch) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    default:
      return { os: 'linux', architecture: nodeArch };
  }
}

/** `linux/amd64` or `linux/arm64/v8`. */
export function platformText(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/**
 * The manifest for `want` in an index, as containerd's platform matcher picks it: os and
 * architecture must match; a wanted variant must match (arm64's `v8` also matches none);
 * an exact variant wins. Entries without a platform, or `unknown/unknown` (attestations),
 * never match. Throws 404 with Docker's wording when nothing fits.
 *
 * @example
 * selectPlatform(index.manifests, { os: 'linux', architecture: 'amd64' }).digest
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor {
  const candidates = manifests.filter((m) => m.platform && m.platform.os === want.os && normalizeArch(m.platform.architecture) === want.architecture);
  const variantOk = (v: string | undefined): boolean => {
    if (want.variant === undefined) return true;
    if (v === want.variant) return true;
    return want.architecture === 'arm64' && want.variant === 'v8' && v === undefined;
  };
  const fitting = candidates.filter((m) => variantOk(m.platform!.variant));
  const exact = fitting.find((m) => m.platform!.variant === want.variant);
  const hit = exact ?? fitting[0];
  if (!hit) {
    throw new EngineError('not-found', 'ERR_REGISTRY_NO_PLATFORM', `no matching manifest for ${platformText(want)} in the manifest list entries`);
  }
  return hit;
}
