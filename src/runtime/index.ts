/**
 * The OCI runtime stack: conmon holds each container's stdio and exit code, runc applies the
 * spec. `OciRuntime` is what the engine asks of it; `RuncRuntime` is moatd's implementation.
 *
 * @example
 * const runtime: OciRuntime = new RuncRuntime({ runc, conmon, runcRoot, exitDir, socketDir, execDir });
 * await runtime.prepare({ exited, monitorGone, isLive });
 * const { pid } = await runtime.beginCreate({ id, name, bundle, log, stdin: false, terminal: false, leaveStdinOpen: false }).create(spec);
 * await runtime.start(id);
 */
export type { OciRuntime, RuntimeEvents, RuntimeState, RuntimeCreateOptions, PendingCreate, RuntimeExecOptions, AttachStream, ResizeTarget } from './oci.js';
export { RuncRuntime } from './runner.js';
export { startFailureExitCode, runtimeFailure } from './conmon.js';
export * from './argv.js';
export { connectSeqpacket, onAttachPackets, attachStdin, decodeAttachPacket, ATTACH_STDIN, ATTACH_STDOUT, ATTACH_STDERR, type AttachPacket } from './seqpacket.js';

/**
 * Writes a bundle's config.json for a container run with runc directly (`moat seccomp record`, tests).
 *
 * @example
 * writeBundleSync(dir, standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: [], cgroupsPath: 'moat-test/abc' }));
 */
export { writeBundleSync } from './bundle.js';
export { splitProcStat } from './runc-state.js';
