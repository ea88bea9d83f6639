/** `ipms whitelist ...` and `ipms blacklist ...`. */
import { cliUser } from '../../lib/queries/audit.ts';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../../lib/duration.ts';
import { EXIT, InputError, IpmsError } from '../../lib/errors.ts';
import { FEED_FORMATS, parseFeed, type FeedEntry } from '../../lib/feeds.ts';
import { parseCidr } from '../../lib/ip.ts';
import { addBlacklist, addWhitelist, listEntries, protectionOf, removeEntry, type ListName } from '../../lib/queries/lists.ts';
import { actionArg, cidrArg, ipArg, oneOf } from '../args.ts';
import type { Context } from '../context.ts';
import { renderTable, safeText } from '../table.ts';

function entryKey(text: string): { id?: number; cidr?: ReturnType<typeof parseCidr> } {
  return /^\d+$/.test(text) ? { id: Number(text) } : { cidr: cidrArg(text) };
}

function comment(text: string | undefined): string | undefined {
  if (text !== undefined && text.length > 255) throw new InputError('--comment: at most 255 characters');
  return text;
}

function registerListing(group: Command, ctx: Context, table: ListName): void {
  group
    .command('list')
    .description(`the ${table.toLowerCase()} entries`)
    .option('--json', 'print a JSON array')
    .action(async (o: { json?: boolean }) => {
      const rows = await listEntries(ctx.db(), table);
      if (o.json) return ctx.json(rows);
      if (!rows.length) return ctx.io.out(`the ${table.toLowerCase()} is empty`);
      ctx.io.out(table === 'Blacklist'
        ? renderTable(['id', 'cidr', 'action', 'source', 'expires', 'rule', 'comment'],
          rows.map((r) => [r.id, r.cidr, r.action, r.source, r.expires_at ? new Date(r.expires_at) : 'never', r.rule_id ? `${r.rule_id} ${r.rule_status}` : null, r.comment]))
        : renderTable(['id', 'cidr', 'comment', 'added'], rows.map((r) => [r.id, r.cidr, r.comment, new Date(r.created_at)])));
    });
  const remove = group
    .command('remove <cidr-or-id>')
    .description(`remove an entry from the ${table.toLowerCase()}${table === 'Blacklist' ? ' (its rule is dropped)' : ''}`);
  if (table === 'Whitelist') remove.option('--force', "also the worker's own address (an entry created_by ipms-worker)");
  remove
    .action(async (key: string, o: { force?: boolean }) => {
      const cidr = await removeEntry(ctx.db(), table, entryKey(key), { force: Boolean(o.force) });
      await ctx.audit(`${table.toLowerCase()}.remove`, cidr, o.force ? { force: true } : undefined);
      ctx.io.out(`${table.toLowerCase()}: removed ${cidr}`);
    });
}

