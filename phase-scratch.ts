const t0 = performance.now();
const at = (l: string) => console.log(l, ((performance.now() - t0) / 1000).toFixed(2));
const { openDatabase } = await import('./src/db/client.js'); at('import client');
const { runMigrations, isEmpty } = await import('./src/db/migrate.js'); at('import migrate');
const { seed } = await import('./src/db/seed.js'); at('import seed');
const { schema } = await import('./src/schema/index.js'); at('import schema');
const { createApp } = await import('./src/app.js'); at('import app');
const { startGateway } = await import('./src/server.js'); at('import server');
const dir = process.argv[2] ?? '/tmp/ops10/pd';
const db = await openDatabase({ pgliteDir: dir }); at('open');
await runMigrations(db); at('migrate');
if (await isEmpty(db)) { await seed(db.db); at('seed'); }
await db.close(); at('closed');
