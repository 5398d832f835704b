# postgres.sh: a PostgreSQL cluster in a fresh directory under /tmp (the
# postgres user must reach it; initdb as that user, the server on a unix
# socket there and no TCP), a table, an index,
# a join, a rolled-back transaction and a parallel scan (background
# workers and dynamic shared memory), then a clean shutdown. Prints only
# query results.
set -eu
PG=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
W=$(mktemp -d /tmp/exo-pg.XXXXXX)
trap 'rm -rf "$W"' EXIT
D=$W/pgdata
mkdir -p "$D"
chown postgres "$W" "$D"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
as_pg "$PG/initdb" -D "$D" -A trust -U postgres --no-sync >"$W/initdb.log" 2>&1 || { cat "$W/initdb.log"; exit 1; }
as_pg "$PG/pg_ctl" -D "$D" -l "$W/server.log" -o "-k $W -c listen_addresses='' -c fsync=off" -w -t 60 start >/dev/null || { cat "$W/server.log"; exit 1; }
q() { "$PG/psql" -h "$W" -U postgres -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
q "CREATE TABLE t(id int PRIMARY KEY, name text, v int)"
q "INSERT INTO t SELECT i, 'row-' || i, (i * 7919) % 10007 FROM generate_series(1, 20000) i"
q "CREATE INDEX t_v ON t(v)"
q "SELECT count(*), sum(v), min(name), max(id) FROM t"
q "SELECT id FROM t WHERE v = 4242"
q "CREATE TABLE u AS SELECT id % 100 AS k, count(*) AS n FROM t GROUP BY 1"
q "SELECT sum(n), count(*) FROM t JOIN u ON t.id % 100 = u.k WHERE t.v < 100"
"$PG/psql" -h "$W" -U postgres -X -q -A -t -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
DELETE FROM t WHERE id > 100;
SELECT count(*) FROM t;
ROLLBACK;
SELECT count(*) FROM t;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM t;
SQL
as_pg "$PG/pg_ctl" -D "$D" -m fast -w stop >/dev/null
echo "stopped"
