import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { cidrsOverlap, formatCidr, formatIpv4, tryParseCidr, tryParseIpv4 } from './ip.js';
import {
  DEFAULT_ADDRESS_POOLS,
  allocateAddress,
  checkStaticAddress,
  chooseSubnet,
  parseAddressPool,
  planDefaultBridge,
  planSubnet,
  subnetFromRecord,
  subnetToRecord,
} from './ipam.js';

const cidr = (t: string) => tryParseCidr(t, false)!;
const ip = (t: string) => tryParseIpv4(t)!;

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof EngineError && err.kind === kind && re.test(err.message));
}

test('IPv4 parsing and prefixes', () => {
  assert.equal(formatIpv4(ip('10.231.0.1')), '10.231.0.1');
  assert.equal(ip('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.0.0', '10.0.0.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5', '']) assert.equal(tryParseIpv4(bad), undefined, bad);
  assert.equal(tryParseCidr('10.1.2.3/24'), undefined, 'host bits refused when strict');
  assert.equal(formatCidr(tryParseCidr('10.1.2.3/24', false)!), '10.1.2.0/24');
  assert.equal(tryParseCidr('10.1.2.0/33'), undefined);
  assert.ok(cidrsOverlap(cidr('10.0.0.0/8'), cidr('10.5.0.0/16')));
  assert.ok(!cidrsOverlap(cidr('10.0.0.0/16'), cidr('10.1.0.0/16')));
});

test('default-address-pool: parsed like dockerd; bad ones are refused', () => {
  const p = parseAddressPool('base=10.10.0.0/16,size=24');
  assert.equal(formatCidr(p.base), '10.10.0.0/16');
  assert.equal(p.size, 24);
  rejects(() => parseAddressPool('base=10.10.0.0/16'), 'invalid', /size must be between/);
  rejects(() => parseAddressPool('base=10.10.0.0/16,size=8'), 'invalid', /size must be between/);
  rejects(() => parseAddressPool('base=nope,size=24'), 'invalid', /not an IPv4 CIDR/);
});

test('chooseSubnet takes the first pool subnet that overlaps nothing taken', () => {
  assert.equal(formatCidr(chooseSubnet(DEFAULT_ADDRESS_POOLS, [])!), '172.17.0.0/16');
  assert.equal(formatCidr(chooseSubnet(DEFAULT_ADDRESS_POOLS, [cidr('172.17.5.0/24')])!), '172.18.0.0/16');
  const pool = [parseAddressPool('base=10.231.0.0/22,size=24')];
  const taken = [cidr('10.231.0.0/24'), cidr('10.231.1.0/24')];
  assert.equal(formatCidr(chooseSubnet(pool, taken)!), '10.231.2.0/24');
  assert.equal(chooseSubnet(pool, [cidr('10.231.0.0/22')]), undefined, 'exhausted');
});

test('planSubnet: gateway defaults to the first address; ip-range and aux addresses are checked', () => {
  const p = planSubnet({ Subnet: '10.231.7.0/24', IPRange: '10.231.7.128/25', AuxiliaryAddresses: { r: '10.231.7.200' } }, { pools: [], taken: [] });
  assert.equal(formatIpv4(p.gateway), '10.231.7.1');
  assert.equal(formatCidr(p.ipRange!), '10.231.7.128/25');
  assert.ok(p.userConfigured);
  assert.deepEqual(subnetToRecord(p), { subnet: '10.231.7.0/24', gateway: '10.231.7.1', ipRange: '10.231.7.128/25', auxAddresses: { r: '10.231.7.200' }, userConfigured: true });
  assert.deepEqual(subnetFromRecord(subnetToRecord(p)), p);
  const auto = planSubnet({}, { pools: DEFAULT_ADDRESS_POOLS, taken: [cidr('172.17.0.0/16')] });
  assert.equal(formatCidr(auto.subnet), '172.18.0.0/16');
  assert.equal(auto.userConfigured, false);
});