export function registerLists(program: Command, ctx: Context): void {
  const wl = program.command('whitelist').description('addresses that are never blocked');
  wl.command('add <cidr>')
    .description('never block this address or range; open rules it covers are dropped')
    .option('--comment <text>', 'why (e.g. "our DNS resolvers")')
    .option('--json', 'print the outcome as JSON')
    .action(async (text: string, o: { comment?: string; json?: boolean }) => {
      const c = cidrArg(text);
      const res = await addWhitelist(ctx.db(), c, comment(o.comment), cliUser());
      await ctx.audit('whitelist.add', c.text, { comment: comment(o.comment) ?? null, dropped: res.dropped.map((r) => r.id) });
      if (o.json) return ctx.json({ id: res.id, cidr: c.text, dropped: res.dropped });
      ctx.io.out(`whitelist: added ${c.text}`);
      for (const r of res.dropped) ctx.io.out(`rule ${r.id} (${r.src}): dropped, now whitelisted`);
    });
  wl.command('check <ip>')
    .description('is this address protected? exit 0 if it is, 1 if it is not')
    .option('--json', 'print JSON')
    .action(async (text: string, o: { json?: boolean }) => {
      const ip = ipArg(text, 'IP');
      const hits = await protectionOf(ctx.db(), ip.bytes);
      if (o.json) ctx.json({ ip: ip.text, protected: hits.length > 0, by: hits });
      else if (hits.length) for (const h of hits) ctx.io.out(`${ip.text}: protected by ${h.reason} ${h.what}`);
      else ctx.io.out(`${ip.text}: not whitelisted`);
      if (!hits.length) ctx.exitCode = EXIT.FAILURE;
    });
  registerListing(wl, ctx, 'Whitelist');

  const bl = program.command('blacklist').description('outside knowledge: addresses blocked on sight');
  bl.command('add <cidr>')
    .description('block this address or range everywhere (origin blacklist)')
    .option('--expire <duration>', 'remove after this long (7d)')
    .option('--action <action>', 'DROP or REJECT', 'DROP')
    .option('--comment <text>', 'why')
    .option('--json', 'print the outcome as JSON')
    .action(async (text: string, o: { expire?: string; action: string; comment?: string; json?: boolean }) => {
      const c = cidrArg(text);
      const entry: FeedEntry = { line: 1, cidr: c, ...(o.comment ? { comment: comment(o.comment)! } : {}) };
      const res = await addBlacklist(ctx.db(), [entry], {
        source: 'manual',
        expiresAt: o.expire ? new Date(Date.now() + parseDuration(o.expire, '--expire') * 1000) : null,
        action: actionArg(o.action),
      });
      if (res.added || res.renewed) await ctx.audit('blacklist.add', c.text, { action: o.action.toUpperCase(), expire: o.expire ?? null, comment: o.comment ?? null });
      if (o.json) {
        ctx.json(res);
        if (res.refused.length) ctx.exitCode = EXIT.REFUSED;
        return;
      }
      if (res.refused.length) throw new IpmsError('E_PROTECTED', `refused to blacklist ${c.text}: ${res.refused[0]!.why}`, EXIT.REFUSED);
      ctx.io.out(res.added ? `blacklist: added ${c.text}` : res.renewed ? `blacklist: renewed ${c.text}` : `blacklist: ${c.text} was already there`);
    });
  bl.command('import <file>')
    .description('import a feed file ("-" for standard input); entries become rules')
    .requiredOption('--format <format>', FEED_FORMATS.join('|'))
    .option('--expire <duration>', 'entries expire after this long (7d)')
    .option('--source <name>', 'feed name kept with each entry', 'import')
    .option('--json', 'print the outcome as JSON')
    .action(async (file: string, o: { format: string; expire?: string; source: string; json?: boolean }) => {
      const format = oneOf(o.format, FEED_FORMATS, '--format');
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(o.source)) throw new InputError('--source: 1-64 letters, digits, _ . : -');
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (err) {
        throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      const feed = parseFeed(text, format);
      const res = await addBlacklist(ctx.db(), feed.entries, {
        source: o.source,
        expiresAt: o.expire ? new Date(Date.now() + parseDuration(o.expire, '--expire') * 1000) : null,
      });
      const summary = { entries: feed.entries.length, added: res.added, renewed: res.renewed, present: res.present, refused: res.refused, rejected: feed.rejects, skipped: feed.skipped.length, rounded: feed.rounded };
      await ctx.audit('blacklist.import', o.source, { file, format, added: res.added, renewed: res.renewed, refused: res.refused.length });
      // a file of which nothing reads (the wrong --format, say) is bad input, not an empty feed
      const unreadable = feed.entries.length === 0 && feed.rejects.length > 0;
      if (unreadable) ctx.exitCode = EXIT.USAGE;
      if (o.json) return ctx.json(summary);
      ctx.io.out(`blacklist import: ${feed.entries.length} entries, ${res.added} added, ${res.renewed} renewed, ${res.present} already present, ${res.refused.length} refused, ${feed.rejects.length} unreadable${feed.skipped.length ? `, ${feed.skipped.length} skipped (${feed.skipped[0]!.reason}${feed.skipped.length > 1 ? ', ...' : ''})` : ''}`);
      if (unreadable) ctx.io.err(`ipms: no line of ${file} reads as ${format}: nothing imported`);
      for (const r of res.refused) ctx.io.err(`ipms: line ${r.line}: ${r.cidr} refused: ${r.why}`);
      for (const r of feed.rounded.slice(0, 20)) ctx.io.err(`ipms: line ${r.line}: ${safeText(r.text)} has host bits set: read as ${r.cidr}`);
      if (feed.rounded.length > 20) ctx.io.err(`ipms: ... and ${feed.rounded.length - 20} more with host bits set, read as their networks`);
      for (const r of feed.rejects.slice(0, 20)) ctx.io.err(`ipms: line ${r.line}: ${safeText(r.reason)}`);
      if (feed.rejects.length > 20) ctx.io.err(`ipms: ... and ${feed.rejects.length - 20} more unreadable lines`);
    });
  registerListing(bl, ctx, 'Blacklist');
}
