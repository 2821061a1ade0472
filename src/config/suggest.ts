/**
 * "Did you mean …?" for misspelt names (config keys, flags, commands): the known name at the
 * smallest edit distance, when it is close enough to be a plausible typo rather than another word.
 */
import { distance } from 'fastest-levenshtein';

/** The closest of `known` to `name`, or undefined when none is within a third of its length (at least 2 edits). */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const budget = Math.max(2, Math.floor(name.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d <= budget && (!best || d < best.distance)) best = { name: candidate, distance: d };
  }
  return best?.name;
}

/** ` (did you mean "x"?)`, or '' when nothing is close. `quote` formats the suggestion. */
export function didYouMean(name: string, known: Iterable<string>, quote = (s: string) => `"${s}"`): string {
  const closest = closestName(name, known);
  return closest === undefined ? '' : ` (did you mean ${quote(closest)}?)`;
}
