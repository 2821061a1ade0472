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
 * Wraps `names` — a query selecting one column `name` in byte order, limited to `limit + 1`
 * rows — as a page of `limit` names. The extra row only says whether more follow: one index
 * range scan answers both, where a separate probe for "any name after the last" is planned
 * against a value unknown until run time (and was, as a sequential scan).
 */
export function namePageQuery(names: Expression<unknown>, limit: number): RawBuilder<NamePageRow> {
  return sql<NamePageRow>`
    WITH fetched AS (${names}),
    bounds AS (SELECT count(*) > ${limit}::int AS more, max(name) AS top FROM fetched),
    page AS (SELECT name FROM fetched, bounds WHERE NOT bounds.more OR fetched.name < bounds.top)
    SELECT coalesce((SELECT json_agg(name ORDER BY name) FROM page)::text, '[]') AS json,
           (SELECT max(name) FROM page) AS last,
           (SELECT more FROM bounds) AS more`;
}

export interface NamePageRow {
  json: string;
  last: string | null;
  more: boolean;
}

export function toNamePage(row: NamePageRow | undefined): NamePage {
  if (!row) throw new Error('a page query returned no row');
  return { json: row.json, more: row.more, ...(row.last === null ? {} : { last: row.last }) };
}
