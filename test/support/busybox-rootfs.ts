/**
 * A root filesystem for RUN steps made from Debian's busybox-static: /bin/busybox with a symlink
 * per applet, an /etc/passwd and /etc/group with a root, an unprivileged user and a group that
 * lists it, and /tmp. No /proc, /dev, /sys or /etc/resolv.conf: the executor must mount them
 * without leaving them behind as changes.
 */
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX } from './images.js';

export const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'builder:x:1000:1000:builder:/home/builder:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false', ''].join('\n');
export const GROUP = ['root:x:0:', 'builder:x:1000:', 'staff:x:50:builder', 'nogroup:x:65534:', ''].join('\n');

export async function makeBusyboxRootfs(dir: string): Promise<void> {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, join(dir, 'bin', 'busybox'));
  await Promise.all(applets.map((applet) => symlink('busybox', join(dir, 'bin', applet))));
  await mkdir(join(dir, 'etc'));
  await writeFile(join(dir, 'etc', 'passwd'), PASSWD);
  await writeFile(join(dir, 'etc', 'group'), GROUP);
  await mkdir(join(dir, 'tmp'));
  await chmod(join(dir, 'tmp'), 0o1777);
  await mkdir(join(dir, 'root'), { mode: 0o700 });
}
