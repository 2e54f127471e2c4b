/**
 * Container plan -> OCI runtime spec, and the pure pieces that decide the plan.
 *
 * @example
 * const spec = generateSpec(plan);
 */
export { generateSpec, baseMounts, type RunPlan, type NamespaceMode } from './generate.js';
export { resolveUser, parsePasswd, parseGroup, type ResolvedUser } from './user.js';
export type * from './types.js';
