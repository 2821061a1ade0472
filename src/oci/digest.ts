/**
 * Digests as the OCI image spec defines them: `algorithm ":" encoded`.
 * Cairn stores and verifies sha256 and sha512; other well-formed algorithms are
 * recognised but refused as unsupported, so a malformed digest never reaches storage.
 */
import { createHash, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

/** A parsed, validated digest. `encoded` is lowercase hex, safe to use in a path. */
export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly encoded: string;
  /** The canonical string form, e.g. `sha256:e3b0…`. */
  readonly value: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The grammar from the image spec: algorithm-component(+separator...) ":" encoded.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export type DigestParseResult =
  | { ok: true; digest: Digest }
  | { ok: false; reason: 'invalid' | 'unsupported'; message: string };

export function parseDigest(input: string): DigestParseResult {
  if (input.length > 256 || !DIGEST_GRAMMAR.test(input)) {
    return { ok: false, reason: 'invalid', message: `invalid digest "${truncate(input)}"` };
  }
  const colon = input.indexOf(':');
  const algorithm = input.slice(0, colon);
  const encoded = input.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    return { ok: false, reason: 'unsupported', message: `unsupported digest algorithm "${algorithm}"` };
  }
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    return { ok: false, reason: 'invalid', message: `invalid ${algorithm} digest "${truncate(input)}"` };
  }
  return { ok: true, digest: { algorithm, encoded, value: input } };
}

/** True when the string looks like a digest rather than a tag (tags cannot contain ':'). */
export function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

export function newHasher(algorithm: DigestAlgorithm = 'sha256'): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  const encoded = createHash(algorithm).update(bytes).digest('hex');
  return { algorithm, encoded, value: `${algorithm}:${encoded}` };
}

export function digestFromHex(algorithm: DigestAlgorithm, encoded: string): Digest {
  return { algorithm, encoded, value: `${algorithm}:${encoded}` };
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
