/**
 * A certificate authority and a server certificate for a lab registry. Node can make keys but
 * not X.509 certificates; node-forge writes them (RSA: forge has no elliptic-curve certificates).
 * Keys come from Node's own generator, which is native and fast.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import forge from 'node-forge';
import { UsageError } from './errors.js';

const CA_DAYS = 3650;
const HOSTNAME = /^(?=.{1,253}$)(\*\.)?[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export interface SelfSignedRequest {
  readonly hosts: readonly string[];
  readonly out: string;
  readonly port: number;
  readonly days: number;
}

interface Authority {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  readonly reused: boolean;
}

export async function writeSelfSigned(request: SelfSignedRequest): Promise<void> {
  for (const host of request.hosts) {
    if (!isIP(host) && !HOSTNAME.test(host)) throw new UsageError(`--host: "${host}" is not a host name or IP address`);
  }
  const out = resolve(request.out);
  await mkdir(out, { recursive: true });
  const ca = await existingAuthority(out) ?? newAuthority();
  if (!ca.reused) {
    await writeAtomically(join(out, 'ca.key'), forge.pki.privateKeyToPem(ca.key), 0o600);
    await writeAtomically(join(out, 'ca.crt'), forge.pki.certificateToPem(ca.cert), 0o644);
  }
  const server = serverCertificate(ca, request.hosts, request.days);
  // The key first: a server watching the files reads the pair once both are in place.
  await writeAtomically(join(out, 'server.key'), forge.pki.privateKeyToPem(server.key), 0o600);
  await writeAtomically(join(out, 'server.crt'), forge.pki.certificateToPem(server.cert), 0o644);
  process.stdout.write(instructions(out, request, ca.reused));
}

async function existingAuthority(out: string): Promise<Authority | undefined> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(join(out, 'ca.crt'), 'utf8'), readFile(join(out, 'ca.key'), 'utf8')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const cert = forge.pki.certificateFromPem(certPem);
    const key = forge.pki.privateKeyFromPem(keyPem);
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match');
    return { cert, key, reused: true };
  } catch (error) {
    throw new UsageError(`${out} holds a ca.crt and ca.key that cannot be used (${(error as Error).message}); remove them or choose another --out`);
  }
}

function newAuthority(): Authority {
  const { publicKey, key } = rsaKeys();
  const cert = forge.pki.createCertificate();
  const name = [{ name: 'commonName', value: `Cairn lab CA ${randomBytes(4).toString('hex')}` }];
  fill(cert, publicKey, CA_DAYS, name, name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert, key, reused: false };
}

function serverCertificate(ca: Authority, hosts: readonly string[], days: number) {
  const { publicKey, key } = rsaKeys();
  const cert = forge.pki.createCertificate();
  fill(cert, publicKey, days, [{ name: 'commonName', value: hosts[0]! }], ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key };
}

function fill(cert: forge.pki.Certificate, publicKey: forge.pki.PublicKey, days: number, subject: forge.pki.CertificateField[], issuer: forge.pki.CertificateField[]) {
  cert.publicKey = publicKey;
  // A positive 127-bit serial, random as RFC 5280 asks of a CA.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  // A little in the past: a client whose clock is behind still accepts it.
  cert.validity.notBefore = new Date(Date.now() - 60 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
}

function rsaKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
  return { key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, text, { mode });
  await rename(temporary, path);
}

function instructions(out: string, request: SelfSignedRequest, reused: boolean): string {
  const [host] = request.hosts;
  const address = `${host!.includes(':') ? `[${host}]` : host}:${request.port}`;
  const ca = join(out, 'ca.crt');
  return `${[
    `${reused ? 'Reused the CA in' : 'Wrote a new CA to'} ${ca} (its key ${join(out, 'ca.key')} stays private), and a certificate for ${request.hosts.join(', ')} valid ${request.days} days:`,
    '',
    `  cairn serve --listen 0.0.0.0:${request.port} --tls-cert ${join(out, 'server.crt')} --tls-key ${join(out, 'server.key')}`,
    '',
    `Running this again with the same --out renews the certificate; a running server picks it up without a restart.`,
    `Trust the CA on every client machine (as root), for ${address}:`,
    '',
    `  docker:      mkdir -p /etc/docker/certs.d/${address} && cp ${ca} /etc/docker/certs.d/${address}/ca.crt`,
    `  podman, buildah, skopeo:`,
    `               mkdir -p /etc/containers/certs.d/${address} && cp ${ca} /etc/containers/certs.d/${address}/ca.crt`,
    `               (or per command: skopeo --cert-dir DIR, podman --cert-dir DIR, with ca.crt in DIR)`,
    `  containerd:  mkdir -p /etc/containerd/certs.d/${address} && cp ${ca} /etc/containerd/certs.d/${address}/ca.crt`,
    `               and /etc/containerd/certs.d/${address}/hosts.toml:`,
    `                 server = "https://${address}"`,
    `                 [host."https://${address}"]`,
    `                   capabilities = ["pull", "resolve", "push"]`,
    `                   ca = "/etc/containerd/certs.d/${address}/ca.crt"`,
    `               (containerd reads it with config_path = "/etc/containerd/certs.d" under its CRI registry`,
    `               settings; ctr with --hosts-dir /etc/containerd/certs.d)`,
  ].join('\n')}\n`;
}
