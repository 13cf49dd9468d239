import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { shardForTable } from './shard.js';

describe('shardForTable', () => {
  it('matches an independent FNV-1a for known keys (stable across versions)', () => {
    // `schema.table` → 32-bit FNV-1a over UTF-16 code units, from an independent Python
    // implementation (which gives the FNV authors' reference values FNV-1a("a") = 0xe40c292c
    // and FNV-1a("foobar") = 0xbf9cf968). With 2^32 shards the modulo is the hash itself.
    const vectors: [string, string, number][] = [
      ['foo', 'bar', 0xcb942ef4],
      ['public', 'orders', 0x81854963],
      ['public', 'café', 0x46c75673],
      ['sales', '😀', 0xdd931e56],
    ];
    for (const [schema, table, hash] of vectors) {
      assert.equal(shardForTable(schema, table, 2 ** 32), hash, `${schema}.${table}`);
      assert.equal(shardForTable(schema, table, 4), hash % 4);
      assert.equal(shardForTable(schema, table, 16), hash % 16);
    }
  });

  it('is deterministic', () => {
    for (let i = 0; i < 100; i++) {
      assert.equal(shardForTable('public', `t${i}`, 7), shardForTable('public', `t${i}`, 7));
    }
  });

  it('stays within range for every shard count', () => {
    for (let shards = 1; shards <= 64; shards++) {
      for (const [schema, table] of [
        ['public', 'orders'],
        ['a', 'b'],
        ['', ''],
        ['Sales Team', 'order.items'],
        ['s', '日本'],
      ]) {
        const shard = shardForTable(schema!, table!, shards);
        assert.ok(
          Number.isInteger(shard) && shard >= 0 && shard < shards,
          `${schema}.${table} on ${shards}: ${shard}`,
        );
      }
    }
  });

  it('puts everything on shard 0 with one shard (or a nonsensical count)', () => {
    assert.equal(shardForTable('public', 'orders', 1), 0);
    assert.equal(shardForTable('public', 'orders', 0), 0);
  });

  it('spreads 64 table names over 4 shards reasonably', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 64; i++) counts[shardForTable('public', `table_${i}`, 4)]!++;
    // 16 expected on each; a fair hash lands within 6..26 with overwhelming probability.
    for (const c of counts) assert.ok(c >= 6 && c <= 26, `counts ${counts.join(',')}`);
  });

  it('spreads realistic names over 4 shards too', () => {
    const names = [
      'users',
      'orders',
      'order_items',
      'products',
      'payments',
      'invoices',
      'customers',
      'addresses',
      'sessions',
      'events',
      'audit_log',
      'carts',
      'cart_items',
      'reviews',
      'categories',
      'inventory',
      'shipments',
      'refunds',
      'coupons',
      'subscriptions',
      'plans',
      'teams',
      'memberships',
      'invites',
      'notifications',
      'messages',
      'threads',
      'attachments',
      'tags',
      'taggings',
      'settings',
      'api_keys',
    ];
    const counts = [0, 0, 0, 0];
    for (const schema of ['public', 'billing'])
      for (const name of names) counts[shardForTable(schema, name, 4)]!++;
    for (const c of counts) assert.ok(c >= 6 && c <= 26, `counts ${counts.join(',')}`);
  });

  it('tells schema and table apart only through the joined key', () => {
    // Documented behaviour: the key is `schema.table`, so these two share a key and a shard.
    assert.equal(shardForTable('a.b', 'c', 2 ** 32), shardForTable('a', 'b.c', 2 ** 32));
    assert.notEqual(shardForTable('public', 'orders', 2 ** 32), shardForTable('public', 'Orders', 2 ** 32));
  });
});
