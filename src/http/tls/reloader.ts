/**
 * Reloads the certificate when its files change, without a restart: cert-manager, a Kubernetes
 * Secret volume (an atomic swap of a `..data` symlink), certbot or `cp` over the old files.
 *
 * The directories holding the files are watched rather than the files, since a rename over a file
 * (how most tools replace it) ends a watch on the file itself. A change is read after a short
 * quiet period, so that a certificate and key written one after the other are read as a pair; a
 * pair that does not check out (a half-written file, a key of another certificate) is refused and
 * the pair in use stays until the files are right. A slow poll backs up the watch on filesystems
 * that do not report changes (NFS, some container mounts).
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { readKeyPair, type KeyPair, type KeyPairFiles } from './key-pair.js';

const QUIET_MS = 300;
const POLL_MS = 60_000;

export interface KeyPairReloader {
  close(): void;
}

/** Watches `files`; each valid new pair goes to `apply` (e.g. `server.setSecureContext`). */
export function watchKeyPair(files: KeyPairFiles, current: KeyPair, apply: (pair: KeyPair) => void, logger: Logger): KeyPairReloader {
  let inUse = current;
  let timer: NodeJS.Timeout | undefined;
  let reading = Promise.resolve();
  let closed = false;

  const reload = async () => {
    if (closed) return;
    try {
      const pair = await readKeyPair(files);
      if (pair.version === inUse.version) return;
      apply(pair);
      inUse = pair;
      logger.info({ subject: pair.subject, notAfter: pair.notAfter, fingerprint: pair.fingerprint }, 'TLS certificate reloaded');
    } catch (error) {
      logger.error({ reason: (error as Error).message, fingerprint: inUse.fingerprint }, 'new TLS certificate refused; still serving the previous one');
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      reading = reading.then(reload);
    }, QUIET_MS);
  };

  const watchers: FSWatcher[] = [...new Set([dirname(files.cert), dirname(files.key)])].map((dir) =>
    watch(dir, { persistent: false }, schedule).on('error', (err) => logger.warn({ err, dir }, 'cannot watch the TLS files; polling only')),
  );
  const poll = setInterval(schedule, POLL_MS);
  poll.unref();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
