/**
 * One page of names (tags, repositories) in byte order, built by the database as JSON text: a
 * page of 10,000 names is one row holding one string, not 10,000 rows each parsed into an object
 * and then serialised again. The names are read through an index on a C-collated column
 * (migrations/0011_listing_order.sql), so a page costs O(n + log N) wherever it falls.
 */
import { sql, type Expression, type RawBuilder } from 'kysely';

export interface NamePage {
  /** The page's names as a JSON array of strings, in byte order. */
  readonly json: string;
  /** The page's last name; undefined when the page is empty. */
  readonly last?: string;
  /** Whether any name follows `last` (the next page's query would find one). */
  readonly more: boolean;
}

/**
 * Wraps `names` — a query selecting one column `name` in byte order with its LIMIT — as a page.
 * `following` is an EXISTS query for names after the page: it may refer to `(SELECT last FROM
 * page_end)`, the page's last name, and should be an index probe (a name `>` that value).
 */
export function namePageQuery(names: Expression<unknown>, following: Expression<unknown>): RawBuilder<NamePageRow> {
  return sql<NamePageRow>`
    WITH page AS (${names}), page_end AS (SELECT max(name) AS last FROM page)
    SELECT coalesce((SELECT json_agg(name ORDER BY name) FROM page)::text, '[]') AS json,
           (SELECT last FROM page_end) AS last,
           EXISTS (${following}) AS more`;
}

/** The page's last name, for the `following` query of `namePageQuery`. */
export const PAGE_LAST = sql<string>`(SELECT last FROM page_end)`;

export interface NamePageRow {
  json: string;
  last: string | null;
  more: boolean;
}

export function toNamePage(row: NamePageRow | undefined): NamePage {
  if (!row) throw new Error('a page query returned no row');
  return { json: row.json, more: row.more, ...(row.last === null ? {} : { last: row.last }) };
}
