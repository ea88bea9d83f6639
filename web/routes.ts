/** Every route of the console, with who may use it. POSTs change something and are audited. */
import type { App, Req, Res, Route } from './http.ts';
import { auditPage } from './pages/audit.ts';
import { devicesPage } from './pages/devices.ts';
import { listsPage, postBlacklistAdd, postListRemove, postWhitelistAdd } from './pages/lists.ts';
import { loginPage, postLogin, postLogout } from './pages/login.ts';
import { overviewPage } from './pages/overview.ts';
import { recordPage, recordsPage } from './pages/records.ts';
import { postRuleChange, postRuleEdit, rulePage, rulesPage } from './pages/rules.ts';
import { postThresholdApply, postThresholdConfirm, thresholdEditPage, thresholdsPage } from './pages/thresholds.ts';

/** `/`: the overview once logged in, the login form before. */
async function home(req: Req, app: App): Promise<Res> {
  return req.session ? overviewPage(req, app) : loginPage(req, app);
}

const ID = '(\\d{1,15})';
const NAME = '([A-Za-z0-9][A-Za-z0-9_.-]{0,63})';
const r = (s: string) => new RegExp(`^${s}$`);

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: r('/'), role: 'public', handler: home },
  { method: 'POST', path: r('/login'), role: 'public', handler: postLogin },
  { method: 'POST', path: r('/logout'), role: 'viewer', handler: postLogout },
  { method: 'GET', path: r('/records'), role: 'viewer', handler: recordsPage },
  { method: 'GET', path: r(`/records/${ID}`), role: 'viewer', handler: recordPage },
  { method: 'GET', path: r('/rules'), role: 'viewer', handler: rulesPage },
  { method: 'GET', path: r(`/rules/${ID}`), role: 'viewer', handler: rulePage },
  { method: 'POST', path: r(`/rules/${ID}/(enable|disable|drop)`), role: 'admin', handler: postRuleChange },
  { method: 'POST', path: r(`/rules/${ID}/edit`), role: 'admin', handler: postRuleEdit },
  { method: 'GET', path: r('/lists'), role: 'viewer', handler: listsPage },
  { method: 'POST', path: r('/whitelist/add'), role: 'admin', handler: postWhitelistAdd },
  { method: 'POST', path: r('/blacklist/add'), role: 'admin', handler: postBlacklistAdd },
  { method: 'POST', path: r(`/(whitelist|blacklist)/${ID}/remove`), role: 'admin', handler: postListRemove },
  { method: 'GET', path: r('/devices'), role: 'viewer', handler: devicesPage },
  { method: 'GET', path: r('/thresholds'), role: 'viewer', handler: thresholdsPage },
  { method: 'GET', path: r(`/thresholds/${NAME}`), role: 'admin', handler: thresholdEditPage },
  { method: 'POST', path: r(`/thresholds/${NAME}/confirm`), role: 'admin', handler: postThresholdConfirm },
  { method: 'POST', path: r(`/thresholds/${NAME}/apply`), role: 'admin', handler: postThresholdApply },
  { method: 'GET', path: r('/audit'), role: 'viewer', handler: auditPage },
];
