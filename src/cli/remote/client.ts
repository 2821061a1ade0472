/**
 * The admin CLI's HTTP client: the token endpoint for logging in, then the admin API under
 * /api/v1 with a short-lived Bearer token obtained from the stored refresh token. Node's own
 * fetch; nothing of the server is loaded. Every failure becomes one RemoteError line: the
 * server's own `error.message` when it answered with the API's error shape.
 */
import { RemoteError } from './errors.js';
import type { StoredLogin } from './credentials.js';

interface TokenAnswer {
  access_token?: string;
  refresh_token?: string;
  error?: string;
  error_description?: string;
  errors?: Array<{ message?: string }>;
}

/** The server's base URL from what was typed: http(s) only, no path, query or credentials. */
export function serverUrl(typed: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(typed) ? typed : `https://${typed}`);
  } catch {
    throw new RemoteError(`"${typed}" is not a URL like https://registry.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RemoteError(`"${typed}": only http and https URLs are served`);
  if (url.username || url.password) throw new RemoteError('put no credentials in the URL: use --username and --password-stdin');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new RemoteError(`"${typed}": give the server's address only, without a path`);
  return url.origin;
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new RemoteError(`cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

async function tokenRequest(base: string, form: Record<string, string>): Promise<TokenAnswer> {
  const response = await send(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const answer = (await response.json().catch(() => ({}))) as TokenAnswer;
  if (response.ok && answer.access_token) return answer;
  const reason = answer.error_description ?? answer.errors?.[0]?.message ?? `HTTP ${response.status}`;
  throw new RemoteError(`${base} refused the login: ${reason}`);
}

/** Logs in with a password; returns the refresh token to store (the password is not kept). */
export async function passwordLogin(base: string, username: string, password: string): Promise<string> {
  const answer = await tokenRequest(base, { grant_type: 'password', username, password, client_id: 'cairn-cli' });
  if (!answer.refresh_token) throw new RemoteError(`${base} issued no refresh token`);
  return answer.refresh_token;
}

export class ApiClient {
  private constructor(
    readonly base: string,
    private readonly accessToken: string,
  ) {}

  /** A client for the stored login: one token request for a fresh access token. */
  static async connect(login: StoredLogin): Promise<ApiClient> {
    const answer = await tokenRequest(login.url, { grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: 'cairn-cli' }).catch(
      (error: RemoteError) => {
        throw new RemoteError(`${error.message}; run cairn login ${login.url} again`);
      },
    );
    return new ApiClient(login.url, answer.access_token!);
  }

  /** Calls the admin API; `path` is under /api/v1 with every variable part already encoded. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await send(`${this.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed as T;
    const error = (parsed as { error?: { message?: string; code?: string } } | undefined)?.error;
    throw new RemoteError(error?.message ? `${error.message} (${error.code ?? response.status})` : `${method} ${path}: HTTP ${response.status}`);
  }
}
