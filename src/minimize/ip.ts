import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * The address with only its first `bits4` (IPv4) or `bits6` (IPv6) bits kept;
 * undefined if the string is not an address. IPv6 zone ids are dropped.
 *
 * An IPv6 address that carries a client's IPv4 address (see EMBEDDING) is
 * stored as that IPv4 address masked to `bits4`, in dotted form: the IPv4
 * address is what identifies the client, and masking the IPv6 form by
 * `bits6` would keep it whole where it sits high (6to4 keeps it in bits
 * 16–47). One client is then stored the same way whichever stack or
 * transition mechanism it came through, and nothing else of the IPv6 form
 * (subnet, interface id, relay, port) is kept.
 */
export function maskIp(text: string, bits4: number, bits6: number): string | undefined {
  // node:net screens first: it is fast, and refuses the octal, hex and short
  // IPv4 forms ipaddr.js would accept ("0x7f.1"), which no client sends.
  const family = isIP(text);
  if (family === 0) return undefined;
  if (family === 4) return maskV4(ipaddr.IPv4.parse(text).toByteArray(), bits4);
  const bytes = ipaddr.IPv6.parse(text).toByteArray();
  const embedded = embeddedIpv4(bytes);
  if (embedded) return maskV4(embedded, bits4);
  // The local-use NAT64 prefix lets each network choose where the IPv4 address
  // sits (anywhere after bit 48): keep no more than the prefix itself.
  const kept = startsWith(bytes, LOCAL_NAT64) ? Math.min(bits6, 48) : bits6;
  // ipaddr.js constructors take 16 bytes as well as 8 parts.
  return new ipaddr.IPv6(mask(bytes, kept)).toRFC5952String();
}

interface Embedding {
  /** The bytes an address of this form starts with. */
  prefix: number[];
  /** Where its IPv4 address is, as [first byte, end byte). */
  at: [number, number];
  /** XORed with each byte of the IPv4 address (Teredo stores it inverted). */
  xor: number;
}

const zeros = (n: number) => Array.from({ length: n }, () => 0);

/** The IPv6 forms that carry an IPv4 address of the client. */
const EMBEDDING: Embedding[] = [
  // IPv4-mapped ::ffff:a.b.c.d: what a dual-stack server reports for IPv4 clients.
  { prefix: [...zeros(10), 0xff, 0xff], at: [12, 16], xor: 0 },
  // IPv4-translated ::ffff:0:a.b.c.d (stateless IP/ICMP translation).
  { prefix: [...zeros(8), 0xff, 0xff, 0, 0], at: [12, 16], xor: 0 },
  // NAT64 well-known prefix 64:ff9b::/96.
  { prefix: [0x00, 0x64, 0xff, 0x9b, ...zeros(8)], at: [12, 16], xor: 0 },
  // 6to4 2002:a.b.c.d::/48.
  { prefix: [0x20, 0x02], at: [2, 6], xor: 0 },
  // Teredo 2001:0::/32: server, flags and port, then the client's public IPv4 address with every bit inverted.
  { prefix: [0x20, 0x01, 0x00, 0x00], at: [12, 16], xor: 0xff },
];

/** Local-use NAT64 prefix 64:ff9b:1::/48. */
const LOCAL_NAT64 = [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01];

function embeddedIpv4(bytes: number[]): number[] | undefined {
  for (const { prefix, at, xor } of EMBEDDING) {
    if (startsWith(bytes, prefix)) return bytes.slice(at[0], at[1]).map((b) => b ^ xor);
  }
  // IPv4-compatible ::a.b.c.d (deprecated, still parsed). :: and ::1 are the
  // unspecified and loopback addresses, not IPv4 ones: 0.0.0.0/8 is left out.
  if (startsWith(bytes, zeros(12)) && bytes[12] !== 0) return bytes.slice(12);
  return undefined;
}

const startsWith = (bytes: number[], prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

const maskV4 = (bytes: number[], bits: number) => new ipaddr.IPv4(mask(bytes, bits)).toString();

function mask(bytes: number[], bits: number): number[] {
  for (let i = 0; i < bytes.length; i++) {
    const kept = Math.min(8, Math.max(0, bits - i * 8));
    bytes[i] = bytes[i]! & (0xff00 >> kept) & 0xff;
  }
  return bytes;
}
