// Image references as Docker normalises them: `bb` = `bb:latest` = `docker.io/library/bb:latest`.
import { invalid } from '../base/index.js';

export interface ImageRef {
  /** Familiar repository name: `bb`, `myrepo/app`, `localhost:5000/x`. */
  repo: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parse a reference; throws 400 `invalid reference format` like Docker. */
export function parseReference(input: string): ImageRef {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw invalid(`invalid reference format: ${input}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`invalid reference format: ${input}`);
  }
  if (rest === '') throw invalid(`invalid reference format: ${input}`);
  let parts = rest.split('/');
  // Strip Docker Hub's implicit prefixes.
  if (parts.length > 1 && (parts[0] === 'docker.io' || parts[0] === 'index.docker.io')) parts = parts.slice(1);
  if (parts.length === 2 && parts[0] === 'library') parts = parts.slice(1);
  const first = parts[0]!;
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  for (const [i, p] of parts.entries()) {
    if (i === 0 && hasHost) {
      if (!/^[a-zA-Z0-9.-]+(?::\d+)?$/.test(p)) throw invalid(`invalid reference format: ${input}`);
      continue;
    }
    if (!COMPONENT.test(p)) {
      if (/[A-Z]/.test(p)) throw invalid(`invalid reference format: repository name (${rest}) must be lowercase`);
      throw invalid(`invalid reference format: ${input}`);
    }
  }
  const ref: ImageRef = { repo: parts.join('/') };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `repo:tag` with the default tag `latest` when neither tag nor digest is given. */
export function familiarName(ref: ImageRef): string {
  if (ref.digest !== undefined && ref.tag === undefined) return `${ref.repo}@${ref.digest}`;
  return `${ref.repo}:${ref.tag ?? 'latest'}`;
}

/** Normalise a reference string to its familiar `repo:tag` form. */
export function normalizeReference(input: string): string {
  return familiarName(parseReference(input));
}
