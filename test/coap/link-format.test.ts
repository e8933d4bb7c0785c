import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLinkFormat, link, parseLinkFormat } from '../../src/coap/link-format.js';

const plain = (r: ReturnType<typeof parseLinkFormat>) => {
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.links.map((l) => ({ uri: l.uri, attributes: { ...l.attributes } }));
};

describe('CoRE link format (RFC 6690)', () => {
  test('parses an LwM2M registration payload (RFC 6690 §2, LwM2M-TS-Core 1.2 §6.2.1)', () => {
    assert.deepEqual(plain(parseLinkFormat('</1/0>;ver=1.1,</3/0>,</>;rt="oma.lwm2m";ct=110')), [
      { uri: '/1/0', attributes: { ver: '1.1' } },
      { uri: '/3/0', attributes: {} },
      { uri: '/', attributes: { rt: 'oma.lwm2m', ct: '110' } },
    ]);
  });

  test('keeps commas and semicolons inside quoted values, and unescapes (RFC 6690 §2)', () => {
    assert.deepEqual(
      plain(parseLinkFormat('</a>;title="x, y; z";rt="say \\"hi\\"",</b>;ct="60 110"')),
      [
        { uri: '/a', attributes: { title: 'x, y; z', rt: 'say "hi"' } },
        { uri: '/b', attributes: { ct: '60 110' } },
      ],
    );
  });

  test('tolerates whitespace and line breaks around separators (RFC 6690 §2)', () => {
    assert.deepEqual(plain(parseLinkFormat(' </1/0> ; ver = 1.1 ,\r\n </3303/0>;obs ')), [
      { uri: '/1/0', attributes: { ver: '1.1' } },
      { uri: '/3303/0', attributes: { obs: true } },
    ]);
  });

  test('takes an empty document as an empty list (RFC 6690 §2)', () => {
    assert.deepEqual(plain(parseLinkFormat('')), []);
  });

  const bad = [
    ['missing <', '/1/0'],
    ['unterminated <', '</1/0'],
    ['unterminated quoted string', '</1>;rt="abc'],
    ['empty parameter name', '</1>;=3'],
    ['empty value', '</1>;ver=,</2>'],
    ['garbage after a link', '</1> x'],
    ['trailing comma', '</1>,'],
  ];
  for (const [name, input] of bad) {
    test(`returns an error value, not an exception, for ${name} (RFC 6690 §2)`, () => {
      const r = parseLinkFormat(input!);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.code, 'COAP_ERR_LINK_FORMAT');
        assert.equal(typeof r.error.offset, 'number');
      }
    });
  }

  test('bounds the number of links it accepts', () => {
    const r = parseLinkFormat(Array(20).fill('</1>').join(','), { maxLinks: 10 });
    assert.equal(r.ok, false);
  });

  test('treats __proto__ as a plain parameter name', () => {
    const r = parseLinkFormat('</1>;__proto__=x');
    assert.ok(r.ok);
    const name = ['__', 'proto', '__'].join('');
    assert.equal(Object.getOwnPropertyDescriptor(r.links[0]!.attributes, name)?.value, 'x');
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('generates link format, quoting rt and values that need it (RFC 6690 §2)', () => {
    const text = formatLinkFormat([
      link('/', { rt: 'oma.lwm2m', ct: 110 }),
      link('/1/0', { ver: '1.1' }),
      link('/3/0'),
      link('/5', { title: 'a "b", c', obs: true, gone: undefined }),
    ]);
    assert.equal(
      text,
      '</>;rt="oma.lwm2m";ct=110,</1/0>;ver=1.1,</3/0>,</5>;title="a \\"b\\", c";obs',
    );
    assert.deepEqual(plain(parseLinkFormat(text))[3], {
      uri: '/5',
      attributes: { title: 'a "b", c', obs: true },
    });
  });
});
