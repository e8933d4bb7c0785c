import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, verifyPassword } from '../../src/hub/password.js';

test('a password hash verifies the password and nothing else', async () => {
  const hash = await hashPassword('s3cret');
  assert.match(hash, /^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await verifyPassword('s3cret', hash), true);
  assert.equal(await verifyPassword('s3cret ', hash), false);
  assert.equal(await verifyPassword('', hash), false);
});

test('two hashes of one password differ by their salt', async () => {
  assert.notEqual(await hashPassword('same'), await hashPassword('same'));
});

test('a malformed or out-of-bounds stored hash never verifies', async () => {
  for (const stored of [
    '',
    'plain',
    'scrypt$15$8$1$AAAA',
    'bcrypt$1$2$3$4$5',
    'scrypt$40$8$1$AAAA$AAAA',
  ]) {
    assert.equal(await verifyPassword('x', stored), false, stored);
  }
});
