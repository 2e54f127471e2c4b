import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNotif, encodeNotif, encodeResp, decodeResp, denyResp, continueResp, parseScmRights, encodeScmRights, cmsgSpace, encodeMsghdr, decodeMsghdrResult, tryParseProcessState, isSafeContainerId, SECCOMP_NOTIF_SIZE, SECCOMP_NOTIF_RESP_SIZE } from './structs.js';

test('decodeNotif() reads struct seccomp_notif at the kernel offsets', () => {
  const buf = Buffer.alloc(SECCOMP_NOTIF_SIZE);
  buf.writeBigUInt64LE(0x1122334455667788n, 0); // id
  buf.writeUInt32LE(4242, 8); // pid
  buf.writeUInt32LE(0, 12); // flags
  buf.writeInt32LE(250, 16); // data.nr (keyctl)
  buf.writeUInt32LE(0xc000003e, 20); // data.arch
  buf.writeBigUInt64LE(0x432539n, 24); // data.instruction_pointer
  buf.writeBigUInt64LE(0xfffffffffffffffdn, 40); // args[1]
  buf.writeBigUInt64LE(7n, 72); // args[5]
  const n = decodeNotif(buf);
  assert.equal(n.id, 0x1122334455667788n);
  assert.equal(n.pid, 4242);
  assert.equal(n.nr, 250);
  assert.equal(n.arch, 0xc000003e);
  assert.equal(n.ip, 0x432539n);
  assert.deepEqual(n.args, [0n, 0xfffffffffffffffdn, 0n, 0n, 0n, 7n]);
  assert.deepEqual(decodeNotif(encodeNotif(n)), n);
  assert.throws(() => decodeNotif(Buffer.alloc(64)), RangeError);
});

test('x32 numbers stay unsigned with bit 30', () => {
  const n = decodeNotif(encodeNotif({ id: 1n, pid: 1, flags: 0, nr: 0x40000027, arch: 0xc000003e, ip: 0n, args: [] }));
  assert.equal(n.nr, 0x40000027);
});

test('encodeResp() writes struct seccomp_notif_resp; denyResp negates and clamps the errno', () => {
  const b = encodeResp(denyResp(9n, 13));
  assert.equal(b.length, SECCOMP_NOTIF_RESP_SIZE);
  assert.equal(b.readBigUInt64LE(0), 9n);
  assert.equal(b.readBigInt64LE(8), 0n);
  assert.equal(b.readInt32LE(16), -13);
  assert.equal(b.readUInt32LE(20), 0);
  assert.equal(decodeResp(encodeResp(denyResp(1n, 99999))).error, -4095, 'MAX_ERRNO');
  assert.equal(decodeResp(encodeResp(denyResp(1n, 0))).error, -1, 'never 0: that would be success');
  assert.deepEqual(decodeResp(encodeResp(continueResp(5n))), { id: 5n, val: 0n, error: 0, flags: 1 });
});

test('parseScmRights() walks control messages and skips other types', () => {
  assert.equal(cmsgSpace(1), 24); // CMSG_SPACE(4) on x86_64
  assert.deepEqual(parseScmRights(encodeScmRights([7])), [7]);
  assert.deepEqual(parseScmRights(encodeScmRights([3, 4, 5])), [3, 4, 5]);
  const creds = Buffer.alloc(32); // SCM_CREDENTIALS (type 2) first
  creds.writeBigUInt64LE(28n, 0);
  creds.writeInt32LE(1, 8);
  creds.writeInt32LE(2, 12);
  assert.deepEqual(parseScmRights(Buffer.concat([creds, encodeScmRights([9])])), [9]);
  assert.deepEqual(parseScmRights(Buffer.alloc(0)), []);
  const bad = encodeScmRights([7]);
  bad.writeBigUInt64LE(999n, 0); // cmsg_len beyond the buffer
  assert.deepEqual(parseScmRights(bad), []);
});

test('encodeMsghdr() lays out struct msghdr for recvmsg', () => {
  const { iov, msg } = encodeMsghdr({ dataAddr: 0x1000n, dataLen: 64, controlAddr: 0x2000n, controlLen: 48, iovAddr: 0x3000n });
  assert.equal(iov.readBigUInt64LE(0), 0x1000n);
  assert.equal(iov.readBigUInt64LE(8), 64n);
  assert.equal(msg.readBigUInt64LE(16), 0x3000n);
  assert.equal(msg.readBigUInt64LE(24), 1n);
  assert.equal(msg.readBigUInt64LE(32), 0x2000n);
  msg.writeBigUInt64LE(24n, 40);
  msg.writeInt32LE(8, 48);
  assert.deepEqual(decodeMsghdrResult(msg), { controlLen: 24, flags: 8 });
});

// What runc 1.1.5 sent on this machine (captured by the listener), trimmed.
const RUNC_STATE = JSON.stringify({
  ociVersion: '1.0.2-dev',
  fds: ['seccompFd'],
  pid: 31822,
  metadata: '',
  state: { ociVersion: '1.0.2-dev', id: 'moat-sc-2c1b343b6727', status: 'creating', pid: 31822, bundle: '/tmp/moat-sc-x', annotations: { a: 'b' } },
});

test('tryParseProcessState() accepts runc\'s message and rejects the rest', () => {
  const s = tryParseProcessState(RUNC_STATE);
  assert.equal(s?.state.id, 'moat-sc-2c1b343b6727');
  assert.equal(s?.seccompFdIndex, 0);
  assert.equal(s?.pid, 31822);
  assert.equal(tryParseProcessState('{"ociVersion":"1"'), undefined, 'partial JSON');
  assert.equal(tryParseProcessState(RUNC_STATE.replace('seccompFd', 'other')), undefined, 'no seccompFd');
  assert.equal(tryParseProcessState(RUNC_STATE.replace('moat-sc-2c1b343b6727', '../../etc/x')), undefined, 'unsafe id');
  assert.equal(tryParseProcessState('[]'), undefined);
});

test('isSafeContainerId() allows runc ids only', () => {
  for (const id of ['abc', 'a'.repeat(64), 'web-1_x.y+z']) assert.ok(isSafeContainerId(id), id);
  for (const id of ['', '.', '..', '.hidden', 'a/b', 'a b', 'a\nb', '-x']) assert.ok(!isSafeContainerId(id), JSON.stringify(id));
});
