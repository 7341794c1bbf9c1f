import { z } from 'zod';
import { isLoopbackHost, listenHost, listenHostVariable } from './listen-host';

describe('listenHost', () => {
  it('is loopback without tokens and all interfaces with them', () => {
    expect(listenHost(undefined, false)).toBe('127.0.0.1');
    expect(listenHost(undefined, true)).toBe('0.0.0.0');
  });

  it('follows LISTEN_HOST when set', () => {
    expect(listenHost('10.0.0.5', true)).toBe('10.0.0.5');
    expect(listenHost('0.0.0.0', false)).toBe('0.0.0.0');
  });

  it('tells loopback addresses apart', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('accepts IP addresses and localhost, treats blank as unset', () => {
    const schema = z.object({ LISTEN_HOST: listenHostVariable() });
    expect(schema.parse({ LISTEN_HOST: ' 0.0.0.0 ' }).LISTEN_HOST).toBe('0.0.0.0');
    expect(schema.parse({ LISTEN_HOST: '::' }).LISTEN_HOST).toBe('::');
    expect(schema.parse({ LISTEN_HOST: '' }).LISTEN_HOST).toBeUndefined();
    expect(schema.safeParse({ LISTEN_HOST: 'example.com' }).success).toBe(false);
    expect(schema.safeParse({ LISTEN_HOST: '0.0.0.0:80' }).success).toBe(false);
  });
});
