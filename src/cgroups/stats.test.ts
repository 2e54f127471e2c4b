import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBlkioV1, parseCgroupValue, parseIoStatV2, parseKeyedFile, parsePercpu, parseProcStat, sampleFromV1, sampleFromV2,
  toDockerStats, ZERO_TIME,
} from './stats.js';

test('file parsers', () => {
  assert.equal(parseCgroupValue('64\n'), 64);
  assert.equal(parseCgroupValue('max\n'), null);
  assert.throws(() => parseCgroupValue('abc'), /not a cgroup value/);
  assert.deepEqual(parseKeyedFile('max 45\n'), { max: 45 });
  assert.deepEqual(parseKeyedFile('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 2 });
  assert.deepEqual(parsePercpu('12734868 88878956 \n'), [12734868, 88878956]);
  assert.deepEqual(parseBlkioV1('8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n'), [
    { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 0 }, { major: 8, minor: 0, op: 'Total', value: 4096 },
  ]);
  assert.deepEqual(parseIoStatV2('8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n'), [{ major: 8, minor: 0, rbytes: 1, wbytes: 2, rios: 3, wios: 4, dbytes: 0, dios: 0 }]);
  assert.deepEqual(parseProcStat('cpu  100 0 50 1000 10 0 2 0 0 0\ncpu0 50 0 25 500 5 0 1 0 0 0\ncpu1 50 0 25 500 5 0 1 0 0 0\nintr 1\n'),
    { systemCpuUsage: 1162 * 1e7, onlineCpus: 2 });
});

// The memory.stat and counters behind shared/fixtures/docker-cli-traces/stats_no_stream_x1.txt
const MEMORY_STAT = `cache 0\nrss 49152\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 868\npgpgout 856
pgfault 1117\npgmajfault 0\ninactive_anon 45056\nactive_anon 4096\ninactive_file 0\nactive_file 0\nunevictable 0
hierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 0\ntotal_rss 49152
total_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 868
total_pgpgout 856\ntotal_pgfault 1117\ntotal_pgmajfault 0\ntotal_inactive_anon 45056\ntotal_active_anon 4096
total_inactive_file 0\ntotal_active_file 0\ntotal_unevictable 0\n`;

test('toDockerStats() reproduces the v1 fixture', () => {
  const cg = (usage: number) => sampleFromV1({
    memory: { 'memory.usage_in_bytes': '315392\n', 'memory.limit_in_bytes': '9223372036854771712\n', 'memory.max_usage_in_bytes': '4308992\n',
      'memory.failcnt': '0\n', 'memory.stat': MEMORY_STAT, 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n' },
    cpuacct: { 'cpuacct.usage': `${usage}\n`, 'cpuacct.usage_percpu': '12734868 88878956 \n', 'cpuacct.stat': 'user 4\nsystem 5\n' },
    cpu: { 'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' },
    pids: { 'pids.current': '1\n', 'pids.max': 'max\n', 'pids.events': 'max 0\n' },
    blkio: { 'blkio.throttle.io_service_bytes': 'Total 0\n', 'blkio.throttle.io_serviced': 'Total 0\n' },
  });
  const cur = { read: '2026-11-28T23:29:36.672865391Z', cgroup: cg(101613824), systemCpuUsage: 1238220000000, onlineCpus: 2 };
  const prev = { read: '2026-11-28T23:29:35.665438321Z', cgroup: cg(101613824), systemCpuUsage: 1236250000000, onlineCpus: 2 };
  const s = toDockerStats(cur, prev, { machineMemory: 25276026880, name: '/x1', id: 'abc' });
  const want = '{"read":"2026-11-28T23:29:36.672865391Z","preread":"2026-11-28T23:29:35.665438321Z","pids_stats":{"current":1},"blkio_stats":{"io_service_bytes_recursive":[],"io_serviced_recursive":[],"io_queue_recursive":[],"io_service_time_recursive":[],"io_wait_time_recursive":[],"io_merged_recursive":[],"io_time_recursive":[],"sectors_recursive":[]},"num_procs":0,"storage_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":101613824,"percpu_usage":[12734868,88878956],"usage_in_kernelmode":50000000,"usage_in_usermode":40000000},"system_cpu_usage":1238220000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"precpu_stats":{"cpu_usage":{"total_usage":101613824,"percpu_usage":[12734868,88878956],"usage_in_kernelmode":50000000,"usage_in_usermode":40000000},"system_cpu_usage":1236250000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"memory_stats":{"usage":315392,"max_usage":4308992,"stats":{"active_anon":4096,"active_file":0,"cache":0,"dirty":0,"hierarchical_memory_limit":9223372036854771712,"hierarchical_memsw_limit":9223372036854771712,"inactive_anon":45056,"inactive_file":0,"mapped_file":0,"pgfault":1117,"pgmajfault":0,"pgpgin":868,"pgpgout":856,"rss":49152,"rss_huge":0,"total_active_anon":4096,"total_active_file":0,"total_cache":0,"total_dirty":0,"total_inactive_anon":45056,"total_inactive_file":0,"total_mapped_file":0,"total_pgfault":1117,"total_pgmajfault":0,"total_pgpgin":868,"total_pgpgout":856,"total_rss":49152,"total_rss_huge":0,"total_unevictable":0,"total_writeback":0,"unevictable":0,"writeback":0},"limit":25276026880},"name":"/x1","id":"abc"}';
  // JSON numbers above 2^53 print differently in JS; compare parsed values
  assert.deepEqual(JSON.parse(JSON.stringify(s)), JSON.parse(want));
  assert.equal(cur.cgroup.pids?.limit, null);
  assert.equal(cur.cgroup.memory?.oomKill, 0);
});

test('toDockerStats() first sample and v2', () => {
  const cg = sampleFromV2({
    'memory.current': '1048576\n', 'memory.max': '67108864\n', 'memory.stat': 'anon 4096\nfile 0\ninactive_file 8192\n',
    'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
    'cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\n',
    'pids.current': '3\n', 'pids.max': '2048\n', 'pids.events': 'max 5\n', 'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
  });
  assert.equal(cg.pids?.maxEvents, 5);
  assert.equal(cg.memory?.oomKill, 1);
  const s = toDockerStats({ read: 'T', cgroup: cg, systemCpuUsage: 5, onlineCpus: 2 }, undefined, { machineMemory: 1 << 30 });
  assert.equal(s.preread, ZERO_TIME);
  assert.deepEqual(s.precpu_stats, { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });
  assert.deepEqual(s.cpu_stats.cpu_usage, { total_usage: 2000000, usage_in_kernelmode: 500000, usage_in_usermode: 1500000 });
  assert.deepEqual(s.cpu_stats.throttling_data, { periods: 10, throttled_periods: 2, throttled_time: 7000 });
  assert.deepEqual(s.memory_stats, { usage: 1048576, stats: { anon: 4096, file: 0, inactive_file: 8192 }, failcnt: 1, limit: 67108864 });
  assert.deepEqual(s.pids_stats, { current: 3, limit: 2048 });
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 }]);
  assert.equal(s.blkio_stats.io_queue_recursive, null);
  assert.equal('name' in s, false);
  // unlimited v2 memory reports host memory
  const unl = sampleFromV2({ 'memory.current': '1\n', 'memory.max': 'max\n' });
  assert.equal(toDockerStats({ read: 'T', cgroup: unl, systemCpuUsage: 0, onlineCpus: 0 }, undefined, { machineMemory: 1000 }).memory_stats.limit, 1000);
  // nothing readable: empty but well-formed
  const empty = toDockerStats({ read: 'T', cgroup: sampleFromV1({}), systemCpuUsage: 0, onlineCpus: 0 }, undefined, { machineMemory: 0 });
  assert.deepEqual(empty.memory_stats, {});
  assert.deepEqual(empty.pids_stats, {});
});
