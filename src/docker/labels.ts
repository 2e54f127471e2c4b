// Size limits on labels and annotations, checked at create. Everything a container carries
// comes back in every `docker ps`; with an authorization plugin that reply must fit the
// response buffer (4 MiB) or it is refused for everyone, so one user's labels must not be
// able to break another user's `ps` (issue 11 finding 6). Docker sets no limit; these are
// containerd's (`labels.Validate`: key + value at most 4096 bytes, which Docker 23+ applies
// to image labels with the containerd store) plus a total per object. Pure.
import { invalid } from '../base/index.js';

/** key + value, bytes (containerd's maximum). */
export const MAX_LABEL_BYTES = 4096;
/** All labels (or all annotations) of one object, bytes. */
export const MAX_LABELS_TOTAL_BYTES = 16 * 1024;

/**
 * Throw a 400 naming `field` and the key when a map is over the limits.
 *
 * @example
 * checkLabelSizes(body.Labels, 'Config.Labels');
 */
export function checkLabelSizes(labels: unknown, field: string): void {
  if (labels === undefined || labels === null || typeof labels !== 'object' || Array.isArray(labels)) return;
  let total = 0;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const size = Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
    if (size > MAX_LABEL_BYTES) {
      const shown = k.length > 64 ? `${k.slice(0, 64)}…` : k;
      throw invalid(`${field}: label ${JSON.stringify(shown)}: key and value length (${size} bytes) greater than maximum size (${MAX_LABEL_BYTES} bytes)`);
    }
    total += size;
  }
  if (total > MAX_LABELS_TOTAL_BYTES) {
    throw invalid(`${field}: labels total ${total} bytes, more than the maximum of ${MAX_LABELS_TOTAL_BYTES} bytes per object`);
  }
}
