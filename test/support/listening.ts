import { readFileSync } from 'node:fs';

/** TCP state LISTEN in /proc/net/tcp{,6}. */
const LISTEN = '0A';

/**
 * The local addresses on which something on this machine listens on TCP `port`, read from the
 * kernel's socket tables (what `ss -ltn` shows): `127.0.0.1`, `0.0.0.0`, `::`, `::1`, ...
 */
export function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const [file, decode] of [
    ['/proc/net/tcp', ipv4],
    ['/proc/net/tcp6', ipv6],
  ] as const) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, portHex] = (fields[1] ?? '').split(':');
      if (fields[3] !== LISTEN || address === undefined || portHex === undefined) continue;
      if (parseInt(portHex, 16) === port) found.push(decode(address));
    }
  }
  return found;
}

/** /proc/net/tcp writes an IPv4 address as one little-endian 32-bit hex word. */
function ipv4(hex: string): string {
  const bytes = (hex.match(/../g) ?? []).map((pair) => parseInt(pair, 16));
  return bytes.reverse().join('.');
}

/** Four little-endian 32-bit words; written back in the usual compressed form. */
function ipv6(hex: string): string {
  const words = (hex.match(/.{8}/g) ?? []).map((word) => (word.match(/../g) ?? []).reverse().join(''));
  const groups = words.join('').match(/.{4}/g) ?? [];
  const text = groups.map((group) => parseInt(group, 16).toString(16)).join(':');
  const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(text);
  if (mapped) {
    const value = (parseInt(mapped[1] as string, 16) << 16) | parseInt(mapped[2] as string, 16);
    return `::ffff:${[24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.')}`;
  }
  return text.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:::+/, '::');
}
