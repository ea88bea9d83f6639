/** `ipms users add | list | remove | passwd | role`: accounts of the web console. */
import type { Command } from 'commander';
import { InputError } from '../../lib/errors.ts';
import { cliUser, recordAudit } from '../../lib/queries/audit.ts';
import { checkPasswordPolicy, hashPassword } from '../../web/password.ts';
import { WEB_ROLES, addUser, listUsers, removeUser, setPassword, setRole, newUserNameArg, userNameArg } from '../../web/users.ts';
import { oneOf } from '../args.ts';
import type { Context } from '../context.ts';
import { renderTable } from '../table.ts';

const MAX_STDIN = 4096;

/**
 * The password from standard input: one line, its newline removed. A terminal is refused: what
 * is typed there is echoed, and the password would sit on the screen.
 */
export async function readPassword(stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  if (stdin.isTTY) {
    throw new InputError('--password-stdin reads a pipe, not a terminal: e.g. read -rs PW && printf \'%s\\n\' "$PW" | ipms users add NAME --password-stdin');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_STDIN) throw new InputError('password: standard input is too long');
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw new InputError('password: give one line on standard input');
  checkPasswordPolicy(text);
  return text;
}

const who = cliUser;

export function registerUsers(program: Command, ctx: Context): void {
  const users = program.command('users').description('accounts of the web console (ipms serve)');

  users.command('add <name>')
    .description('add a console account; the password is read from standard input (never an argument)')
    .option('--role <role>', `${WEB_ROLES.join('|')}: viewers read everything, admins may also change`, 'viewer')
    .option('--password-stdin', 'read the password from standard input (required)')
    .action(async (nameText: string, o: { role: string; passwordStdin?: boolean }) => {
      const name = newUserNameArg(nameText);
      const role = oneOf(o.role, WEB_ROLES, '--role');
      if (!o.passwordStdin) throw new InputError('give the password on standard input with --password-stdin');
      const hash = await hashPassword(await readPassword(process.stdin));
      await ctx.db().transaction(async (tx) => {
        await addUser(tx, name, role, hash);
        await recordAudit(tx, { who: who(), via: 'cli', action: 'user.add', target: name, detail: { role } });
      });
      ctx.io.out(`user ${name}: added (${role})`);
    });

  users.command('passwd <name>')
    .description('set a new password (read from standard input); the user\'s open sessions end')
    .option('--password-stdin', 'read the password from standard input (required)')
    .action(async (nameText: string, o: { passwordStdin?: boolean }) => {
      const name = userNameArg(nameText);
      if (!o.passwordStdin) throw new InputError('give the password on standard input with --password-stdin');
      const hash = await hashPassword(await readPassword(process.stdin));
      await ctx.db().transaction(async (tx) => {
        await setPassword(tx, name, hash);
        await recordAudit(tx, { who: who(), via: 'cli', action: 'user.passwd', target: name });
      });
      ctx.io.out(`user ${name}: password changed`);
    });

  users.command('role <name> <role>')
    .description(`make a console account ${WEB_ROLES.join(' or ')} (from its next request on)`)
    .action(async (nameText: string, roleText: string) => {
      const name = userNameArg(nameText);
      const role = oneOf(roleText, WEB_ROLES, 'role');
      await ctx.db().transaction(async (tx) => {
        await setRole(tx, name, role);
        await recordAudit(tx, { who: who(), via: 'cli', action: 'user.role', target: name, detail: { role } });
      });
      ctx.io.out(`user ${name}: now ${role}`);
    });

  users.command('list')
    .description('console accounts')
    .option('--json', 'print a JSON array')
    .action(async (o: { json?: boolean }) => {
      const rows = await listUsers(ctx.db());
      if (o.json) return ctx.json(rows.map(({ id: _id, ...r }) => r));
      if (!rows.length) return ctx.io.out('no users: ipms users add NAME --role admin --password-stdin');
      ctx.io.out(renderTable(['name', 'role', 'created', 'last login'], rows.map((r) => [r.name, r.role, new Date(r.created_at), r.last_login_at ? new Date(r.last_login_at) : null])));
    });

  users.command('remove <name>')
    .description('remove a console account (its sessions end at once)')
    .action(async (nameText: string) => {
      const name = userNameArg(nameText);
      await ctx.db().transaction(async (tx) => {
        await removeUser(tx, name);
        await recordAudit(tx, { who: who(), via: 'cli', action: 'user.remove', target: name });
      });
      ctx.io.out(`user ${name}: removed`);
    });
}
