import { describe, expect, it } from 'vitest';
import { parseScriptLog } from '../../honeyd2db/parse/scriptlog.ts';
import type { ParseResult, ScriptEvent } from '../../honeyd2db/parse/types.ts';
import { localLines } from '../fixtures/honeyd/lines.ts';

const CTX = { tz: 'Europe/Paris' }; // must not matter: the lines carry their own offset
const P = '2026-11-28 02:33:23 +0000: mydoom.pl[23351]: ';

function ev(line: string): ScriptEvent {
  const r = parseScriptLog(line, CTX);
  if (r.type !== 'script') throw new Error(`expected a script event for '${line}', got ${JSON.stringify(r)}`);
  return r;
}

function reason(r: ParseResult): string {
  if (r.type !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  return `${r.code}: ${r.reason}`;
}

describe('parseScriptLog on the documented lines', () => {
  it('every line of doc-examples-scriptlog.log', () => {
    const [paper, conn, socks] = localLines('doc-examples-scriptlog.log').map(ev);
    expect(paper).toEqual({
      type: 'script', kind: 'connection', ts: new Date('2006-10-08T04:53:40.000Z'), ts_sql: '2006-10-08 04:53:40.000',
      utc_offset_min: 0, script: 'mydoom.pl', pid: 31476,
      message: 'connection from 217.159.217.218:45771 to 192.168.2.1:1080',
      src: '217.159.217.218', src_port: 45771, dst: '192.168.2.1', dst_port: 1080,
      target: null, target_port: null, file_path: null, bytes: null, sha1: null, detail: null, number: null,
    });
    expect(conn).toMatchObject({ kind: 'connection', pid: 23351, src: '10.99.0.2', src_port: 53126, dst: '10.99.1.10', dst_port: 3127 });
    expect(socks).toMatchObject({ kind: 'socks4-command', detail: '01', ts_sql: '2026-11-28 02:33:23.000', src: null });
  });
});

describe('parseScriptLog messages (mydoom.pl, kuang2.pl, cmdexe.pl format strings)', () => {
  it('UTC offsets east and west, including half hours', () => {
    expect(ev('2006-10-08 04:53:40 -0300: mydoom.pl[1]: exiting').ts_sql).toBe('2006-10-08 07:53:40.000');
    expect(ev('2006-10-08 04:53:40 +0530: mydoom.pl[1]: exiting')).toMatchObject({ ts_sql: '2006-10-07 23:23:40.000', utc_offset_min: 330 });
    expect(ev('2006-01-01 00:30:00 +0100: mydoom.pl[1]: exiting').ts_sql).toBe('2005-12-31 23:30:00.000');
  });

  it('mydoom.pl', () => {
    expect(ev(`${P}file upload attempt from 10.99.0.2:53126`)).toMatchObject({ kind: 'upload-attempt', src: '10.99.0.2', src_port: 53126, dst: null });
    expect(ev(`${P}socks4 connect request: dst host: 192.0.2.7, dst port: 25`)).toMatchObject({ kind: 'socks4-connect', target: '192.0.2.7', target_port: 25 });
    expect(ev(`${P}file uploaded to /var/mydoom/10/99/0/2/53126/FILE.23351, 4096 byte(s) written`)).toMatchObject({
      kind: 'file-uploaded', file_path: '/var/mydoom/10/99/0/2/53126/FILE.23351', bytes: 4096, sha1: null,
    });
    expect(ev(`${P}file uploaded to /var/my, doom/x, 1 byte(s) written`).file_path).toBe('/var/my, doom/x');
    expect(ev(`${P}upload limit reached, exiting`).kind).toBe('upload-limit');
    expect(ev(`${P}timed out after 60 seconds`)).toMatchObject({ kind: 'timeout', number: 60 });
    expect(ev(`${P}unknown command: 0x47 0x45 0x54`)).toMatchObject({ kind: 'unknown-command', detail: '0x47 0x45 0x54' });
    expect(ev(`${P}unknown upload signature: 0x85 0x00`)).toMatchObject({ kind: 'unknown-upload-signature', detail: '0x85 0x00' });
    expect(ev(`${P}ERROR: sysread: Connection reset by peer`)).toMatchObject({ kind: 'error', detail: 'sysread: Connection reset by peer' });
    expect(ev(`${P}DEBUG: 9 byte(s) read`)).toMatchObject({ kind: 'debug', detail: '9 byte(s) read' });
  });

  it('kuang2.pl', () => {
    const k = '2004-12-31 18:54:22 -0200: kuang2.pl[812]: ';
    expect(ev(`${k}file uploaded to /var/kuang2/10/0/0/1/1034/evil.exe, size: 512 byte(s), SHA-1: ${'a'.repeat(40)}`)).toMatchObject({
      kind: 'file-uploaded', script: 'kuang2.pl', file_path: '/var/kuang2/10/0/0/1/1034/evil.exe', bytes: 512, sha1: 'a'.repeat(40),
    });
    expect(ev(`${k}cmd received: K2_UPLOAD_FILE, file: C\\:\\\\WINDOWS\\\\evil\\.exe, size: 512 byte(s)`)).toMatchObject({
      kind: 'k2-command', detail: 'K2_UPLOAD_FILE', file_path: 'C:\\WINDOWS\\evil.exe', bytes: 512,
    });
    expect(ev(`${k}cmd received: K2_UPLOAD_FILE (ALT), file: x\\.exe`)).toMatchObject({ detail: 'K2_UPLOAD_FILE (ALT)', file_path: 'x.exe', bytes: null });
    expect(ev(`${k}cmd received: K2_FOLDER_INFO, start: C\\:\\\\`)).toMatchObject({ detail: 'K2_FOLDER_INFO', file_path: 'C:\\' });
    expect(ev(`${k}K2_QUIT received, exiting`).kind).toBe('exiting');
    expect(ev(`${k}illegal file size: 0 byte(s)`).kind).toBe('other');
  });

  it('cmdexe.pl', () => {
    const c = '2004-12-31 18:54:23 +0000: cmdexe.pl[99]: ';
    expect(ev(`${c}cmd: dir C:\\`)).toMatchObject({ kind: 'cmd', detail: 'dir C:\\' });
    expect(ev(`${c}hex: 00 01 02 |...     |`)).toMatchObject({ kind: 'hex', detail: '00 01 02 |...     |' });
    expect(ev(`${c}exiting cmdexe.pl`).kind).toBe('exiting');
    expect(ev(`${c}forced exit of cmdexe.pl (eg, ^C in a connection)`).kind).toBe('exiting');
  });
});

describe('parseScriptLog rejections', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['no prefix (continuation of a multi-line ERROR)', ' at /usr/share/perl5/File/Path.pm line 42.', /^malformed: no 'YYYY-MM-DD HH:MM:SS \+ZZZZ: script\[pid\]: ' prefix/],
    ['honeyd -l line', '2012-02-10-22:37:48.0799 tcp(6) S 192.168.134.143 49677 192.168.134.147 135', /^malformed/],
    ['invalid date', '2023-02-30 04:53:40 +0000: mydoom.pl[1]: exiting', /^bad-time: .*day 30/],
    ['invalid offset', '2023-02-03 04:53:40 +2500: mydoom.pl[1]: exiting', /^bad-time: invalid UTC offset/],
    ['invalid address', `${P}connection from 999.0.0.2:53126 to 10.99.1.10:3127`, /^bad-address: source address '999\.0\.0\.2'/],
    ['port above 65535', `${P}connection from 10.0.0.2:53126 to 10.99.1.10:70000`, /^bad-number: destination port 70000/],
    ['socks4 target port above 65535', `${P}socks4 connect request: dst host: 1.2.3.4, dst port: 99999`, /^bad-number/],
    ['truncated prefix', '2026-11-28 02:33:23 +0000: mydoom.pl[233', /^malformed/],
    ['NUL byte', `${P}cmd: a\u0000`, /^binary/],
    ['over the length limit', `${P}cmd: ${'x'.repeat(70_000)}`, /^too-long/],
  ];
  for (const [what, line, re] of cases) {
    it(what, () => expect(reason(parseScriptLog(line, CTX))).toMatch(re));
  }

  it('keeps a U+FFFD the attacker sent (invalid bytes arrive as \\xNN, never as U+FFFD)', () => {
    expect(parseScriptLog(`${P}cmd: caf\uFFFD`, CTX)).toMatchObject({ type: 'script', message: 'cmd: caf\uFFFD' });
  });

  it('skips empty lines (an ERROR text ending in \\n leaves one)', () => {
    expect(parseScriptLog('', CTX)).toEqual({ type: 'skipped', reason: 'empty line' });
  });
});
