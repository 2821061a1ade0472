/**
 * Layer compression and archive decompression. gzip and zstd through node:zlib (zstd exists there
 * only from Node 22.15 / 23.8; on older Node it is refused with a clear error rather than done
 * with a native addon that would need a compiler or a download at install). bzip2 and xz, which
 * only ADD's archive extraction needs, stream through Debian's `bzip2` and `xz` programs.
 *
 * gzip output is deterministic: a fixed level, and node's gzip header carries no file name and a
 * zero mtime.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { CompressionUnavailableError, InvalidArchiveError } from './errors.js';
import type { Compression } from './layers.js';

export const GZIP_LEVEL = 6;

export const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

type ZstdZlib = {
  createZstdCompress?: (options?: object) => Transform;
  createZstdDecompress?: (options?: object) => Transform;
};

const zstd = zlib as unknown as ZstdZlib;

function zstdMissing(): CompressionUnavailableError {
  return new CompressionUnavailableError(
    `zstd needs Node.js 22.15 or newer (this is ${process.version}); build with gzip or upgrade Node.js`,
  );
}

/** Throws CompressionUnavailableError when this process cannot write `compression`. */
export function checkCompression(compression: Compression): void {
  if (compression === 'zstd' && typeof zstd.createZstdCompress !== 'function') throw zstdMissing();
}

export function compressor(compression: Compression): Transform {
  if (compression === 'gzip') return zlib.createGzip({ level: GZIP_LEVEL });
  checkCompression(compression);
  return zstd.createZstdCompress!();
}

export type ArchiveCompression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** Detects a compressed stream by its magic bytes. */
export function detectCompression(head: Buffer): ArchiveCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

export function decompressor(kind: ArchiveCompression): Duplex {
  switch (kind) {
    case 'none':
      return new PassThrough();
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd':
      if (typeof zstd.createZstdDecompress !== 'function') throw zstdMissing();
      return zstd.createZstdDecompress();
    case 'bzip2':
      return filterProgram('bzip2', ['-dc'], 'apt-get install bzip2');
    case 'xz':
      return filterProgram('xz', ['-dc'], 'apt-get install xz-utils');
  }
}

/**
 * The stream's bytes, decompressed according to its magic. Reads only the first chunk(s) to
 * decide; nothing is buffered beyond that.
 */
export async function openDecompressed(source: Readable): Promise<{ kind: ArchiveCompression; stream: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  while (head.length < 6) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const kind = head.length >= 6 ? detectCompression(head) : 'none';
  const raw = Readable.from(
    (async function* () {
      if (head.length > 0) yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    })(),
    { objectMode: false },
  );
  if (kind === 'none') return { kind, stream: raw };
  const filter = decompressor(kind);
  raw.on('error', (error) => filter.destroy(error));
  return { kind, stream: raw.pipe(filter) };
}

/** A program that filters stdin to stdout, as a Duplex; a non-zero exit fails the stream. */
function filterProgram(program: string, args: string[], install: string): Duplex {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  child.on('error', (error: NodeJS.ErrnoException) => {
    duplex.destroy(
      error.code === 'ENOENT' ? new CompressionUnavailableError(`${program} is not installed (${install})`) : error,
    );
  });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else duplex.destroy(new InvalidArchiveError(`${program} could not decompress the archive: ${stderr.trim()}`));
  });
  duplex.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}
