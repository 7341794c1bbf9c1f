import { isIP } from 'node:net';
import { z } from 'zod';

export const LOOPBACK_HOST = '127.0.0.1';
export const ALL_INTERFACES_HOST = '0.0.0.0';

/**
 * `LISTEN_HOST`: the address an app's HTTP (and WebSocket) server binds. Unset, it follows the
 * app's tokens (see {@link listenHost}); set, it is an IP address or `localhost`.
 */
export function listenHostVariable() {
  return z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()))
    .refine((value) => value === undefined || value === 'localhost' || isIP(value) !== 0, {
      message: 'must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or localhost',
    });
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Secure by default (CONTRACT.md §4): without its tokens an app listens on loopback only; with
 * them, on all interfaces unless `LISTEN_HOST` says otherwise. An app with no token at all (the
 * writers) stays on loopback unless `LISTEN_HOST` widens it.
 */
export function listenHost(configured: string | undefined, tokensSet: boolean): string {
  return configured ?? (tokensSet ? ALL_INTERFACES_HOST : LOOPBACK_HOST);
}
