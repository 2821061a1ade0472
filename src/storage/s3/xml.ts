/**
 * Just enough XML for S3's answers: they are flat, machine-written documents, and Cairn reads a
 * handful of elements from them (keys, ETags, upload ids, error codes). A full XML parser would
 * be a dependency for no gain; S3 never sends CDATA or attributes that matter here.
 */

/** The text of every `<tag>…</tag>` in document order, entities decoded. */
export function texts(xml: string, tag: string): string[] {
  const out: string[] = [];
  const pattern = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (const match of xml.matchAll(pattern)) out.push(decodeEntities(match[1]!));
  return out;
}

/** The first `<tag>` text, or undefined. */
export function text(xml: string, tag: string): string | undefined {
  return texts(xml, tag)[0];
}

/** The raw inner XML of every `<tag>…</tag>` block (e.g. each `<Contents>` of a listing). */
export function blocks(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...xml.matchAll(pattern)].map((m) => m[1]!);
}

export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decodeEntities(value: string): string {
  return value.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_, entity: string) => {
    switch (entity) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      case 'amp':
        return '&';
      default:
        return String.fromCodePoint(
          entity[1] === 'x' ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10),
        );
    }
  });
}
