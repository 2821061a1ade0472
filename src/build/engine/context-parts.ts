/**
 * The engine's ContextParts over src/build/context and src/build/layers: context extraction,
 * content digests of COPY/ADD sources and the copy itself, with the context's `.dockerignore`
 * applied on the server too (the client already left ignored files out; a client that did not
 * must not change what a COPY takes).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseDockerignore } from '../context/dockerignore.js';
import { extractContext } from '../context/extract.js';
import { contentDigest } from '../layers/content-digest.js';
import { copyToUpper } from '../layers/copy.js';
import { layeredRootfs } from '../layers/rootfs.js';
import type { SourceSpec } from '../layers/sources.js';
import type { ContextParts, CopyStep, SourceDigest } from './parts.js';

export function contextParts(): ContextParts {
  // Read at each COPY (a small file): nothing kept per build in a long-lived worker.
  const ignoreOf = (root: string) =>
    readFile(join(root, '.dockerignore'), 'utf8').then(
      (text) => parseDockerignore(text),
      () => undefined,
    );
  const spec = async (root: string, step: CopyStep, fromContext: boolean): Promise<SourceSpec> => {
    const ignore = fromContext ? await ignoreOf(root) : undefined;
    return {
      root,
      sources: step.sources,
      exclude: step.exclude,
      ...(ignore ? { ignore } : {}),
      ...(step.heredocs.length > 0 ? { heredocs: step.heredocs.map((h) => ({ name: h.name, content: h.content })) } : {}),
    };
  };
  return {
    async extract(tar: Readable, dir: string): Promise<void> {
      await extractContext(tar, dir);
    },
    async sourceDigest(root, step, fromContext): Promise<SourceDigest> {
      const result = await contentDigest(await spec(root, step, fromContext));
      return { digest: result.digest, files: result.files.map((f) => [f.path, f.digest] as const) };
    },
    async pathDigest(root, path): Promise<string> {
      const ignore = await ignoreOf(root);
      return (await contentDigest({ root, sources: [path === '' ? '.' : path], exclude: [], ...(ignore ? { ignore } : {}) })).digest;
    },
    async copy(sourceRoot, step, upperDir, lowerDirs, fromContext): Promise<void> {
      await copyToUpper(
        {
          ...(await spec(sourceRoot, step, fromContext)),
          dest: step.dest,
          workdir: step.config.workingDir ?? '/',
          add: step.add,
          ...(step.chown ? { chown: step.chown } : {}),
          ...(step.chmod ? { chmod: step.chmod } : {}),
        },
        { upperDir, rootfs: layeredRootfs(lowerDirs) },
      );
    },
  };
}
