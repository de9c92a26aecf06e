import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { tokenSftMethod } from '../index';

describe('token-sft registration', () => {
  it("registers token-sft into the default registry with @peftjs/selective/register", async () => {
    expect(defaultRegistry.has('token-sft')).toBe(false);
    await import('../register');
    expect(defaultRegistry.get('token-sft')).toBe(tokenSftMethod);
  });
});
