import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * The address with only its first `bits4` (IPv4) or `bits6` (IPv6) bits kept;
 * undefined if the string is not an address. IPv4-mapped IPv6 addresses
 * (::ffff:203.0.113.77, what a dual-stack server reports for IPv4 clients) are
 * masked and returned as IPv4, so one client is stored the same way on every
 * stack. IPv6 zone ids are dropped.
 */
export function maskIp(text: string, bits4: number, bits6: number): string | undefined {
  // node:net screens first: it is fast, and refuses the octal, hex and short
  // IPv4 forms ipaddr.js would accept ("0x7f.1"), which no client sends.
  const family = isIP(text);
  if (family === 0) return undefined;
  if (family === 4) return maskV4(ipaddr.IPv4.parse(text).toByteArray(), bits4);
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return maskV4(v6.toIPv4Address().toByteArray(), bits4);
  // ipaddr.js constructors take 16 bytes as well as 8 parts.
  return new ipaddr.IPv6(mask(v6.toByteArray(), bits6)).toRFC5952String();
}

const maskV4 = (bytes: number[], bits: number) => new ipaddr.IPv4(mask(bytes, bits)).toString();

function mask(bytes: number[], bits: number): number[] {
  for (let i = 0; i < bytes.length; i++) {
    const kept = Math.min(8, Math.max(0, bits - i * 8));
    bytes[i] = bytes[i]! & (0xff00 >> kept) & 0xff;
  }
  return bytes;
}
