/** Devices and their health: reachable, what they hold, what failed and why. */
import { listDevices, type DeviceListRow } from '../../lib/queries/devices.ts';
import { html, visible, type SafeHtml } from '../html.ts';
import { page, type App, type Req, type Res } from '../http.ts';
import { layout, light, when } from './layout.ts';

function health(d: DeviceListRow): SafeHtml {
  if (!d.enabled) return light('grey', 'disabled');
  if (d.last_error || d.failed) return light('red', 'failing');
  return light('green', d.last_ok_at ? 'ok' : 'not contacted yet');
}

export async function devicesPage(req: Req, app: App): Promise<Res> {
  const devices = await listDevices(app.db);
  const body = devices.length ? html`<table class="devices">
<thead><tr><th></th><th>device</th><th>adapter</th><th>transport</th><th>host</th><th>takes</th><th>enabled</th><th class="num">applied</th><th class="num">pending</th><th class="num">failed</th><th>last ok (UTC)</th><th>last error</th></tr></thead>
<tbody>${devices.map((d) => html`<tr><td>${health(d)}</td><td>${d.name}</td><td>${d.adapter}</td><td>${d.transport}</td><td>${d.host}:${d.port}</td><td>${d.applies_to}</td>
<td>${d.enabled ? 'yes' : 'no'}</td><td class="num">${d.applied}</td><td class="num">${d.pending}</td><td class="num">${d.failed}</td><td>${when(d.last_ok_at)}</td>
<td>${d.last_error || d.last_rule_error ? html`<span class="error">${visible(d.last_error ?? d.last_rule_error ?? '')}</span>` : '-'}</td></tr>`)}</tbody>
</table>
<p><small>Devices are added and changed with <code>ipms devices</code>; the worker applies rules to them.</small></p>` : html`<p>No device yet: <code>ipms devices add NAME --adapter nftables --host ADDR ...</code></p>`;
  return page(layout(req, 'Devices', body));
}
