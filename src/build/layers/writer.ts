/**
 * The layer writer: an overlayfs upper directory → a compressed OCI layer in the blob store, in
 * one streaming pass: tar → sha256 (diffID) → gzip/zstd → the sink, which hashes the compressed
 * bytes (digest) while storing them. No layer is ever held in memory or on disk twice.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkCompression, compressor, LAYER_MEDIA_TYPES } from './compression.js';
import type { BlobSink, LayerDescriptor, LayerOptions, LayerWriter } from './layers.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from './tar/format.js';
import { upperEntries, type UpperEntry } from './upper.js';

/** Files up to this size are read whole (one syscall) rather than streamed. */
const SMALL_FILE_BYTES = 256 * 1024;

export class TarLayerWriter implements LayerWriter {
  async fromUpperDir(upperDir: string, sink: BlobSink, options: LayerOptions): Promise<LayerDescriptor | undefined> {
    checkCompression(options.compression);
    const entries = upperEntries(upperDir, options)[Symbol.asyncIterator]();
    const first = await entries.next();
    if (first.done) return undefined;

    const diff = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        diff.update(chunk);
        callback(null, chunk);
      },
    });
    const body = new PassThrough();
    const mediaType = LAYER_MEDIA_TYPES[options.compression];
    const stored = sink.write(body, mediaType);
    // A sink that fails stops reading: end the pipeline rather than let it wait forever.
    stored.catch((error: unknown) => body.destroy(error as Error));
    await Promise.all([
      pipeline(Readable.from(tarBytes(first.value, entries)), hashing, compressor(options.compression), body),
      stored,
    ]);
    const { digest, size } = await stored;
    return { mediaType, digest, size, diffId: `sha256:${diff.digest('hex')}` };
  }
}

async function* tarBytes(first: UpperEntry, rest: AsyncIterator<UpperEntry>): AsyncGenerator<Buffer> {
  for (let entry: UpperEntry | undefined = first; entry !== undefined; ) {
    yield encodeHeader(entry.header);
    if (entry.source !== undefined && entry.header.size > 0) {
      yield* fileBytes(entry.source, entry.header.size);
      yield padding(entry.header.size);
    }
    const next = await rest.next();
    entry = next.done ? undefined : next.value;
  }
  yield END_OF_ARCHIVE;
}

/** Exactly `size` bytes of the file, or an error if it changed size since it was listed. */
async function* fileBytes(path: string, size: number): AsyncGenerator<Buffer> {
  let read = 0;
  if (size <= SMALL_FILE_BYTES) {
    const bytes = await readFile(path);
    read = bytes.length;
    if (read === size) yield bytes;
  } else {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > size) break;
      yield chunk;
    }
  }
  if (read !== size) throw new Error(`${path} changed size while the layer was written`);
}
