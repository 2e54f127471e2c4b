/**
 * Seccomp denials explained: the SCMP_ACT_NOTIFY listener process (one per moatd, outlives
 * it like conmon), the per-container rule tables moatd writes for it, and the denial
 * records it writes (read, follow, remove). See docs/seccomp-denials.md.
 *
 * @example
 * import { startListenerProcess, writeRuleTable, followDenials } from '../notify/index.js';
 */

/**
 * moatd's whole side in one object: listener kept running, `available()` for SeccompPolicy,
 * `prepare()` as the engine's onSeccompNotify, `follow()` for events, `remove()` for rm.
 *
 * @example
 * const explainer = await NotifyExplainer.start({ execRoot, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), arch: hostArch(process.arch), log });
 * explainer.follow((r) => events.publish(denialEvent(r)));
 * // shutdown: await explainer.close(); (the listener keeps running)
 */
export { NotifyExplainer, type NotifyExplainerOptions } from './explainer.js';

/**
 * Starts `moat-seccomp-listener` detached unless one already serves the state dir; waits until it accepts.
 *
 * @example
 * const { pid, started } = await startListenerProcess({ socket: '/run/moat/seccomp.sock', stateDir: '/run/moat/seccomp', listenerBin: '/usr/lib/moat/bin/moat-seccomp-listener' });
 */
export { startListenerProcess, type ListenerProcessOptions } from './process.js';

/**
 * The running listener (pid file, live process, socket accepting), or undefined.
 *
 * @example
 * if (await findListenerProcess({ socket, stateDir }) === undefined) log.warn('seccomp listener is down');
 */
export { findListenerProcess } from './process.js';

/**
 * The standby listener (holds copies of the notify fds, takes over if the listener dies), or undefined.
 *
 * @example
 * const standby = findStandbyProcess({ stateDir }); // { pid } | undefined
 */
export { findStandbyProcess } from './process.js';

/**
 * SIGTERM the listener (and so its standby) and wait (tests, uninstall). Containers then get ENOSYS for notified syscalls.
 *
 * @example
 * await stopListenerProcess({ stateDir });
 */
export { stopListenerProcess } from './process.js';

/**
 * Writes `<stateDir>/<id>.rules.json` from toNotifyProfile's table (before `runc create`).
 *
 * @example
 * await writeRuleTable(stateDir, id, { rules: table, arch: 'SCMP_ARCH_X86_64', seccomp });
 */
export { writeRuleTable } from './files.js';

/**
 * A container's denial records, oldest first; `last` n, or those after `sinceSeq`.
 *
 * @example
 * const lines = await readDenials(stateDir, id, { last: 10 });
 */
export { readDenials } from './files.js';

/**
 * Record mode: the first call of each syscall a container made.
 *
 * @example
 * const names = [...new Set((await readSyscalls(stateDir, id)).map((r) => r.syscall))];
 */
export { readSyscalls } from './files.js';

/**
 * Calls back once per new denial line of any container in the state dir (for `docker events`).
 *
 * @example
 * const follower = followDenials(stateDir, { onRecord: (r) => publish(denialEvent(r)) });
 */
export { followDenials, type DenialFollower } from './files.js';

/**
 * Removes a container's rule table and records (`docker rm`).
 *
 * @example
 * await removeContainerState(stateDir, id);
 */
export { removeContainerState } from './files.js';

/**
 * Record shapes (the jsonl lines) and the rule table.
 *
 * @example
 * const r: DenialRecord = lines[0] as DenialRecord; r.syscall; // 'keyctl'
 */
export type { DenialRecord, DroppedRecord, DenialLine, SyscallRecord, RuleTable, TableRule, DenyReason } from './policy.js';

/**
 * The Docker event for one denial line (Type 'container', Action 'seccomp-denied').
 *
 * @example
 * events.publish(denialEvent(r, { name: 'web', image: 'busybox' }));
 */
export { denialEvent, type DenialEvent } from './events.js';

/**
 * The file names under the state dir (for `moat doctor` and tests).
 *
 * @example
 * denialsPath('/run/moat/seccomp', id); // '/run/moat/seccomp/<id>.denials.jsonl'
 */
export { denialsPath, syscallsPath, rulesPath, pidPath, logPath, standbyPidPath } from './files.js';

/**
 * The listener's per-container budgets (answers, records) and its defaults.
 *
 * @example
 * DEFAULT_LIMITS.answerPerSecond; // 500
 */
export { DEFAULT_LIMITS, type BudgetLimits } from './budget.js';
