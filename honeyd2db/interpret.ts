/**
 * One line to rows: parse it with its file's parser, decide what it means (classify.ts), link
 * it to its connection (correlate.ts) and add its SensorLog or Data row to the batch. Every
 * row keeps the raw line. Refused lines go to the rejects file.
 *
 * - -l lines: one SensorLog row each (start, probe, end or stray).
 * - -s lines, syslog lines, script-log lines: one Data row each (the payload), linked to the
 *   connection with the same 4-tuple and the nearest start; script lines without a tuple are
 *   linked through their script's pid. A script `connection from` line with no such
 *   connection becomes the connection (a SensorLog start row of its own), so a contact seen in
 *   both the -l log and a script log is counted once, and one seen only by the script still is.
 */
import { ipToBytes } from '../lib/ip.ts';
import type { Batch, Row } from './batch.ts';
import { classifyConn, remoteFirst } from './classify.ts';
import { ConnIndex, tupleKey } from './correlate.ts';
import type { EventIds } from './event-id.ts';
import type { Honeypots } from './honeypots.ts';
import { ipv4ToInt } from './honeypots.ts';
import type { Line } from './lines.ts';
import { sqlUtc, type LineParser, type ParseContext, type ConnEvent, type ScriptEvent, type ServiceEvent, type SyslogEvent } from './parse/index.ts';
import type { RejectsFile } from './rejects.ts';
import type { Counts } from './summary.ts';

/** A script line younger than this may be waiting for its S line (see scriptRow). */
const RECENT_MS = 10_000;

/** SensorLog.raw is VARCHAR(1024); no stock -l line comes near it. */
const MAX_LOG_RAW = 1024;

/** What the interpreter needs to know of the file a line comes from. */
export interface FileState {
  path: string;
  parse: LineParser;
  ids: EventIds;
  /** lines of this file handled so far (the next line's number is lineNo + 1) */
  lineNo: number;
  rejected: number;
  /** syslog: the connection of the last service chunk, for its unprefixed continuation lines */
  chunkLink: Buffer | null;
  inChunk: boolean;
  /** offset of a script line already put off once, waiting for its S line */
  deferredAt: number;
  /** the file can be read again from a line (not standard input): a line may wait for a later round */
  canWait: boolean;
  /** the parse context of this file: the run's, with the file's own reading of a DST overlap */
  ctx?: ParseContext;
}

export interface InterpretOptions {
  honeypots: Honeypots;
  index: ConnIndex;
  ctx: ParseContext;
  counts: Counts;
  rejects: RejectsFile;
  now: () => number;
}

function ipBytes(ip: string): Buffer {
  const v = ipv4ToInt(ip);
  if (v < 0) return ipToBytes(ip);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v, 0);
  return b;
}

function protoName(e: { proto: string; proto_num: number }): string {
  if (e.proto === 'unkn' || e.proto.length > 16) return `unkn(${e.proto_num})`;
  return e.proto;
}

export class Interpreter {
  /**
   * A -l log of this sensor is followed too: a script `connection from` line whose S line is
   * not there yet waits one round for it (honeyd logs S before it starts the script, but the
   * two files are read one after the other).
   */
  waitForConnLog = false;

  constructor(private readonly o: InterpretOptions) {}

