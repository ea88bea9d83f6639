/** A text picture of the migrated schema, from information_schema, for the snapshot test. */
import type { Queryable } from '../../lib/db.ts';

export async function schemaSnapshot(q: Queryable): Promise<string> {
  const cols = await q.rows<Record<string, string | null>>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable,
            COLUMN_DEFAULT AS def, EXTRA AS extra
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  const idx = await q.rows<Record<string, string | number>>(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE AS nu,
            GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
     GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE ORDER BY TABLE_NAME, INDEX_NAME`,
  );
  const kinds = await q.rows<{ t: string; kind: string }>(
    'SELECT TABLE_NAME AS t, TABLE_TYPE AS kind FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
  );
  const trig = await q.rows<{ name: string; ev: string; tbl: string; timing: string }>(
    `SELECT TRIGGER_NAME AS name, EVENT_MANIPULATION AS ev, EVENT_OBJECT_TABLE AS tbl, ACTION_TIMING AS timing
     FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME`,
  );
  const lines: string[] = [];
  for (const { t, kind } of kinds) {
    if (t.startsWith('ipms_migration') || t === 'ipms_object' || t === 'ipms_migrated') continue;
    lines.push(`${kind === 'VIEW' ? 'view' : 'table'} ${t}`);
    for (const c of cols.filter((x) => x.t === t)) {
      // MariaDB quotes string defaults and writes current_timestamp differently from MySQL;
      // keep the default only as "has one / none" for expression defaults.
      const def = c.def === null || c.def === 'NULL' ? '' : ` default ${String(c.def).replace(/^'(.*)'$/, '$1')}`;
      const extra = c.extra ? ` ${String(c.extra).toLowerCase()}` : '';
      lines.push(`  ${c.c} ${c.type}${c.nullable === 'YES' ? ' null' : ' not null'}${def}${extra}`);
    }
    for (const i of idx.filter((x) => x.t === t)) {
      lines.push(`  ${Number(i.nu) ? 'index' : 'unique'} ${i.i} (${i.cols})`);
    }
  }
  for (const tr of trig) lines.push(`trigger ${tr.name} ${tr.timing} ${tr.ev} ON ${tr.tbl}`);
  return `${lines.join('\n')}\n`;
}
