// Registry answers -> EngineErrors with Docker's wording. Pure.
// (moby distribution/errors.go, docker/distribution registry/api/errcode)
import { EngineError, type ErrorKind } from '../../base/index.js';

export interface RegistryErrorItem {
  code: string;
  message: string;
}

/** The `errors` array of a registry's JSON error body; empty when the body is something else. */
export function parseRegistryErrors(body: Buffer): RegistryErrorItem[] {
  try {
    const v = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(v.errors)) return [];
    return v.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: String(e['code'] ?? 'UNKNOWN'), message: String(e['message'] ?? '') }));
  } catch {
    return [];
  }
}

/** errcode's text: the lower-cased code, then the registry's message (`manifest unknown: manifest unknown`). */
export function registryErrorText(items: readonly RegistryErrorItem[], status: number): string {
  if (items.length === 0) return `unexpected status from the registry: ${status}`;
  return items.map((e) => `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message}`).join(', ');
}

/** What went wrong and for which reference, as Docker words a failed manifest fetch. */
export function manifestError(status: number, body: Buffer, shown: { familiarName: string; familiarRef: string }): EngineError {
  const items = parseRegistryErrors(body);
  const text = registryErrorText(items, status);
  const code = items[0]?.code;
  if (code === 'MANIFEST_UNKNOWN' || (status === 404 && code === undefined)) {
    return new EngineError('not-found', 'ERR_REGISTRY_MANIFEST_UNKNOWN', `manifest for ${shown.familiarRef} not found: ${items.length > 0 ? text : 'manifest unknown: manifest unknown'}`);
  }
  if (code === 'NAME_UNKNOWN') return new EngineError('not-found', 'ERR_REGISTRY_NAME_UNKNOWN', `repository ${shown.familiarName} not found: ${text}`);
  if (code === 'DENIED' || code === 'UNAUTHORIZED' || status === 401 || status === 403) {
    // 403, never 401: the docker CLI answers a 401 to pull by prompting for a login (dockerd
    // answers these with 404 or 500, so the CLI never prompts).
    return new EngineError(
      'forbidden',
      'ERR_REGISTRY_DENIED',
      `pull access denied for ${shown.familiarName}, repository does not exist or may require 'docker login': ${items.length > 0 ? text : 'denied: requested access to the resource is denied'}`,
    );
  }
  return registryError(status, body, `Cannot fetch the manifest of ${shown.familiarRef}`);
}

/** Any other failed registry call: status and the registry's words. */
export function registryError(status: number, body: Buffer, what: string): EngineError {
  const items = parseRegistryErrors(body);
  const kind: ErrorKind = status === 401 || status === 403 ? 'forbidden' : status === 404 ? 'not-found' : status >= 500 ? 'unavailable' : 'invalid';
  return new EngineError(kind, 'ERR_REGISTRY_FAILED', `${what}: ${registryErrorText(items, status)}`);
}
