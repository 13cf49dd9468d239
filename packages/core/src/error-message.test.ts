import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorMessage } from './error-message.js';

describe('errorMessage', () => {
  it("takes an Error's message, without its name or stack", () => {
    assert.equal(errorMessage(new TypeError('bad value')), 'bad value');
  });
  it('turns anything else thrown into a string', () => {
    assert.equal(errorMessage('plain text'), 'plain text');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
  });
});
