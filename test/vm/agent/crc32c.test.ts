// CRC-32C as Cloud Storage reports it: the published check values, and the same value however the input is split.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Crc32c } from '../../../src/vm/agent/crc32c.js';
import { crc32c as bitwise } from '../../emulator/storage/crc32c.js';

describe('Crc32c', () => {
  it.each([
    ['the check value of "123456789"', Buffer.from('123456789'), 0xe3069283],
    // RFC 3720 (iSCSI), appendix B.4
    ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
    ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
    ['nothing', Buffer.alloc(0), 0],
  ])('%s', (_, data, expected) => {
    expect(new Crc32c().update(data).value()).toBe(expected);
  });

  it('writes the big-endian value in base64, as the JSON API does', () => {
    expect(new Crc32c().update(Buffer.from('123456789')).base64()).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
    expect(new Crc32c().base64()).toBe('AAAAAA==');
  });

  it('is the same value however the input is split, and the bitwise reference value', () => {
    for (const size of [1, 7, 8, 9, 63, 1000, 65_537]) {
      const data = randomBytes(size);
      const c = new Crc32c();
      for (let i = 0; i < size;) {
        const n = 1 + ((i * 7 + size) % 13);
        c.update(data.subarray(i, i + n));
        i += n;
      }
      expect(c.value()).toBe(bitwise(data));
      expect(new Crc32c().update(data).value()).toBe(bitwise(data));
    }
  });
});
