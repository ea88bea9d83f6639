/**
 * The shim's pure parts, without a database: splitting bytes into lines at any chunk boundary,
 * honeypot ranges, file identities (strong and weak), event ids, and the spool's warnings.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventIds, FP_LEN, makeIdentity } from '../../honeyd2db/event-id.ts';
import { Honeypots, isNonUnicast } from '../../honeyd2db/honeypots.ts';
import { resolveIdentity } from '../../honeyd2db/identity.ts';
import { decodeLine, LineSplitter, type Line } from '../../honeyd2db/lines.ts';
import { acquireLock } from '../../honeyd2db/lock.ts';
import { Spool } from '../../honeyd2db/spool.ts';

function split(chunks: Buffer[], max?: number): Line[] {
  const out: Line[] = [];
  const s = new LineSplitter(0, max);
  for (const c of chunks) s.push(Buffer.from(c), (l) => out.push(l));
  s.finish((l) => out.push(l));
  return out;
}

describe('LineSplitter', () => {
  it('gives the same lines and offsets whatever the chunk boundaries', () => {
    const text = Buffer.from('first line\nsecond é line\n\nlast without newline');
    const whole = split([text]);
    expect(whole).toEqual([
      { text: 'first line', offset: 0, end: 11 },
      { text: 'second é line', offset: 11, end: 26 },
      { text: '', offset: 26, end: 27 },
      { text: 'last without newline', offset: 27, end: 47, partial: true },
    ]);
    for (let size = 1; size < text.length; size++) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
      expect(split(chunks)).toEqual(whole);
    }
  });

  it('never holds a too-long line: its start and its length are reported', () => {
    const long = Buffer.alloc(5000, 0x41);
    const lines = split([Buffer.from('ok\n'), long.subarray(0, 1000), long.subarray(1000), Buffer.from('\nafter\n')], 2000);
    expect(lines.map((l) => [l.offset, l.end, l.tooLong ?? null, l.text.length])).toEqual([
      [0, 3, null, 2],
      [3, 5004, 5000, 512],
      [5004, 5010, null, 5],
    ]);
  });
});

describe('decodeLine', () => {
  it('keeps UTF-8 as it is and every other byte as \\xNN, marking where the first one was', () => {
    expect(decodeLine(Buffer.from('café |ok|'))).toEqual({ text: 'café |ok|' });
    // telnet IAC WILL ... as router-telnet.pl logs them
    expect(decodeLine(Buffer.from([0x61, 0xff, 0xfb, 0x1f, 0x62]))).toEqual({ text: 'a\\xFF\\xFB\x1fb', invalidUtf8: 1 });
    // a character cut at honeyd's 1023-byte chunk, an overlong form, a surrogate, Latin-1
    expect(decodeLine(Buffer.from([0x78, 0xc3]))).toEqual({ text: 'x\\xC3', invalidUtf8: 1 });
    expect(decodeLine(Buffer.from([0xc0, 0xaf]))).toEqual({ text: '\\xC0\\xAF', invalidUtf8: 0 });
    expect(decodeLine(Buffer.from([0xed, 0xa0, 0x80, 0x41]))).toEqual({ text: '\\xED\\xA0\\x80A', invalidUtf8: 0 });
    expect(decodeLine(Buffer.from('caf\xe9 ok', 'latin1'))).toEqual({ text: 'caf\\xE9 ok', invalidUtf8: 3 });
    expect(decodeLine(Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xe9]))).toEqual({ text: '\u{1F600}\\xE9', invalidUtf8: 4 });
  });
});

describe('the ingest lock', () => {
  it('refuses a second holder, and takes over a lock whose pid is gone or now another process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipms-lock-'));
    const path = join(dir, 'ingest.lock');
    const release = acquireLock(path, 'sensor s1');
    const mine = readFileSync(path, 'utf8').trim();
    expect(mine).toMatch(new RegExp(`^${process.pid} [0-9a-f-]{36}:\\d+$`));
    // the same file written by another live process (pid 1 here: alive, and not us)
    writeFileSync(path, `1 ${mine.split(' ')[1]!.split(':')[0]}:${readFileSync('/proc/1/stat', 'utf8').split(') ')[1]!.split(' ')[19]}\n`);
    expect(() => acquireLock(path, 'sensor s1')).toThrow(/another ipms ingest \(pid 1\) is running/);
    // pid 1 with another start time: the pid was given to another process since (a reboot)
    writeFileSync(path, `1 ${mine.split(' ')[1]!.split(':')[0]}:12345678\n`);
    acquireLock(path, 'sensor s1')();
    // a pid that no process has
    writeFileSync(path, '4194303\n');
    const again = acquireLock(path, 'sensor s1');
    again();
    release();
  });
});

describe('Honeypots', () => {
  it('bound addresses and nets, without the network and broadcast addresses of a net', () => {
    const hp = new Honeypots(['192.0.2.7'], ['10.99.1.0/24', '198.51.100.8/31', '2001:db8::/64']);
    expect(hp.known).toBe(true);
    expect(['192.0.2.7', '10.99.1.1', '10.99.1.254', '198.51.100.8', '198.51.100.9', '2001:db8::5'].every((a) => hp.has(a))).toBe(true);
    expect(['10.99.1.0', '10.99.1.255', '10.99.2.1', '192.0.2.8', '2001:db9::5'].some((a) => hp.has(a))).toBe(false);
    expect(new Honeypots([], []).known).toBe(false);
    expect(['224.0.0.252', '255.255.255.255', '239.1.2.3', '0.0.0.0', 'ff02::1'].every(isNonUnicast)).toBe(true);
    expect(['10.0.0.1', '223.255.255.255', '2001:db8::1'].some(isNonUnicast)).toBe(false);
  });
});

describe('identities', () => {
  it('a file of FP_LEN bytes or more is known by its content; a shorter one also by its inode', () => {
    const head = Buffer.alloc(FP_LEN + 10, 0x61);
    expect(makeIdentity(head, '1', '2').key).toEqual(makeIdentity(head, '9', '9').key);
    const short = Buffer.from('Honeyd V1.5c Copyright (c) 2002-2007 Niels Provos\n');
    expect(makeIdentity(short, '1', '2').key).not.toEqual(makeIdentity(short, '1', '3').key);
  });

  it('a file first seen short keeps that identity as it grows, at the same inode only', () => {
    const first = Buffer.from('2026-11-28-02:28:53.7767 honeyd log started ------\n');
    const id = makeIdentity(first, '7', '42');
    const mark = {
      key: id.key.toString('hex'), fp: id.fp.toString('hex'), fpLen: id.fpLen, dev: '7', ino: '42', path: '/x', format: 'honeyd-log', offset: first.length, lineNo: 1,
    };
    const grown = Buffer.concat([first, Buffer.alloc(2000, 0x62)]).subarray(0, FP_LEN);
    const again = resolveIdentity(grown, '7', '42', [mark])!;
    expect(again.identity.key).toEqual(id.key);
    expect(again.marks).toEqual([mark]);
    expect(resolveIdentity(grown, '7', '43', [mark])!.identity.key).not.toEqual(id.key);
  });

  it('event ids come from the position, increase through a file and differ between sensors and files', () => {
    const key = Buffer.alloc(16, 1);
    const a = new EventIds('s1', key);
    expect(a.at(100)).toEqual(new EventIds('s1', key).at(100));
    expect(Buffer.compare(a.at(100), a.at(101))).toBe(-1);
    expect(a.at(100)).not.toEqual(new EventIds('s2', key).at(100));
    expect(a.at(100)).not.toEqual(new EventIds('s1', Buffer.alloc(16, 2)).at(100));
  });
});

describe('Spool', () => {
  it('warns at 50, 80 and 95 % and refuses what does not fit', async () => {
    const warnings: string[] = [];
    const s = await Spool.open(join(mkdtempSync(join(tmpdir(), 'ipms-spool-')), 'x.spool'), 10_000, (m) => warnings.push(m));
    const rec = { sensor: 's', logs: [['x'.repeat(900)]], data: [], marks: [] };
    let n = 0;
    while (await s.append(rec)) n++;
    expect(n).toBe(10);
    expect(warnings.map((w) => /(\d+)% full/.exec(w)![1])).toEqual(['50', '80', '95']);
    expect(s.bytes).toBeLessThanOrEqual(10_000);
    await s.clear();
    expect(s.empty).toBe(true);
    await s.close();
  });
});
