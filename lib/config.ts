/**
 * Configuration, resolved once: flags > environment > config file > defaults; validated,
 * frozen and passed explicitly. Nothing here connects to anything.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';

export interface DbTls {
  /** PEM file of the CA that signed the server's certificate */
  ca?: string;
  /** client certificate and key (PEM files), for servers that require X.509 logins */
  cert?: string;
  key?: string;
  /** verify-identity (default when TLS is on) checks the name too; verify-ca checks the chain only */
  mode: 'verify-identity' | 'verify-ca';
}

export interface DbConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  tls?: DbTls;
  /** the URL with the password masked, safe for logs and messages */
  display: string;
}

export interface Config {
  db?: DbConfig;
  /** where the URL came from, for error messages */
  dbSource?: string;
  /** what the admin should know about the configuration (printed once on stderr) */
  warnings?: string[];
}

export interface ConfigSources {
  flags?: { databaseUrl?: string | undefined; config?: string | undefined };
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_FILES = () => [join(homedir(), '.config', 'ipms', 'config.json'), '/etc/ipms/config.json'];

/** The keys a config file may hold. */
const FILE_KEYS = ['databaseUrl'];

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  let file: Record<string, unknown>;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    file = parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not a JSON object: ${(err as Error).message}`);
  }
  // a misspelt key would otherwise end in "no database configured", far from its cause
  for (const k of Object.keys(file)) {
    if (!FILE_KEYS.includes(k)) throw new ConfigError(`config file ${path}: unknown key '${k}' (known: ${FILE_KEYS.join(', ')})`);
  }
  if (file.databaseUrl !== undefined && typeof file.databaseUrl !== 'string') {
    throw new ConfigError(`config file ${path}: databaseUrl must be a string`);
  }
  return file;
}

/** Parse `mysql://user:pass@host:port/db?ssl-ca=/path/ca.pem&ssl-mode=verify-identity`. */
export function parseDatabaseUrl(raw: string, source = 'database URL'): DbConfig {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${source} is not a URL (expected mysql://user:pass@host:port/database)`);
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new ConfigError(`${source} must start with mysql:// (got ${u.protocol}//)`);
  }
  // (a % in the URL starts an escape: one not followed by two hex digits is refused, saying
  // which part; a password with a % in it is written with %25)
  const decode = (part: string, text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new ConfigError(`${source}: the ${part} has a % that is not an escape (%XX): write a % in it as %25`);
    }
  };
  const database = decode('database name', u.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(database)) {
    throw new ConfigError(`${source} must name a database (letters, digits, _ or $), e.g. mysql://ipms:pw@db:3306/ipms`);
  }
  if (!u.hostname) throw new ConfigError(`${source} has no host`);
  const port = u.port ? Number(u.port) : 3306;
  const user = decode('user name', u.username);
  if (!user) throw new ConfigError(`${source} has no user name`);
  const params = u.searchParams;
  const known = new Set(['ssl-ca', 'ssl-cert', 'ssl-key', 'ssl-mode']);
  for (const k of params.keys()) {
    if (!known.has(k)) throw new ConfigError(`${source}: unknown option '${k}' (known: ${[...known].join(', ')})`);
  }
  let tls: DbTls | undefined;
  const mode = params.get('ssl-mode');
  if (mode !== null && !['verify-identity', 'verify-ca', 'disabled'].includes(mode)) {
    throw new ConfigError(`${source}: ssl-mode must be verify-identity, verify-ca or disabled`);
  }
  if (mode !== 'disabled' && (params.has('ssl-ca') || params.has('ssl-cert') || mode)) {
    tls = { mode: (mode as DbTls['mode'] | null) ?? 'verify-identity' };
    for (const [param, key] of [['ssl-ca', 'ca'], ['ssl-cert', 'cert'], ['ssl-key', 'key']] as const) {
      const v = params.get(param);
      if (v !== null) tls[key] = v;
    }
  }
  const masked = new URL(u.toString());
  if (masked.password) masked.password = '****';
  return Object.freeze({
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user,
    password: decode('password', u.password),
    database,
    ...(tls ? { tls: Object.freeze(tls) } : {}),
    display: masked.toString(),
  });
}

/** Resolve the configuration once. Missing pieces are only an error when a command needs them. */
export function resolveConfig(sources: ConfigSources = {}): Readonly<Config> {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  let file: Record<string, unknown> = {};
  let fileName: string | undefined;
  const explicit = flags.config ?? env.IPMS_CONFIG;
  if (explicit) {
    file = readConfigFile(explicit);
    fileName = explicit;
  } else {
    for (const candidate of DEFAULT_FILES()) {
      if (existsSync(candidate)) {
        file = readConfigFile(candidate);
        fileName = candidate;
        break;
      }
    }
  }
  let url: string | undefined;
  let dbSource: string | undefined;
  if (flags.databaseUrl) {
    url = flags.databaseUrl;
    dbSource = '--database-url';
  } else if (env.IPMS_DATABASE_URL) {
    url = env.IPMS_DATABASE_URL;
    dbSource = 'IPMS_DATABASE_URL';
  } else if (typeof file.databaseUrl === 'string') {
    url = file.databaseUrl;
    dbSource = `databaseUrl in ${fileName}`;
  }
  const cfg: Config = {};
  if (url !== undefined) {
    cfg.db = parseDatabaseUrl(url, dbSource);
    cfg.dbSource = dbSource;
    // the password of the URL taken from a file others may read
    if (fileName && dbSource === `databaseUrl in ${fileName}` && cfg.db.password) {
      const mode = statSync(fileName).mode & 0o777;
      if (mode & 0o077) {
        cfg.warnings = [`config file ${fileName} holds a database password and other users may read it (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${fileName}`];
      }
    }
  }
  return Object.freeze(cfg);
}

/** The database settings, or a clear error saying how to give them. */
export function requireDb(cfg: Readonly<Config>): DbConfig {
  if (!cfg.db) {
    throw new ConfigError(
      'no database configured: set IPMS_DATABASE_URL=mysql://user:pass@host:port/db or pass --database-url (local server: npm run db:start prints one)',
    );
  }
  return cfg.db;
}
