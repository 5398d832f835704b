# sqlite.sh: run as `sh sqlite.sh DIR SQL`, where SQL is a
# file that inserts 10,000 rows into a table t in one transaction.
set -eu
umask 022
cd "$1"
mkdir db
cd db
sqlite3 test.db ".read $2"
echo "--- aggregates"
sqlite3 test.db "SELECT count(*), sum(v), min(id), max(id), sum(length(name)) FROM t;"
sqlite3 test.db "SELECT v % 7 AS r, count(*) FROM t GROUP BY r ORDER BY r;"
echo "--- index, update, delete"
sqlite3 test.db "CREATE INDEX t_v ON t(v); UPDATE t SET v = v * 2 WHERE id % 3 = 0; DELETE FROM t WHERE id > 9000;"
sqlite3 test.db "SELECT count(*), sum(v) FROM t WHERE v > 5000;"
sqlite3 test.db "EXPLAIN QUERY PLAN SELECT * FROM t WHERE v = 42;" | sed 's/^[0-9|]*//' | grep -o 'USING [A-Z ]*INDEX t_v'
sqlite3 test.db "VACUUM; PRAGMA integrity_check;"
echo "--- write-ahead log"
sqlite3 wal.db "PRAGMA journal_mode=WAL;"
sqlite3 wal.db "CREATE TABLE w(x INTEGER); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) INSERT INTO w SELECT i FROM c;"
ls wal.db*
sqlite3 wal.db "SELECT count(*), sum(x) FROM w;"
sqlite3 wal.db "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
sqlite3 wal.db "PRAGMA journal_mode=DELETE;"
ls wal.db*
echo "--- attach"
sqlite3 test.db "ATTACH 'wal.db' AS other; SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM other.w);"
