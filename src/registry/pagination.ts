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
  readonly items: string[];
  /** Present when more entries follow: the `last` of the next page. */
  readonly next?: string;
}

export function parsePageRequest(n: string | undefined, last: string | undefined): PageRequest {
  // `last` is compared with stored names in the database, which only holds text.
  const lastFault = last === undefined ? undefined : textFault(last);
  if (lastFault) throw new PaginationInvalidError(`invalid last: it ${lastFault}`);
  if (n === undefined || n === '') return { last };
  if (!/^\d{1,9}$/.test(n)) throw new PaginationInvalidError(`invalid page size n="${n.slice(0, 20)}"`);
  return { n: Number(n), last };
}

/** Runs a query for one page, fetching one extra entry to learn whether another page follows. */
export async function paginate(request: PageRequest, fetch: (limit: number, last?: string) => Promise<string[]>): Promise<Page> {
  const size = Math.min(request.n ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  if (size === 0) return { items: [] };
  const rows = await fetch(size + 1, request.last);
  if (rows.length <= size) return { items: rows };
  const items = rows.slice(0, size);
  return { items, next: items[items.length - 1] };
}
