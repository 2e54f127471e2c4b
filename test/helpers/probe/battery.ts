// The probe battery for moat's default profile, shared by the plain (ERRNO) and the
// notify-listener kernel tests: both must give the container the same answers.
import os from 'node:os';
import { defaultProfile, resolveProfile } from '../../../src/seccomp/index.js';
import { MOAT_DEFAULT_CAPS } from '../../../src/caps/index.js';

/** [probe command, expected verdict ('ok' or an errno name)]; one container runs them all. */
export const DEFAULT_PROFILE_BATTERY: ReadonlyArray<readonly [readonly string[], string]> = [
  [['keyctl'], 'EPERM'],
  [['add_key'], 'EPERM'],
  [['request_key'], 'EPERM'],
  [['unshare'], 'EPERM'], // CLONE_NEWUSER
  [['clone'], 'EPERM'], // CLONE_NEWUSER | SIGCHLD
  [['clone', '0x20000'], 'EPERM'], // CLONE_NEWNS
  [['clone', '0'], 'ok'], // a plain fork
  [['clone3'], 'ENOSYS'],
  [['mount'], 'EPERM'],
  [['umount2'], 'EPERM'],
  [['bpf'], 'EPERM'],
  [['perf_event_open'], 'EPERM'],
  [['kexec_load'], 'EPERM'], // ENOSYS without the filter on this kernel (no kexec)
  [['init_module'], 'EPERM'], // ENOSYS without the filter (no modules)
  [['swapon'], 'EPERM'],
  [['acct'], 'EPERM'],
  [['open_by_handle_at'], 'EPERM'],
  [['reboot'], 'EPERM'], // invalid magic: EINVAL if it ever reached the kernel
  [['io_uring_setup'], 'EPERM'],
  [['userfaultfd'], 'EPERM'],
  [['socket', '40'], 'EPERM'], // AF_VSOCK
  [['socket', '38'], 'EPERM'], // AF_ALG
  [['socket', '1'], 'ok'], // AF_UNIX
  [['getpid'], 'ok'],
  [['mkdir'], 'ok'],
  [['personality'], 'ok'], // 0xffffffff: query
  [['personality', '6'], 'ENOSYS'], // PER_BSD: moat leaves other values to the default action (ENOSYS; Docker: EPERM)
  [['nr', '1000'], 'ENOSYS'],
];

/** moat's default profile resolved for x86_64, moat's 11 default capabilities and this kernel. */
export function defaultSeccomp(): ReturnType<typeof resolveProfile> {
  return resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: [...MOAT_DEFAULT_CAPS], kernel: os.release() });
}

/** The label the probe prints for a command: `keyctl`, `socket:40`, `nr:1000`. */
export function labelOf(cmd: readonly string[]): string {
  return cmd.length > 1 ? `${cmd[0]}:${cmd[1]}` : cmd[0]!;
}
