/**
 * Leaf module: errors, logging, ids, cleanup stacks, atomic files.
 *
 * @example
 * import { EngineError, noSuchContainer } from '../base/index.js';
 */
export { EngineError, isKind, noSuchContainer, noSuchImage, noSuchExec, noSuchVolume, invalid, conflict, internal, errorText, findSystemError, resourceError, type ErrorKind } from './errors.js';
export { CleanupStack, allSettledOrThrow } from './cleanup.js';
export { PhaseTimer } from './timing.js';
export { newId, shortId, isValidName, randomName } from './ids.js';
export { createLogger, silentLogger, usePino, type Logger, type LogLevel } from './log.js';
export { writeFileAtomic, replaceFileAtomic, writeJsonAtomic, readJsonIfExists, readTextIfExists, removeStaleTempFiles, syncDir } from './fsutil.js';
export { errnoName, sysError } from './syscall-errors.js';
export { compareText } from './order.js';
export { parseJsonObject } from './json.js';
