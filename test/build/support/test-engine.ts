/**
 * A tiny build engine for the tests of the builds API, queue, workers, IPC and CLI (loaded in the
 * worker through CAIRN_TEST_BUILD_ENGINE, src/build/worker/run-job.ts). It is not the engine: it
 * reads the Dockerfile from the real context tar in the blob store and understands four lines,
 * enough to drive every path the real engine will:
 *   FROM scratch       a vertex, CACHED
 *   RUN sleep N        N seconds of output lines (stops when the build is cancelled)
 *   RUN fail           an ERROR vertex and a failed build
 *   COPY . /           the context tar as one gzip layer, written into the blob store and linked
 * and then writes a real image (config + manifest) to every tag through the BuildHost.
 */
import { createGunzip, gzipSync } from 'node:zlib';
import { randomUUID, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { BuildEvent, BuildJob, BuildResult, CacheReportEntry } from '../../../src/build/job.js';
import type { EngineDeps } from '../../../src/build/worker/run-job.js';
import type { BlobStore } from '../../../src/storage/blob-store.js';
import { parseDigest } from '../../../src/oci/digest.js';

export async function runBuild(job: BuildJob, deps: EngineDeps, emit: (e: BuildEvent) => void, signal: AbortSignal): Promise<BuildResult> {
  const started = performance.now();
  const parsed = parseDigest(job.contextDigest);
  if (!parsed.ok) throw new Error(parsed.message);
  const contextTar = await readAll(await deps.store.read(parsed.digest));
  emit({ type: 'vertex', id: 1, name: `[internal] load build definition from ${job.request.dockerfile}` });
  const dockerfile = (await filesOf(contextTar)).get(job.request.dockerfile);
  if (dockerfile === undefined) {
    emit({ type: 'error', id: 1, message: `failed to read ${job.request.dockerfile}: no such file in the context` });
    return { status: 'failed', error: `no ${job.request.dockerfile} in the context`, images: [], cache: [], durationMs: 0 };
  }
  emit({ type: 'done', id: 1, durationMs: 1 });
  const lines = dockerfile.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const cache: CacheReportEntry[] = [];
  let layer: { digest: string; size: number; diffId: string } | undefined;
  const repository = job.request.tags[0]!.slice(0, job.request.tags[0]!.lastIndexOf(':'));
  for (const [i, line] of lines.entries()) {
    const id = i + 2;
    const step = `[${i + 1}/${lines.length}] ${line}`;
    emit({ type: 'vertex', id, name: step, step: { index: i + 1, count: lines.length } });
    const t0 = performance.now();
    if (/^FROM scratch$/i.test(line)) {
      emit({ type: 'cached', id });
      cache.push({ step: line, hit: true });
      continue;
    }
    const sleep = /^RUN sleep (\d+(?:\.\d+)?)$/i.exec(line);
    if (sleep) {
      const until = performance.now() + Number(sleep[1]) * 1000;
      let n = 0;
      while (performance.now() < until) {
        if (signal.aborted) {
          emit({ type: 'error', id, message: 'cancelled' });
          return { status: 'cancelled', error: 'cancelled', images: [], cache, durationMs: 0 };
        }
        emit({ type: 'log', id, stream: 'stdout', text: `tick ${++n}\n` });
        await new Promise((r) => setTimeout(r, 100));
      }
    } else if (/^RUN fail$/i.test(line)) {
      emit({ type: 'log', id, stream: 'stderr', text: 'about to fail\n' });
      emit({ type: 'error', id, message: `process "/bin/sh -c fail" did not complete successfully: exit code: 1` });
      cache.push({ step: line, hit: false, reason: { kind: job.request.noCache ? 'no-cache' : 'new' } });
      return { status: 'failed', error: `step ${i + 1}: exit code: 1`, images: [], cache, durationMs: 0 };
    } else if (/^COPY \. \/$/i.test(line)) {
      const gz = gzipSync(contextTar);
      const digest = await writeBlob(deps.store, gz);
      await deps.host.linkBlob(repository, digest, gz.length);
      layer = { digest, size: gz.length, diffId: `sha256:${createHash('sha256').update(contextTar).digest('hex')}` };
      emit({ type: 'log', id, stream: 'stdout', text: `copied ${contextTar.length} bytes\n` });
    } else {
      emit({ type: 'error', id, message: `the test engine does not know "${line}"` });
      return { status: 'failed', error: `unknown instruction ${line}`, images: [], cache, durationMs: 0 };
    }
    cache.push({ step: line, hit: false, reason: { kind: job.request.noCache ? 'no-cache' : 'new' } });
    emit({ type: 'done', id, durationMs: Math.round(performance.now() - t0) });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layer ? [layer.diffId] : [] } }));
  const configDigest = await writeBlob(deps.store, config);
  await deps.host.linkBlob(repository, configDigest, config.length);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layer ? [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }] : [],
    }),
  );
  const images = [];
  for (const reference of job.request.tags) {
    const colon = reference.lastIndexOf(':');
    const { digest } = await deps.host.putManifest(reference.slice(0, colon), reference.slice(colon + 1), 'application/vnd.oci.image.manifest.v1+json', manifest);
    images.push({ reference, digest });
  }
  return { status: 'succeeded', images, cache, durationMs: Math.round(performance.now() - started) };
}

async function writeBlob(store: BlobStore, bytes: Buffer): Promise<string> {
  const id = randomUUID();
  const parsed = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  if (!parsed.ok) throw new Error(parsed.message);
  await store.createUpload(id);
  await store.appendUpload(id, 0, Readable.from([bytes]));
  await store.commitUpload(id, parsed.digest);
  await store.abortUpload(id);
  return parsed.digest.value;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The regular files of a tar (a gzip'd one too), by path without a leading ./ */
export async function filesOf(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  (gzipped ? Readable.from([archive]).pipe(createGunzip()) : Readable.from([archive])).pipe(extract);
  await done;
  return files;
}
