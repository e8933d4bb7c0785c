/**
 * CoRE Link Format (RFC 6690): parse and generate lists such as
 * `</1/0>;ver=1.1,</3/0>,</>;rt="oma.lwm2m";ct=110`. Parsing never throws: a malformed list
 * comes back as an error value with its offset.
 */

export interface Link {
  /** The URI-Reference between `<` and `>`. */
  readonly uri: string;
  /**
   * Link parameters by name (first occurrence wins); `true` for a parameter without a value
   * (`;obs`). The object has no prototype, so names such as `__proto__` are plain keys.
   */
  readonly attributes: Readonly<Record<string, string | true>>;
}

export class LinkFormatError extends Error {
  readonly code = 'COAP_ERR_LINK_FORMAT';
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'LinkFormatError';
    this.offset = offset;
  }
}

export type LinkFormatResult =
  | { readonly ok: true; readonly links: Link[] }
  | { readonly ok: false; readonly error: LinkFormatError };

export interface LinkFormatLimits {
  /** Most links accepted, default 10,000. */
  readonly maxLinks?: number;
  /** Most parameters on one link, default 64. */
  readonly maxParams?: number;
}

const isWs = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
// RFC 6690 §2 parmname (plus `*` for RFC 8187 ext-value names such as `title*`).
const PARMNAME = /[A-Za-z0-9!#$&+\-.^_`|~*]/;

/** Parses a link-format document (RFC 6690 §2), tolerant of whitespace around separators. */
export function parseLinkFormat(
  input: string | Buffer,
  limits: LinkFormatLimits = {},
): LinkFormatResult {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const maxLinks = limits.maxLinks ?? 10_000;
  const maxParams = limits.maxParams ?? 64;
  const links: Link[] = [];
  let i = 0;
  const fail = (message: string): LinkFormatResult => ({
    ok: false,
    error: new LinkFormatError(message, i),
  });
  const skipWs = () => {
    while (isWs(text[i])) i++;
  };
  skipWs();
  // RFC 6690 §2: the list may be empty.
  if (i >= text.length) return { ok: true, links };
  for (;;) {
    skipWs();
    // RFC 6690 §2: link-value = "<" URI-Reference ">" *( ";" link-param )
    if (text[i] !== '<') return fail("expected '<'");
    const close = text.indexOf('>', i + 1);
    if (close < 0) return fail("unterminated '<'");
    const uri = text.slice(i + 1, close);
    if (/[\s<"]/.test(uri)) return fail('invalid character in URI-Reference');
    i = close + 1;
    const attributes: Record<string, string | true> = Object.create(null);
    let params = 0;
    for (;;) {
      skipWs();
      if (text[i] !== ';') break;
      i++;
      skipWs();
      const start = i;
      while (i < text.length && PARMNAME.test(text[i]!)) i++;
      if (i === start) return fail('expected a parameter name');
      const name = text.slice(start, i);
      if (++params > maxParams) return fail('too many parameters');
      skipWs();
      let value: string | true = true;
      if (text[i] === '=') {
        i++;
        skipWs();
        if (text[i] === '"') {
          // RFC 6690 §2 / RFC 2616 quoted-string: commas and semicolons inside are data.
          i++;
          let v = '';
          for (;;) {
            const c = text[i];
            if (c === undefined) return fail('unterminated quoted string');
            if (c === '"') {
              i++;
              break;
            }
            if (c === '\\') {
              const next = text[i + 1];
              if (next === undefined) return fail('unterminated escape');
              v += next;
              i += 2;
              continue;
            }
            v += c;
            i++;
          }
          value = v;
        } else {
          const vs = i;
          // RFC 6690 §2 ptoken: no separators, quotes or whitespace.
          while (i < text.length && !/[,;"\s\\]/.test(text[i]!)) i++;
          if (i === vs) return fail(`empty value of '${name}'`);
          value = text.slice(vs, i);
        }
      }
      if (!(name in attributes)) attributes[name] = value;
    }
    links.push({ uri, attributes });
    if (links.length > maxLinks) return fail('too many links');
    skipWs();
    if (i >= text.length) return { ok: true, links };
    if (text[i] !== ',') return fail("expected ',' or ';'");
    i++;
  }
}

// RFC 6690 §2 / §3: these parameters are quoted strings whatever their value.
const ALWAYS_QUOTED = new Set(['rt', 'if', 'title', 'anchor']);
const PTOKEN = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]+$/;

/** Generates a link-format document (RFC 6690 §2), quoting values where needed. */
export function formatLinkFormat(links: readonly Link[]): string {
  return links
    .map((link) => {
      let out = `<${link.uri}>`;
      for (const [name, value] of Object.entries(link.attributes)) {
        if (value === true) {
          out += `;${name}`;
        } else if (ALWAYS_QUOTED.has(name) || !PTOKEN.test(value)) {
          out += `;${name}="${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
        } else {
          out += `;${name}=${value}`;
        }
      }
      return out;
    })
    .join(',');
}

/** A link with attributes given as a plain object (values of `undefined` are left out). */
export function link(
  uri: string,
  attributes: Record<string, string | number | true | undefined> = {},
): Link {
  const attrs: Record<string, string | true> = Object.create(null);
  for (const [k, v] of Object.entries(attributes)) {
    if (v !== undefined) attrs[k] = v === true ? true : String(v);
  }
  return { uri, attributes: attrs };
}
