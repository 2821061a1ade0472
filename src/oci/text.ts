/**
 * Text a registry can keep. Manifests are JSON, and JSON can spell two things that are not text:
 * U+0000 (`\u0000`) and unpaired UTF-16 surrogates (`\ud800`). Neither can be stored as
 * PostgreSQL text or jsonb, nor served back in a listing as the client wrote it, and no field of
 * the image or distribution spec has a use for them. Everything else — any Unicode scalar value,
 * noncharacters, control characters, right-to-left marks — is text.
 */

// With the `u` flag a surrogate pair is one code point, so \p{Cs} matches only unpaired ones.
const NOT_TEXT = /[\u0000\p{Cs}]/u;

/** Why `value` is not storable text, or undefined when it is. */
export function textFault(value: string): string | undefined {
  const match = NOT_TEXT.exec(value);
  if (!match) return undefined;
  return match[0] === '\u0000' ? 'contains U+0000' : 'contains an unpaired UTF-16 surrogate';
}

export interface TextFaultLocation {
  /** Where in the document, e.g. `layers[0].annotations["org.example"]`. */
  readonly path: string;
  readonly fault: string;
}

/** The first string (object key or value) of a parsed JSON document that is not storable text. */
export function findTextFault(document: unknown): TextFaultLocation | undefined {
  // Iterative: a hostile document may nest deeper than the call stack goes.
  const pending: Array<[unknown, string]> = [[document, '']];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === 'string') {
      const fault = textFault(value);
      if (fault) return { path: path || '(document)', fault };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${path}[${i}]`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, member] of Object.entries(value).reverse()) {
        const memberPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}${path ? '.' : ''}${key}` : `${path}[${JSON.stringify(key)}]`;
        const fault = textFault(key);
        if (fault) return { path: memberPath, fault: `has a member name that ${fault}` };
        pending.push([member, memberPath]);
      }
    }
  }
  return undefined;
}
