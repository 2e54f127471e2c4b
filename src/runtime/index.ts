/**
 * The OCI runtime stack: conmon holds each container's stdio and exit code, runc applies the spec.
 *
 * @example
 * const pid = await createContainer(paths, { id, name, bundle, ... });
 * await startContainer(paths, id);
 */
export * from './argv.js';
export * from './runner.js';
export { connectSeqpacket, onAttachPackets, attachStdin, decodeAttachPacket, ATTACH_STDIN, ATTACH_STDOUT, ATTACH_STDERR, type AttachPacket } from './seqpacket.js';
export { ProcessWatcher, commandLineOf } from './process-watch.js';
