/**
 * Login and logout. The form is plain HTML in the page at `/` (no script). Failed logins are
 * audited, and counted: more than FAIL_PAIR for one name from one address, or FAIL_IP from one
 * address, within FAIL_WINDOW_S, and the password is not even checked until the window moves.
 */
import { recentLoginFailures, recordAudit, throttleKey } from '../../lib/queries/audit.ts';
import { html } from '../html.ts';
import { clearCookie, cookie, page, redirect, type App, type Req, type Res } from '../http.ts';
import { decoyHash, verifyPassword } from '../password.ts';
import { createSession, endSession, loginToken, newToken } from '../session.ts';
import { userForLogin } from '../users.ts';
import { layout } from './layout.ts';

export const FAIL_PAIR = 5;
export const FAIL_IP = 20;
export const FAIL_WINDOW_S = 900;
/** the audit's target of a failed login with a name no account has (see postLogin) */
export const UNKNOWN_NAME = '(unknown name)';
const PRE_COOKIE_S = 3600;
/** password checks running at once (scrypt: ~100 ms and 32 MiB each); more wait their turn as 429 */
const MAX_CHECKS = 4;

// Checks in flight, counted before the slow password check and dropped after its failure is
// recorded: logins sent all at once cannot pass the limits before any failure is written.
const inflight = new Map<string, number>();
let checks = 0;
const bump = (k: string, d: number) => {
  const n = (inflight.get(k) ?? 0) + d;
  if (n > 0) inflight.set(k, n);
  else inflight.delete(k);
};

export function loginPage(req: Req, app: App, message?: string, status = 200): Res {
  // the pre-login cookie the form's token is bound to: kept while it lives, else a new one
  let pre = req.cookies.get(app.cookie.pre);
  const cookies: string[] = [];
  if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
    pre = newToken();
    cookies.push(cookie(app.cookie.pre, pre, { secure: app.secure, maxAgeS: PRE_COOKIE_S }));
  }
  const body = html`
<form method="post" action="/login" class="login">
<input type="hidden" name="csrf" value="${loginToken(app.secret, pre)}">
${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<label>Name <input name="name" autocomplete="username" required maxlength="64" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
<button type="submit">Log in</button>
</form>`;
  return { ...page(layout(req, 'Log in', body), status), cookies };
}

export async function postLogin(req: Req, app: App): Promise<Res> {
  const name = (req.form.get('name') ?? '').trim().slice(0, 128);
  const password = req.form.get('password') ?? '';
  const client = req.ip;
  // in-flight checks are counted by the same client key as the failures (an IPv6 /64)
  const net = throttleKey(client);
  if (checks >= MAX_CHECKS) return loginPage(req, app, 'too many logins at once: try again in a moment', 429);
  // Failures are counted, and audited, by the account the name finds (under the table's
  // collation 'ALICE' and 'Alice' find alice), and all names that find none count as one: the
  // in-flight count is keyed the same way, so no spelling of a name gets past the limit, and
  // what was typed in the name field (often a password) is not shown to every viewer of the audit.
  const user = name ? await userForLogin(app.db, name) : undefined;
  const target = user?.name ?? UNKNOWN_NAME;
  const pairKey = `${net}\u0000${user ? user.id : '?'}`;
  const fails = await recentLoginFailures(app.db, target, client, FAIL_WINDOW_S);
  if (fails.pair + (inflight.get(pairKey) ?? 0) >= FAIL_PAIR || fails.ip + (inflight.get(net) ?? 0) >= FAIL_IP) {
    return loginPage(req, app, `too many failed logins: try again in ${FAIL_WINDOW_S / 60} minutes`, 429);
  }
  if (checks >= MAX_CHECKS) return loginPage(req, app, 'too many logins at once: try again in a moment', 429);
  checks++;
  bump(pairKey, 1);
  bump(net, 1);
  try {
    const ok = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
    if (!user || !ok) {
      await recordAudit(app.db, { who: user?.name ?? '-', via: 'web', ip: client, action: 'login.failed', target });
      return loginPage(req, app, 'wrong name or password', 401);
    }
  } finally {
    checks--;
    bump(pairKey, -1);
    bump(net, -1);
  }
  // a new session id at every login (no fixation), the pre-login cookie is done with, and a
  // session this browser still had ends here
  if (req.session) await endSession(app.db, req.session);
  const id = await createSession(app.db, user.id, req.ip);
  await recordAudit(app.db, { who: user.name, via: 'web', ip: req.ip, action: 'login', target: user.name });
  return redirect('/', [
    cookie(app.cookie.session, id, { secure: app.secure }),
    clearCookie(app.cookie.pre, app.secure),
  ]);
}

export async function postLogout(req: Req, app: App): Promise<Res> {
  if (req.session) {
    await endSession(app.db, req.session);
    await recordAudit(app.db, { who: req.session.user, via: 'web', ip: req.ip, action: 'logout', target: req.session.user });
  }
  return redirect('/', [clearCookie(app.cookie.session, app.secure)]);
}
