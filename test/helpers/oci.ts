// Test images made in memory (tiny tars), an OCI-layout archive writer, plain HTTP uploads
// to a test registry, cosign-format signatures, and a tiny registry that serves what a test
// hands it (e.g. a corrupted blob).
import { createHash, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar of regular files (path -> content), directories implied. */
export async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o755, mtime: new Date(0) }, content, (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface BuiltImage {
  config: Buffer;
  configDigest: string;
  layers: Array<{ gz: Buffer; digest: string; diffId: string }>;
  manifest: Buffer;
  manifestDigest: string;
}

/** An image with the given layers (gzip), config history and labels; Docker schema 2 manifest. */
export async function buildImage(o: { layers: Array<Record<string, string>>; history?: Array<Record<string, unknown>>; labels?: Record<string, string>; created?: string; cmd?: string[]; architecture?: string }): Promise<BuiltImage> {
  const layers = [];
  for (const files of o.layers) {
    const t = await tarOf(files);
    const gz = gzipSync(t);
    layers.push({ gz, digest: sha(gz), diffId: sha(t) });
  }
  const created = o.created ?? '2024-05-01T00:00:00Z';
  const config = Buffer.from(
    JSON.stringify({
      architecture: o.architecture ?? (process.arch === 'x64' ? 'amd64' : process.arch),
      os: 'linux',
      created,
      config: { Cmd: o.cmd ?? ['/bin/sh'], Labels: o.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: o.history ?? layers.map(() => ({ created, created_by: 'test layer' })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.gz.length, digest: l.digest })),
    }),
  );
  return { config, configDigest: sha(config), layers, manifest, manifestDigest: sha(manifest) };
}

/** An OCI image layout tarball (index.json, oci-layout, blobs/sha256/*) holding `img` as `name`. */
export async function ociLayoutTar(img: BuiltImage, name?: string): Promise<Buffer> {
  const oci = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: img.config.length, digest: img.configDigest },
      layers: img.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: l.gz.length, digest: l.digest })),
    }),
  );
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', size: oci.length, digest: sha(oci), ...(name ? { annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() } } : {}) }] };
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  const add = (n: string, b: Buffer): Promise<void> => new Promise((resolve, reject) => pack.entry({ name: n, mtime: new Date(0) }, b, (e) => (e ? reject(e) : resolve())));
  await add('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  await add(`blobs/sha256/${sha(oci).slice(7)}`, oci);
  await add(`blobs/sha256/${img.configDigest.slice(7)}`, img.config);
  for (const l of img.layers) await add(`blobs/sha256/${l.digest.slice(7)}`, l.gz);
  await add('index.json', Buffer.from(JSON.stringify(index)));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function call(method: string, url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : { 'Content-Length': '0' }) } }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(c) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Upload a blob to a plain-HTTP registry (monolithic). */
export async function uploadBlob(host: string, repo: string, blob: Buffer): Promise<string> {
  const start = await call('POST', `http://${host}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${start.body.toString()}`);
  const loc = new URL(String(start.headers.location), `http://${host}/`);
  loc.searchParams.set('digest', sha(blob));
  const put = await call('PUT', loc.toString(), blob, { 'Content-Type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${put.body.toString()}`);
  return sha(blob);
}

export async function putManifest(host: string, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<void> {
  const r = await call('PUT', `http://${host}/v2/${repo}/manifests/${ref}`, bytes, { 'Content-Type': mediaType });
  if (r.status !== 201) throw new Error(`manifest put: ${r.status} ${r.body.toString()}`);
}

/** Push a BuiltImage to a plain-HTTP registry under `repo:tag`. */
export async function pushBuilt(host: string, repo: string, tag: string, img: BuiltImage): Promise<void> {
  await uploadBlob(host, repo, img.config);
  for (const l of img.layers) await uploadBlob(host, repo, l.gz);
  await putManifest(host, repo, tag, img.manifest, 'application/vnd.docker.distribution.manifest.v2+json');
}

/**
 * Sign `digest` as cosign does with a key: a simple-signing payload as the layer of an OCI
 * manifest tagged `sha256-<hex>.sig`, the ECDSA signature (base64 DER) in its annotation.
 */
export async function cosignSign(host: string, repo: string, digest: string, key: KeyObject, o: { forDigest?: string } = {}): Promise<void> {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': `${host}/${repo}` }, image: { 'docker-manifest-digest': o.forDigest ?? digest }, type: 'cosign container image signature' }, optional: null }));
  const signature = sign('sha256', payload, key).toString('base64');
  const config = Buffer.from('{}');
  await uploadBlob(host, repo, payload);
  await uploadBlob(host, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) },
      layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', size: payload.length, digest: sha(payload), annotations: { 'dev.cosignproject.cosign/signature': signature } }],
    }),
  );
  await putManifest(host, repo, `${digest.replace(':', '-')}.sig`, manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/** A registry that serves exactly `files` (path -> body, content type); 404 otherwise. */
export async function serveRegistry(files: Map<string, { body: Buffer; type?: string; headers?: Record<string, string> }>): Promise<{ host: string; close: () => Promise<void>; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/') {
      res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    const f = files.get(req.url ?? '');
    if (!f) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      return;
    }
    res.writeHead(200, { 'Content-Type': f.type ?? 'application/octet-stream', 'Content-Length': f.body.length, ...(f.headers ?? {}) });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
