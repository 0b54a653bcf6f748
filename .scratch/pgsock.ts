import postgres from 'postgres';
for (const host of ['127.0.0.1', '/var/run/postgresql', '127.0.0.1', '/var/run/postgresql']) {
  const sql = postgres({ host, port: 5432, user: 'postgres', database: 'postgres', max: 4 });
  await sql`select 1`;
  const c0 = process.cpuUsage(); const t0 = performance.now();
  let n = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (n < 20000) { n++; await sql`select ${n}::int as x`; } }));
  const c = process.cpuUsage(c0); const t = performance.now() - t0;
  console.log(host, (20000 / t * 1000).toFixed(0), 'q/s', ((c.user + c.system) / 20000).toFixed(1), 'µs CPU/q', 'sys', (c.system/20000).toFixed(1));
  await sql.end();
}
