/**
 * CSRF defence for every POST, in two layers:
 * 1. the form must carry the session's token (HMAC of the session id; see session.ts), or on
 *    the login form the token of the pre-login cookie;
 * 2. the request must come from this site: Origin (every current browser sends it on a POST),
 *    else Referer, must be the console's own origin. A request with neither is not a
 *    browser's cross-site form, and the token alone decides.
 * The cookies are SameSite=Strict as well, so a foreign page's POST arrives without them.
 */
import type { App, Req } from './http.ts';
import { csrfToken, loginToken, tokenMatches } from './session.ts';

export function expectedOrigin(req: Req, app: App): string {
  return app.origin ?? `${app.secure ? 'https' : 'http'}://${req.headers.host ?? ''}`;
}

export function fromThisSite(req: Req, app: App): boolean {
  const want = expectedOrigin(req, app);
  const origin = req.headers.origin;
  if (origin !== undefined) return origin === want;
  const referer = req.headers.referer;
  if (referer !== undefined) {
    try {
      return new URL(referer).origin === want;
    } catch {
      return false;
    }
  }
  return true;
}

/** Why a POST is refused, or null when it may go on. */
export function csrfProblem(req: Req, app: App, login: boolean): string | null {
  if (!fromThisSite(req, app)) return 'the request did not come from this site (Origin/Referer)';
  const given = req.form.get('csrf');
  if (!login) {
    if (!req.session) return 'not logged in';
    return tokenMatches(given, csrfToken(app.secret, req.session.id)) ? null : 'missing or wrong CSRF token: reload the page and try again';
  }
  const pre = req.cookies.get(app.cookie.pre);
  if (!pre) return 'the login form has expired: reload the page and try again';
  return tokenMatches(given, loginToken(app.secret, pre)) ? null : 'missing or wrong CSRF token: reload the page and try again';
}
