// Where ext2/3/4 puts new subdirectories of a directory that gets one per container.
//
// Without a journal (this VM's root ext4 has none), ext4 skips for 30 s every inode freed in
// that time when it allocates one (fs/ext4/ialloc.c, find_inode_bit -> recently_deleted),
// checking each on its inode table block: the cost of a new file grows with the files
// removed in the same block group in the last 30 s. Each container's directories and files
// are made and removed within a second, and the subdirectories of an ordinary directory go
// into its own group, so at 20 containers in parallel every new inode scanned thousands, about
// half of moatd's own CPU (perf, issue 18). FS_TOPDIR_FL (`chattr +T`) makes the Orlov
// allocator spread a directory's subdirectories across groups, as it does for the top-level
// ones; a container's files follow its directory. Only placement changes: nothing is read or
// allowed differently, and filesystems without the flag are left as they are.
import { closeSync, openSync } from 'node:fs';
import { O_RDONLY, O_DIRECTORY, O_CLOEXEC } from './tree.js';
import { libc } from './libc.js';

// _IOR('f', 1, long) and _IOW('f', 2, long); the kernel reads and writes an int.
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

/**
 * Mark a daemon-owned directory (no component container-writable; a data root given as a
 * symlink is followed) so that the filesystem spreads its subdirectories (FS_TOPDIR_FL).
 * True when the flag is set (already or now); false where the filesystem has no such flag
 * or refuses it (not ext2/3/4: ENOTTY, EOPNOTSUPP, EINVAL) and on any other error, the
 * directory's open included: a placement hint never stops moatd.
 *
 * @example
 * spreadSubdirectories('/var/lib/moat/containers'); // true on ext4
 */
export function spreadSubdirectories(path: string): boolean {
  let fd: number;
  try {
    // Read-only is enough for the flags ioctl; an O_PATH descriptor would not do.
    fd = openSync(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } catch {
    return false;
  }
  try {
    const flags = Buffer.alloc(8);
    if (libc().ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) return false;
    const now = flags.readInt32LE(0);
    if ((now & FS_TOPDIR_FL) !== 0) return true;
    flags.writeInt32LE(now | FS_TOPDIR_FL, 0);
    return libc().ioctl(fd, FS_IOC_SETFLAGS, flags) === 0;
  } finally {
    closeSync(fd);
  }
}
