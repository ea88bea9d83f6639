/**
 * Read honeyd's configuration file (honeyd.conf) for what the database keeps of it: templates
 * (`create`, `clone`, `set ... personality|default|uptime|ethernet`, `add ... port`) become
 * Profile and ProfilePort rows, and `bind ADDR TEMPLATE` lines the honeypot addresses
 * (VirtHost). Only traffic to those addresses is a hit. Grammar after honeyd's parse.y (1.5c,
 * DataSoft 1.6d): one statement per line in practice, `#` comments, double-quoted strings.
 * Statements that say nothing about templates or addresses (route, annotate, spoof, droprate,
 * subsystem...) are skipped. Pure: text in, a description out.
 */
import { canonicalIp } from '../lib/ip.ts';
import { InputError } from '../lib/errors.ts';

export interface HoneydPort {
  proto: 'tcp' | 'udp';
  port: number;
  /** what honeyd does: open, reset, block, proxy ..., or the script command line */
  action: string;
}

export interface HoneydTemplate {
  name: string;
  personality: string | null;
  defaultTcp: string | null;
  defaultUdp: string | null;
  defaultIcmp: string | null;
  uptime: number | null;
  ethernet: string | null;
  ports: HoneydPort[];
}

/** honeyd gives each bound address its own clone of the template, which later lines may change. */
interface Entry extends HoneydTemplate {
  /** set on the clone a `bind` makes: the template it was bound with */
  boundFrom?: string;
  changed?: boolean;
}

export interface HoneydConfig {
  templates: Map<string, HoneydTemplate>;
  /** `bind ADDR TEMPLATE`: the honeypot addresses, canonical */
  binds: { address: string; template: string }[];
  /** things the caller should tell the user (dhcp templates, unresolvable names) */
  notes: string[];
}

/** Split a line into words; "quoted strings" are one word (quotes kept, to tell them apart). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"?|[^\s"]+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[0]);
  return out;
}

const unquote = (w: string): string => (w.startsWith('"') ? w.replace(/^"|"$/g, '') : w);

function blank(name: string): HoneydTemplate {
  return { name, personality: null, defaultTcp: null, defaultUdp: null, defaultIcmp: null, uptime: null, ethernet: null, ports: [] };
}

export function parseHoneydConfig(text: string, file = 'honeyd.conf'): HoneydConfig {
  const cfg: { templates: Map<string, Entry>; binds: HoneydConfig['binds']; notes: string[] } = { templates: new Map(), binds: [], notes: [] };
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const w = words(line);
    const verb = w[0]!.toLowerCase();
    const tmpl = (name: string | undefined): Entry => {
      const t = name === undefined ? undefined : cfg.templates.get(unquote(name));
      if (t === undefined) throw new InputError(`${where}: unknown template '${name ?? ''}' (create it first)`, 'E_HONEYD_CONFIG');
      t.changed = true;
      return t;
    };
    switch (verb) {
      case 'create':
      case 'dynamic': {
        if (w.length < 2) throw new InputError(`${where}: '${verb}' needs a template name`, 'E_HONEYD_CONFIG');
        const name = unquote(w[1]!);
        cfg.templates.set(name, blank(name));
        return;
      }
      case 'clone': {
        const src = tmpl(w[2]);
        const name = unquote(w[1] ?? '');
        cfg.templates.set(name, { ...src, name, ports: src.ports.map((p) => ({ ...p })) });
        return;
      }
      case 'set': {
        const t = tmpl(w[1]);
        const what = (w[2] ?? '').toLowerCase();
        if (what === 'personality') t.personality = unquote(w.slice(3).join(' '));
        else if (what === 'uptime' && /^\d+$/.test(w[3] ?? '')) t.uptime = Number(w[3]);
        else if (what === 'ethernet') t.ethernet = unquote(w[3] ?? '');
        else if (what === 'default' && (w[4] ?? '').toLowerCase() === 'action') {
          const action = unquote(w.slice(5).join(' '));
          const proto = (w[3] ?? '').toLowerCase();
          if (proto === 'tcp') t.defaultTcp = action;
          else if (proto === 'udp') t.defaultUdp = action;
          else if (proto === 'icmp') t.defaultIcmp = action;
        }
        return;
      }
      case 'add': {
        // add TEMPLATE tcp|udp port N ACTION  (other `add` forms: subsystem, use ... if ...)
        const proto = (w[2] ?? '').toLowerCase();
        if ((proto !== 'tcp' && proto !== 'udp') || (w[3] ?? '').toLowerCase() !== 'port') return;
        const t = tmpl(w[1]);
        const port = Number(w[4]);
        if (!/^\d{1,5}$/.test(w[4] ?? '') || port > 65535) throw new InputError(`${where}: bad port '${w[4] ?? ''}'`, 'E_HONEYD_CONFIG');
        const action = unquote(w.slice(5).join(' '));
        t.ports = t.ports.filter((p) => !(p.proto === proto && p.port === port));
        t.ports.push({ proto, port, action });
        return;
      }
      case 'delete': {
        const name = unquote(w[1] ?? '');
        if (w.length === 2) cfg.templates.delete(name);
        else if (w[3]?.toLowerCase() === 'port') {
          const t = cfg.templates.get(name);
          if (t) t.ports = t.ports.filter((p) => !(p.proto === w[2]!.toLowerCase() && p.port === Number(w[4])));
        }
        return;
      }
      case 'bind': {
        // bind ADDR TEMPLATE | bind ADDR to IFACE | bind CONDITION ADDR TEMPLATE (dynamic)
        if (w.length !== 3 || (w[2] ?? '').toLowerCase() === 'to') {
          if ((w[2] ?? '').toLowerCase() === 'to') cfg.notes.push(`${where}: ${w[1]} is bound to an interface (not a honeypot template)`);
          else cfg.notes.push(`${where}: conditional bind not read: ${line.slice(0, 80)}`);
          return;
        }
        if (w[1]!.startsWith('"')) {
          cfg.notes.push(`${where}: bind to a host name (${w[1]}) not resolved; give its address with --honeypot-net`);
          return;
        }
        let address: string;
        try {
          address = canonicalIp(w[1]!, `${where}: bind address`);
        } catch (err) {
          throw new InputError((err as Error).message, 'E_HONEYD_CONFIG');
        }
        const t = tmpl(w[2]);
        cfg.binds.push({ address, template: t.name });
        cfg.templates.set(address, { ...t, name: address, ports: t.ports.map((p) => ({ ...p })), boundFrom: t.name, changed: false });
        return;
      }
      case 'dhcp':
        cfg.notes.push(`${where}: template ${w[1] ?? '?'} takes its address by DHCP; give it with --honeypot-net to count its hits`);
        return;
      default:
        return;
    }
  });
  // A bound address whose own clone was changed afterwards is a Profile of its own (named by
  // the address, as honeyd names it); an unchanged clone is just its template.
  const templates = new Map<string, HoneydTemplate>();
  for (const [name, t] of cfg.templates) {
    if (t.boundFrom !== undefined && !t.changed) continue;
    const { boundFrom: _b, changed: _c, ...plain } = t;
    templates.set(name, plain);
  }
  const binds = cfg.binds.map((b) => {
    const own = cfg.templates.get(b.address);
    return own?.boundFrom !== undefined && own.changed ? { address: b.address, template: b.address } : b;
  });
  return { templates, binds, notes: cfg.notes };
}
