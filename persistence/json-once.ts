/**
 * A committed snapshot envelope is written twice, to Postgres and then to the cache: its JSON is
 * made once. Written values are immutable, so a text kept per object stays true (and goes with it).
 */
const texts = new WeakMap<object, string>();

/** `JSON.stringify(value)`, kept for the object: asked again, the same text without serialising. */
export function jsonOnce(value: object): string {
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}

/** The JSON kept for `value` by `jsonOnce`, if any (no serialising). */
export function keptText(value: object): string | undefined {
  return texts.get(value);
}

/**
 * `JSON.stringify(record)` of a plain record, the text of each object field taken from `jsonOnce`
 * when it has one (the cache entry of a commit reuses its envelope's text from the batch).
 */
export function jsonOf(record: object): string {
  let out = '';
  for (const [key, value] of Object.entries(record)) {
    const text: string | undefined =
      value !== null && typeof value === 'object'
        ? (texts.get(value) ?? JSON.stringify(value))
        : JSON.stringify(value);
    // As JSON.stringify does: a field whose value has no JSON (undefined, a function) is left out.
    if (text === undefined) continue;
    out += `${out ? ',' : ''}${JSON.stringify(key)}:${text}`;
  }
  return `{${out}}`;
}
