// Reading JSON that arrives from another program (runc's state file and state message, the
// listener's own requests): a JSON object, or undefined for anything else, never a throw.

/** The object `text` holds, or undefined when it is not JSON or not an object (arrays count as objects, as for `typeof`). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}
