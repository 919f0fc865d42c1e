import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTextMediaType, parseDataUrl } from './data-url.ts';

test('a data URL\'s media type, parameters and base64 data, parameters or not (RFC 2397)', () => {
  assert.deepEqual(parseDataUrl('data:image/png;base64,iVBORw0K'), { mediaType: 'image/png', parameters: {}, base64: 'iVBORw0K' });
  assert.deepEqual(parseDataUrl('data:Image/PNG;charset=utf-8;base64,iVBORw0K'), { mediaType: 'image/png', parameters: { charset: 'utf-8' }, base64: 'iVBORw0K' });
  assert.deepEqual(parseDataUrl('data:image/png;name=my%20photo.png;BASE64,iVBORw0K'), { mediaType: 'image/png', parameters: { name: 'my photo.png' }, base64: 'iVBORw0K' });
  // Whitespace and percent-escapes a URL may hold in its base64 are left out.
  assert.deepEqual(parseDataUrl('data:image/gif;base64,R0lGOD%2B hYQ%3D%3D\n'), { mediaType: 'image/gif', parameters: {}, base64: 'R0lGOD+hYQ==' });
});

test('data given without ;base64 is percent-decoded bytes, given back as base64; no media type is RFC 2397\'s text/plain;charset=US-ASCII', () => {
  assert.deepEqual(parseDataUrl('data:,Hello%2C%20World!'), { mediaType: 'text/plain', parameters: { charset: 'US-ASCII' }, base64: Buffer.from('Hello, World!').toString('base64') });
  assert.deepEqual(parseDataUrl('data:text/plain;charset=utf-8,caf%C3%A9'), { mediaType: 'text/plain', parameters: { charset: 'utf-8' }, base64: Buffer.from('café').toString('base64') });
  assert.equal(parseDataUrl('data:application/octet-stream,%FF%00')!.base64, Buffer.of(0xff, 0).toString('base64'));
  assert.deepEqual(parseDataUrl('data:;base64,SGk='), { mediaType: 'text/plain', parameters: { charset: 'US-ASCII' }, base64: 'SGk=' });
});

test('what is not a well-formed data URL is none', () => {
  for (const url of ['https://example.com/a.png', 'data:image/png;base64', 'data:image;base64,AAAA', 'data:image/png;charset;base64,AAAA', 'data:image/png;base64,AA*A', 'data:image/png;base64,AAAAA', 'data:text/plain,100%', 'data:text/plain,%G1']) {
    assert.equal(parseDataUrl(url), undefined, url);
  }
});

test('text media types: text/*, the application types of text files (JSON, XML, YAML, CSV, scripts), and the +json, +xml and +yaml suffixes; not binary ones', () => {
  for (const type of ['text/plain', 'text/csv', 'application/json', 'application/xml', 'application/x-yaml', 'application/yaml', 'application/javascript', 'application/x-sh', 'application/csv', 'application/toml', 'application/ld+json', 'application/atom+xml', 'application/openapi+yaml']) assert.ok(isTextMediaType(type), type);
  for (const type of ['application/pdf', 'application/octet-stream', 'application/zip', 'application/msword', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'image/png', 'application/jsonx']) assert.ok(!isTextMediaType(type), type);
});
