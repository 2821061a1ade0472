/**
 * Content digests of COPY/ADD sources, for cache keys: what BuildKit's contenthash covers, over
 * the same plan the copy executes (sources.ts: globs expanded, `.dockerignore` and `--exclude`
 * applied). Each entry contributes its path relative to the destination, its type, mode bits,
 * owner, link target and, for a regular file, the sha256 of its bytes; mtimes do not count (a
 * fresh checkout must hit the cache). Per-entry digests come along so the engine can name the
 * first file that differs from a cached record.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Stats } from 'node:fs';
import { planSources, type SourceSpec } from './sources.js';

export interface FileDigest {
  /** The source path (inside the context or rootfs) the digest is of. */
  readonly path: string;
  readonly digest: string;
}

export interface ContentDigest {
  /** sha256 over every entry, in plan order, and the shape of the plan. */
  readonly digest: string;
  readonly files: readonly FileDigest[];
}

/** Bumped whenever what goes into a digest changes, so old cache keys stop matching. */
const VERSION = 'cairn.contenthash.v1';

export async function contentDigest(spec: SourceSpec): Promise<ContentDigest> {
  const plan = await planSources(spec);
  const total = createHash('sha256').update(`${VERSION}\n`);
  const files: FileDigest[] = [];
  for (const group of plan.groups) {
    total.update(`source ${JSON.stringify(group.source)} ${group.kind} ${JSON.stringify(group.name)}\n`);
    if (group.kind === 'heredoc') {
      const digest = sha256(group.content ?? '');
      files.push({ path: group.name, digest });
      total.update(`${digest}\n`);
      continue;
    }
    for (const item of group.items) {
      const content = item.stats.isFile() ? await fileSha256(item.abs) : '';
      const record = [item.target, typeOf(item.stats), (item.stats.mode & 0o7777).toString(8), item.stats.uid, item.stats.gid, item.link ?? '', content];
      const digest = sha256(JSON.stringify(record));
      files.push({ path: item.path, digest });
      total.update(`${digest}\n`);
    }
  }
  return { digest: `sha256:${total.digest('hex')}`, files };
}

function typeOf(stats: Stats): string {
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
