// tapsum reads the TAP that run.sh saved for each runtime (OUT/RUNTIME/TEST.tap),
// prints a table of passed/total assertions per test and runtime, and exits 1
// if an assertion that passes under runc fails (or is missing) under runsc-exo.
// Usage: node tapsum.js OUT TEST... (NODE_PATH must hold node-tap's tap-parser);
// with TAPSUM_LIST=1 it only prints the names of the tests that lose an
// assertion, one a line.
'use strict';
const fs = require('fs');
const path = require('path');
const Parser = require('tap-parser');

const [out, ...tests] = process.argv.slice(2);
const runtimes = ['runc', 'runsc-exo'].filter((r) => fs.existsSync(path.join(out, r)));

function parse(file) {
  return new Promise((resolve) => {
    const asserts = [];
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { resolve({ missing: true, asserts }); return; }
    const p = new Parser((res) => resolve({ asserts, res }));
    p.on('assert', (a) => asserts.push(a));
    p.end(text);
  });
}

// key gives each assertion a name that stays the same across runtimes: its
// description plus how many times that description came before.
function keyed(asserts) {
  const seen = new Map();
  return asserts.map((a) => {
    const n = seen.get(a.name) || 0;
    seen.set(a.name, n + 1);
    return { key: `${a.name} #${n + 1}`, ok: a.ok && !a.skip, skip: !!a.skip, name: a.name };
  });
}

function cell(r) {
  if (!r || r.missing) return '-';
  const ok = r.k.filter((a) => a.ok).length;
  const skip = r.k.filter((a) => a.skip).length;
  let s = `${ok}/${r.k.length}`;
  if (skip) s += ` (${skip} skip)`;
  // No assertion at all: the test gave up before its first one (see its
  // .stderr); a plan that does not match means it stopped half-way.
  if (r.k.length === 0) s += ' (none)';
  else if (r.res && r.res.plan && r.res.plan.end !== r.k.length) s += ' (cut short)';
  return s;
}

(async () => {
  const rows = [];
  const regressions = [];
  for (const t of tests) {
    const row = { test: t };
    for (const rt of runtimes) {
      const r = await parse(path.join(out, rt, `${t}.tap`));
      r.k = keyed(r.asserts);
      row[rt] = r;
    }
    const base = row.runc;
    const ours = row['runsc-exo'];
    if (base && ours) {
      const passed = new Set(ours.k.filter((a) => a.ok).map((a) => a.key));
      for (const a of base.k) {
        if (a.ok && !passed.has(a.key)) regressions.push(`${t}: ${a.key}`);
      }
    }
    rows.push(row);
  }
  if (process.env.TAPSUM_LIST) {
    for (const t of new Set(regressions.map((r) => r.split(':')[0]))) console.log(t);
    return;
  }
  const sums = {};
  const table = [['test', ...runtimes.map((rt) => `${rt} ok/total`)]];
  for (const row of rows) {
    table.push([row.test, ...runtimes.map((rt) => cell(row[rt]))]);
    for (const rt of runtimes) {
      const s = (sums[rt] = sums[rt] || { ok: 0, n: 0 });
      s.ok += row[rt].k.filter((a) => a.ok).length;
      s.n += row[rt].k.length;
    }
  }
  table.push(['total', ...runtimes.map((rt) => `${sums[rt].ok}/${sums[rt].n}`)]);
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (cols) => '| ' + cols.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(line(table[0]));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of table.slice(1)) console.log(line(r));
  if (regressions.length) {
    console.log(`\n${regressions.length} assertion(s) pass under runc but not under runsc-exo:`);
    for (const r of regressions) console.log(`  ${r}`);
    process.exit(1);
  }
})();