  /**
   * Handle one line. Returns false when the line must wait (a script connection whose S line
   * may not have been read yet): the caller stops reading this file and offers it again later.
   */
  line(f: FileState, line: Line, batch: Batch): boolean {
    const index = this.o.index;
    const c = this.o.counts;
    const now = this.o.now();
    const id = f.ids.at(line.offset);
    if (line.tooLong !== undefined) {
      this.reject(f, line, id, 'too-long', `line of ${line.tooLong} bytes exceeds the ${60_000}-byte limit`);
      return true;
    }
    const r = f.parse(line.text, this.ctxOf(f));
    // bytes that are not UTF-8 belong in payload text only (kept as \xNN); anywhere else they
    // mean the line is not honeyd's
    if (line.invalidUtf8 !== undefined && r.type !== 'service' && r.type !== 'syslog' && r.type !== 'script') {
      this.reject(f, line, id, 'binary', `line contains invalid UTF-8 at byte ${line.invalidUtf8 + 1}`);
      return true;
    }
    // DATETIME holds years 1000-9999; a stamp outside them (a corrupt line, or year 9999 moved
    // past it by --tz) would be stored as a zero date
    if (r.type !== 'rejected' && r.type !== 'skipped' && 'ts' in r && r.ts instanceof Date) {
      const y = r.ts.getUTCFullYear();
      if (!(y >= 1000 && y <= 9999)) {
        this.reject(f, line, id, 'bad-time', `time ${Number.isNaN(y) ? 'invalid' : r.ts.toISOString()} is outside the years 1000-9999 in UTC`);
        return true;
      }
    }
    switch (r.type) {
      case 'conn':
        if (line.text.length > MAX_LOG_RAW) {
          this.reject(f, line, id, 'too-long', `connection-log line of ${line.text.length} characters (at most ${MAX_LOG_RAW})`);
          return true;
        }
        batch.addLog(this.connRow(r, id, line.text, index), now);
        break;
      case 'service':
        batch.addData(this.serviceRow(r, id, line.text, index), now);
        f.inChunk = false;
        break;
      case 'syslog':
        batch.addData(this.syslogRow(f, r, id, line.text, index), now);
        break;
      case 'script': {
        const row = this.scriptRow(f, r, id, line, batch, index);
        if (row === null) return false;
        batch.addData(row, now);
        break;
      }
      case 'marker':
        c.markers++;
        f.inChunk = false;
        break;
      case 'skipped':
        c.skipped++;
        f.inChunk = false;
        break;
      case 'rejected':
        this.reject(f, line, id, r.code, r.reason);
        // (a refused line may have started a chunk of its own: lines after it are linked to no
        // connection rather than to the one before)
        f.inChunk = false;
        break;
    }
    return true;
  }

  /**
   * Replay a line already in the database into the connection index only (no row, no count):
   * after a restart, the lines before the checkpoint that later lines may link to.
   */
  rebuild(f: FileState, line: Line): void {
    if (line.tooLong !== undefined) return;
    const r = f.parse(line.text, this.ctxOf(f));
    const index = this.o.index;
    if (r.type === 'conn' && r.kind !== 'probe') {
      const k = classifyConn(r, this.o.honeypots);
      const key = tupleKey(protoName(r), k.src, k.srcPort, k.dst, k.dstPort);
      if (r.kind === 'start') index.addStart(key, f.ids.at(line.offset), r.ts.getTime());
      else index.end(key, r.ts.getTime());
    } else if (r.type === 'script' && r.kind === 'connection' && r.src !== null && r.dst !== null) {
      const key = tupleKey('tcp', r.src, r.src_port, r.dst, r.dst_port);
      let link = index.nearest(key, r.ts.getTime());
      if (link === null) {
        link = f.ids.at(line.offset);
        index.addStart(key, link, r.ts.getTime());
      }
      index.setScript(r.script, r.pid, link, r.ts.getTime());
    }
  }

  /** The file's own parse context (a DST overlap is told apart per file: see parse/time.ts). */
  private ctxOf(f: FileState): ParseContext {
    if (f.ctx === undefined) f.ctx = { ...this.o.ctx, overlap: { hour: Number.NaN, lastWall: 0, later: false } };
    return f.ctx;
  }

  reject(f: FileState, line: Line, id: Buffer, code: string, reason: string): void {
    this.o.counts.rejected++;
    f.rejected++;
    this.o.rejects.add({ file: f.path, line: f.lineNo + 1, offset: line.offset, event: id.toString('hex'), code, reason, text: line.text });
  }

  private connRow(e: ConnEvent, id: Buffer, raw: string, index: ConnIndex): Row {
    const c = this.o.counts;
    const k = classifyConn(e, this.o.honeypots);
    let start: Buffer | null = null;
    const proto = protoName(e);
    if (e.kind === 'start') {
      index.addStart(tupleKey(proto, k.src, k.srcPort, k.dst, k.dstPort), id, e.ts.getTime());
    } else if (e.kind === 'end') {
      start = index.end(tupleKey(proto, k.src, k.srcPort, k.dst, k.dstPort), e.ts.getTime());
      c.ends++;
      if (start !== null) c.endsLinked++;
    }
    if (k.kind === 'start' || k.kind === 'probe') c.hits++;
    else if (k.kind === 'stray') c.strays++;
    return [
      e.ts_sql, k.kind, proto, ipBytes(k.src), k.srcPort, ipBytes(k.dst), k.dstPort, e.icmp_type, e.icmp_code, e.length,
      e.tcp_flags, e.os === null ? null : e.os.slice(0, 128), e.remark === null ? null : e.remark.slice(0, 64),
      e.bytes_in, e.bytes_out, start, id, raw,
    ];
  }

