/**
 * The server's certificate and key, read from their PEM files and checked as a pair before use:
 * at start (a bad pair is a configuration error) and on every reload (a bad new pair is refused
 * and the one in use stays).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';

export interface KeyPairFiles {
  readonly cert: string;
  readonly key: string;
}

export interface KeyPair {
  /** The PEM chain as read: the server certificate first, then any intermediates. */
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly subject: string;
  readonly notAfter: string;
  /** SHA-256 of the leaf certificate, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint: string;
  /** Of both files' bytes: a rewrite with the same content is no change. */
  readonly version: string;
}

/** The files do not hold a usable certificate and matching key; `message` says which and why. */
export class KeyPairInvalid extends Error {
  override readonly name = 'KeyPairInvalid';
}

export async function readKeyPair(files: KeyPairFiles): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readPem(files.cert, 'certificate'), readPem(files.key, 'key')]);
  return checkKeyPair(files, cert, key);
}

export function checkKeyPair(files: KeyPairFiles, cert: Buffer, key: Buffer): KeyPair {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new KeyPairInvalid(`${files.cert} holds no PEM certificate (${(error as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new KeyPairInvalid(`${files.key} holds no unencrypted PEM private key (${(error as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new KeyPairInvalid(`the key in ${files.key} does not belong to the certificate in ${files.cert}`);
  try {
    // What the TLS server will do with them: catches a chain OpenSSL refuses.
    createSecureContext({ cert, key });
  } catch (error) {
    throw new KeyPairInvalid(`${files.cert} and ${files.key} are refused by OpenSSL: ${(error as Error).message}`);
  }
  return {
    cert,
    key,
    subject: leaf.subject.replaceAll('\n', ', '),
    notAfter: new Date(leaf.validTo).toISOString(),
    fingerprint: leaf.fingerprint256,
    version: createHash('sha256').update(cert).update('\0').update(key).digest('hex'),
  };
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new KeyPairInvalid(`cannot read the TLS ${what} ${path}: ${reason}`);
  }
}
