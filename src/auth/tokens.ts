/**
 * Bearer tokens as the Docker registry token spec describes them: JWTs signed by Cairn (ES256),
 * carrying `access` claims, checked on every request for signature, expiry, issuer, audience
 * (the service name) and scope. The signing key is created at first start in the data directory
 * (mode 0600) or read from a configured file, so replicas can share one.
 */
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { AuthError } from './errors.js';
import type { Access } from './scopes.js';

export interface TokenSettings {
  readonly issuer: string;
  readonly service: string;
  readonly lifetimeSeconds: number;
  readonly refreshLifetimeSeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: string;
}

export interface VerifiedToken {
  readonly subject: string | undefined;
  readonly access: Access[];
}

const ALGORITHM = 'ES256';

export class TokenAuthority {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly settings: TokenSettings,
  ) {}

  /** Loads the key at `keyFile`, creating it when `create` is allowed and it does not exist. */
  static async open(keyFile: string, settings: TokenSettings, create: boolean): Promise<TokenAuthority> {
    let pem: string;
    try {
      pem = await readFile(keyFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw error;
      const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      pem = await exportPKCS8(privateKey);
      await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
      await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        // Another process created it first: use theirs.
        if (e.code !== 'EEXIST') throw e;
        pem = await readFile(keyFile, 'utf8');
      });
    }
    const privateKey = createPrivateKey(pem);
    return new TokenAuthority(privateKey, createPublicKey(privateKey), settings);
  }

  get service(): string {
    return this.settings.service;
  }

  async issue(subject: string | undefined, access: Access[], now = new Date()): Promise<IssuedToken> {
    const iat = Math.floor(now.getTime() / 1000);
    const jwt = new SignJWT({ access })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.service)
      .setIssuedAt(iat)
      .setNotBefore(iat - 5)
      .setExpirationTime(iat + this.settings.lifetimeSeconds)
      .setJti(randomUUID());
    if (subject) jwt.setSubject(subject);
    return { token: await jwt.sign(this.privateKey), expiresIn: this.settings.lifetimeSeconds, issuedAt: now.toISOString() };
  }

  async verify(token: string): Promise<VerifiedToken> {
    const payload = await this.check(token);
    if (payload.typ === 'refresh') throw new AuthError('token_invalid', 'a refresh token cannot be used as an access token');
    return { subject: payload.sub, access: readAccess(payload.access) };
  }

  /** A long-lived token for the OAuth2 refresh_token grant (containerd, BuildKit). */
  async issueRefresh(subject: string, now = new Date()): Promise<string> {
    const iat = Math.floor(now.getTime() / 1000);
    return new SignJWT({ typ: 'refresh' })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.service)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.settings.refreshLifetimeSeconds)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }

  async verifyRefresh(token: string): Promise<string> {
    const payload = await this.check(token);
    if (payload.typ !== 'refresh' || !payload.sub) throw new AuthError('token_invalid', 'not a refresh token');
    return payload.sub;
  }

  private async check(token: string) {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        issuer: this.settings.issuer,
        audience: this.settings.service,
        algorithms: [ALGORITHM],
      });
      return payload;
    } catch (error) {
      throw new AuthError('token_invalid', `invalid token: ${(error as Error).message}`);
    }
  }
}

function readAccess(value: unknown): Access[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry: unknown) => {
    const e = entry as Partial<Access>;
    const ok = typeof e.type === 'string' && typeof e.name === 'string' && Array.isArray(e.actions);
    return ok ? [{ type: e.type!, name: e.name!, actions: e.actions!.filter((a): a is string => typeof a === 'string') }] : [];
  });
}