test('planSubnet refuses what moby refuses, all problems in one message', () => {
  rejects(() => planSubnet({ Subnet: 'bogus' }, { pools: [], taken: [] }), 'invalid', /invalid subnet bogus: invalid CIDR block notation/);
  rejects(() => planSubnet({ Subnet: '10.231.7.5/24' }, { pools: [], taken: [] }), 'invalid', /invalid subnet 10.231.7.5\/24: it should be 10.231.7.0\/24/);
  rejects(
    () => planSubnet({ Subnet: '10.231.7.0/24', Gateway: '10.9.9.9', IPRange: '10.231.0.0/16' }, { pools: [], taken: [] }),
    'invalid',
    /CIDR block is bigger than its parent subnet[\s\S]*invalid gateway 10.9.9.9: parent subnet 10.231.7.0\/24 doesn't contain this address/,
  );
  rejects(() => planSubnet({ Gateway: '10.0.0.1' }, { pools: [], taken: [] }), 'invalid', /without a subnet/);
  rejects(() => planSubnet({ Subnet: 'fd00::/64' }, { pools: [], taken: [] }), 'not-implemented', /IPv6/);
  rejects(() => planSubnet({}, { pools: [parseAddressPool('base=10.231.0.0/24,size=24')], taken: [cidr('10.0.0.0/8')] }), 'conflict', /fully subnetted/);
});

test('default bridge: --bip sets gateway and prefix; --fixed-cidr must lie inside', () => {
  const b = planDefaultBridge({ bip: '10.231.9.1/24', fixedCidr: '10.231.9.128/25', pools: [], taken: [] });
  assert.equal(formatCidr(b.subnet), '10.231.9.0/24');
  assert.equal(formatIpv4(b.gateway), '10.231.9.1');
  assert.equal(formatCidr(b.ipRange!), '10.231.9.128/25');
  assert.equal(b.userConfigured, false);
  rejects(() => planDefaultBridge({ bip: '10.231.9.1/24', fixedCidr: '10.232.0.0/24', pools: [], taken: [] }), 'invalid', /not within the bridge subnet/);
  rejects(() => planDefaultBridge({ bip: '10.231.9.0/24', pools: [], taken: [] }), 'invalid', /network or broadcast/);
  rejects(() => planDefaultBridge({ bip: 'x', pools: [], taken: [] }), 'invalid', /invalid bip/);
  assert.equal(formatCidr(planDefaultBridge({ pools: DEFAULT_ADDRESS_POOLS, taken: [] }).subnet), '172.17.0.0/16');
});

test('allocateAddress hands out addresses serially, skipping reserved and used ones, and wraps', () => {
  const p = planSubnet({ Subnet: '10.231.8.0/29', AuxiliaryAddresses: { x: '10.231.8.3' } }, { pools: [], taken: [] });
  const used = new Set<number>();
  const got: string[] = [];
  let cursor: number | undefined;
  for (;;) {
    const a = allocateAddress(p, { used, cursor });
    if (a === undefined) break;
    used.add(a);
    cursor = a;
    got.push(formatIpv4(a));
  }
  // .0 network, .1 gateway, .3 auxiliary, .7 broadcast are never handed out.
  assert.deepEqual(got, ['10.231.8.2', '10.231.8.4', '10.231.8.5', '10.231.8.6']);
  used.delete(ip('10.231.8.2'));
  used.delete(ip('10.231.8.5'));
  assert.equal(formatIpv4(allocateAddress(p, { used, cursor: ip('10.231.8.2') })!), '10.231.8.5', 'next after the cursor, not the lowest free');
  const ranged = planSubnet({ Subnet: '10.231.8.0/24', IPRange: '10.231.8.64/30' }, { pools: [], taken: [] });
  assert.equal(formatIpv4(allocateAddress(ranged, { used: new Set() })!), '10.231.8.64');
});

test('checkStaticAddress: inside a user subnet and free, else Docker\'s errors', () => {
  const p = planSubnet({ Subnet: '10.231.8.0/24', IPRange: '10.231.8.128/25' }, { pools: [], taken: [] });
  assert.equal(formatIpv4(checkStaticAddress(p, { address: '10.231.8.10', used: new Set() })), '10.231.8.10', 'outside ip-range but inside the subnet is allowed');
  rejects(() => checkStaticAddress(p, { address: '10.231.8.10', used: new Set([ip('10.231.8.10')]) }), 'conflict', /Address already in use/);
  rejects(() => checkStaticAddress(p, { address: '10.231.8.1', used: new Set() }), 'conflict', /Address already in use/);
  rejects(() => checkStaticAddress(p, { address: '10.231.9.10', used: new Set() }), 'invalid', /no configured subnet/);
  rejects(() => checkStaticAddress(p, { address: 'nope', used: new Set() }), 'invalid', /invalid IPv4 address/);
  const auto = planSubnet({}, { pools: DEFAULT_ADDRESS_POOLS, taken: [] });
  rejects(() => checkStaticAddress(auto, { address: '172.17.0.9', used: new Set() }), 'invalid', /only when connecting to networks with user configured subnets/);
});
