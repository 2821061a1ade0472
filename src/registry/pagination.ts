/** `n`/`last` pagination shared by tag lists and the catalog. */
import { textFault } from '../oci/text.js';
import { PaginationInvalidError } from './errors.js';

/** Upper bound of one page, whatever `n` asks for: keeps one request's work bounded. */
export const MAX_PAGE_SIZE = 10_000;

export interface PageRequest {
  /** Entries wanted; undefined means "as many as one page holds". */
  readonly n?: number;
  readonly last?: string;
}

export interface Page {
  /** The page's entries as a JSON array of strings (built by the database, sent as is). */
  readonly json: string;
  /** Present when more entries follow: the `last` of the next page. */
  readonly next?: string;
}

/** What a store answers for one page (see src/metadata/stores/name-page.ts). */
export interface StoredPage {
  readonly json: string;
  readonly last?: string;
  readonly more: boolean;
}

export function parsePageRequest(n: string | undefined, last: string | undefined): PageRequest {
  // `last` is compared with stored names in the database, which only holds text.
  const lastFault = last === undefined ? undefined : textFault(last);
  if (lastFault) throw new PaginationInvalidError(`invalid last: it ${lastFault}`);
  if (n === undefined || n === '') return { last };
  if (!/^\d{1,9}$/.test(n)) throw new PaginationInvalidError(`invalid page size n="${n.slice(0, 20)}"`);
  return { n: Number(n), last };
}

/** Runs a query for one page of at most the size asked for (capped at MAX_PAGE_SIZE). */
export async function paginate(request: PageRequest, fetch: (limit: number, last?: string) => Promise<StoredPage>): Promise<Page> {
  const size = Math.min(request.n ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  if (size === 0) return { json: '[]' };
  const page = await fetch(size, request.last);
  return page.more && page.last !== undefined ? { json: page.json, next: page.last } : { json: page.json };
}
