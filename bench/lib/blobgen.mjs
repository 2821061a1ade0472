// Deterministic, incompressible blob content without holding a blob in memory.
// AES-128-CTR over zeros is a seeded PRNG that runs natively at GB/s, so
// generating the body while uploading costs the client almost nothing and
// leaves the CPU to the server under test (the bench box has 2 cores).
import { createCipheriv, createHash } from 'node:crypto';

const PIECE = 1 << 20; // 1 MiB pieces: large enough for few syscalls, small for memory
const ZEROS = Buffer.alloc(PIECE);

function keystream(seed) {
  const key = createHash('sha256').update(`cairn-bench:${seed}`).digest();
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
}

/** Yields `size` bytes for `seed` in pieces of at most 1 MiB; same seed, same bytes. */
export function* blobPieces(seed, size) {
  const cipher = keystream(seed);
  for (let left = size; left > 0; left -= PIECE) {
    yield cipher.update(left >= PIECE ? ZEROS : ZEROS.subarray(0, left));
  }
}

/** Small blobs are cheap to keep whole. */
export function smallBlob(seed, size) {
  return Buffer.concat([...blobPieces(seed, size)]);
}

export function sha256(buf) {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

const digestCache = new Map();

/** First streaming pass: the digest the upload must declare. Cached per (seed, size). */
export function blobDigest(seed, size) {
  const key = `${seed}/${size}`;
  if (!digestCache.has(key)) {
    const hash = createHash('sha256');
    for (const piece of blobPieces(seed, size)) hash.update(piece);
    digestCache.set(key, `sha256:${hash.digest('hex')}`);
  }
  return digestCache.get(key);
}
