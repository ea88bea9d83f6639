/**
 * Helper of scripts/quickstart.sh (run through tsx, so the quickstart needs no mysql client):
 *   prepare   register the quickstart sensor and its announced demo threshold
 *   rules     print the rules that came out, with the threshold that made each
 * (the database URL comes from IPMS_DATABASE_URL: a command line is visible to every local user)
 */
import { parseDatabaseUrl } from '../lib/config.ts';
import { openDb } from '../lib/db.ts';
import { renderTable } from '../cli/table.ts';

const SENSOR = 'quickstart';
const DEMO = 'quickstart-demo';
const DEMO_HITS = 40;

const [what] = process.argv.slice(2);
const url = process.env.IPMS_DATABASE_URL;
if (!url || (what !== 'prepare' && what !== 'rules')) {
  console.error('usage: IPMS_DATABASE_URL=... quickstart.ts prepare|rules');
  process.exit(2);
}
const db = openDb(parseDatabaseUrl(url), { poolSize: 1 });
try {
  if (what === 'prepare') {
    await db.exec('INSERT IGNORE INTO Sensor (name, description) VALUES (?, ?)', [SENSOR, 'npm run quickstart: the shipped sample']);
    const [s] = await db.rows<{ id: number }>('SELECT id FROM Sensor WHERE name = ?', [SENSOR]);
    // A row of its own, for this sensor only: the 'default' row (50 hits/s) is left as it is.
    await db.exec(
      `INSERT INTO Threshold (name, enabled, sensor_id, group_by, window_s, max_hits, action, description)
       VALUES (?, 1, ?, 'src', 1, ?, 'DROP', ?)
       ON DUPLICATE KEY UPDATE enabled = 1, sensor_id = VALUES(sensor_id), max_hits = VALUES(max_hits)`,
      [DEMO, s!.id, DEMO_HITS, `quickstart only: no real public honeyd log reaches the default 50 hits/s (samples/README.md)`],
    );
    const [d] = await db.rows<{ max_hits: number; window_s: number }>("SELECT max_hits, window_s FROM Threshold WHERE name = 'default'");
    console.log(
      `NOTE: no real public honeyd log reaches the default threshold (${d?.max_hits ?? 50} hits from one source in ${d?.window_s ?? 1} s);\n` +
        `      the busiest second of the shipped sample has 41 counted hits. So this quickstart adds a threshold of its own,\n` +
        `      '${DEMO}': ${DEMO_HITS} hits in 1 s, for sensor '${SENSOR}' only. 'default' is unchanged.`,
    );
  } else {
    const rules = await db.rows<{ id: number; src: string; action: string; status: string; hits: number; threshold: string | null; created_at: Date }>(
      `SELECT r.id, r.src, r.action, r.status, r.hits, r.threshold, r.created_at
       FROM RuleView r JOIN Rule x ON x.id = r.id JOIN Sensor s ON s.id = x.sensor_id WHERE s.name = ? ORDER BY r.id`,
      [SENSOR],
    );
    const thresholds = await db.rows<{ name: string; max_hits: number; window_s: number }>(
      "SELECT name, max_hits, window_s FROM Threshold WHERE name IN ('default', ?) ORDER BY id",
      [DEMO],
    );
    console.log(`thresholds: ${thresholds.map((t) => `${t.name} = ${t.max_hits} hits in ${t.window_s} s`).join('; ')}`);
    if (rules.length === 0) {
      console.log('no rule came out of the sample');
      process.exitCode = 1;
    } else {
      console.log(renderTable(['rule', 'source', 'action', 'status', 'hits', 'threshold', 'created'], rules.map((r) => [r.id, r.src, r.action, r.status, r.hits, r.threshold, r.created_at])));
    }
  }
} finally {
  await db.end();
}