  /** The connection a tuple belongs to, whichever way round it was printed. */
  private link(index: ConnIndex, proto: string, src: string, sp: number | null, dst: string, dp: number | null, ts: number): Buffer | null {
    return remoteFirst(src, dst, this.o.honeypots)
      ? index.nearest(tupleKey(proto, src, sp, dst, dp), ts)
      : index.nearest(tupleKey(proto, dst, dp, src, sp), ts);
  }

  private payload(link: Buffer | null): Buffer | null {
    this.o.counts.payloads++;
    if (link !== null) this.o.counts.payloadsLinked++;
    return link;
  }

  private serviceRow(e: ServiceEvent, id: Buffer, raw: string, index: ConnIndex): Row {
    const link = this.payload(this.link(index, e.proto, e.src, e.src_port, e.dst, e.dst_port, e.ts.getTime()));
    return [e.ts_sql, 'service', null, null, e.payload, null, link, id, raw];
  }

  private syslogRow(f: FileState, e: SyslogEvent, id: Buffer, raw: string, index: ConnIndex): Row {
    // -d stderr lines carry no time at all: they get the time they were read
    const tsMs = e.ts === null ? this.o.now() : e.ts.getTime();
    const ts = e.ts_sql ?? sqlUtc(Date.now());
    let link: Buffer | null = null;
    if (e.kind === 'unprefixed') {
      // the rest of a multi-line service chunk belongs to the chunk's connection
      link = f.inChunk ? f.chunkLink : null;
    } else if (e.src !== null && e.dst !== null) {
      // E(a:p - b:p) carries no protocol: service scripts run for tcp and udp alike
      link = this.link(index, e.proto ?? 'tcp', e.src, e.src_port, e.dst, e.dst_port, tsMs);
      if (link === null && e.proto === null) link = this.link(index, 'udp', e.src, e.src_port, e.dst, e.dst_port, tsMs);
    }
    this.payload(link);
    if (e.kind === 'service-output') {
      f.inChunk = true;
      f.chunkLink = link;
    } else if (e.kind !== 'unprefixed') {
      f.inChunk = false;
    }
    return [ts, 'syslog', null, null, e.kind === 'service-output' ? (e.payload ?? '') : e.message, null, link, id, raw];
  }

  private scriptRow(f: FileState, e: ScriptEvent, id: Buffer, line: Line, batch: Batch, index: ConnIndex): Row | null {
    const c = this.o.counts;
    const ts = e.ts.getTime();
    let link: Buffer | null = null;
    if (e.kind === 'connection' && e.src !== null && e.dst !== null) {
      const key = tupleKey('tcp', e.src, e.src_port, e.dst, e.dst_port);
      link = index.nearest(key, ts);
      if (link === null) {
        // Only a line written just now can be ahead of its S line (a backlog is read after the
        // connection logs have been read to their end).
        if (this.waitForConnLog && f.canWait && f.deferredAt !== line.offset && Math.abs(this.o.now() - ts) < RECENT_MS) {
          f.deferredAt = line.offset;
          return null;
        }
        // No S line for it: the script's line is the connection (mydoom.pl & co. are TCP).
        const pseudo = {
          kind: 'start', proto_num: 6, src: e.src, dst: e.dst, src_port: e.src_port, dst_port: e.dst_port, other_proto: false,
        } as ConnEvent;
        const k = classifyConn(pseudo, this.o.honeypots);
        batch.addLog([e.ts_sql, k.kind, 'tcp', ipBytes(k.src), k.srcPort, ipBytes(k.dst), k.dstPort, null, null, null, null, null, null, null, null, null, id, line.text.slice(0, MAX_LOG_RAW)], this.o.now());
        index.addStart(key, id, ts);
        c.scriptConnections++;
        if (k.kind === 'start') c.hits++;
        else c.strays++;
        link = id;
      }
      index.setScript(e.script, e.pid, link, ts);
    } else {
      link = index.script(e.script, e.pid);
    }
    this.payload(link);
    return [e.ts_sql, 'script', e.script.slice(0, 64), e.pid > 4_294_967_295 ? null : e.pid, e.message, e.file_path === null ? null : e.file_path.slice(0, 512), link, id, line.text];
  }
}
