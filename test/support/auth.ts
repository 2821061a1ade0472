/** Helpers for tests under authentication: Basic headers, tokens, admin API calls. */
import assert from 'node:assert/strict';
import { http, type TestResponse } from './http.js';

export const ADMIN_PASSWORD = 'admin-password-for-tests';

export function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export async function tokenFor(base: string, scopes: string[], credentials?: Record<string, string>): Promise<string> {
  const query = new URLSearchParams([['service', 'cairn'], ...scopes.map((s) => ['scope', s] as [string, string])]);
  const response = await http('GET', `${base}/token?${query}`, { headers: credentials });
  assert.equal(response.status, 200, response.text());
  return response.json().token;
}

/** The `access` claim of a JWT (no verification: the server is what is under test). */
export function accessClaim(token: string): Array<{ type: string; name: string; actions: string[] }> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).access;
}

export async function admin(base: string, method: string, path: string, body?: unknown): Promise<TestResponse> {
  return http(method, `${base}/api/v1${path}`, {
    headers: { ...basic('admin', ADMIN_PASSWORD), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its parameters. */
export function parseChallenge(header: string | undefined): Record<string, string> {
  if (!header?.startsWith('Bearer ')) assert.fail(`not a Bearer challenge: ${header}`);
  return Object.fromEntries([...header.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}
