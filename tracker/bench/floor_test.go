package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/storage"
)

// The receiver floors measure, in bench ingest's conditions, the fastest
// durable webhook receiver each backend allows on this machine: the
// baseline's work, then a group commit that writes rows rows per event,
// into tables of one unique key each (jobwatch writes three: the job, the
// event and the delivery, into tables of more indexes). The ratio to the
// baseline, driven in alternate turns of the same iteration, bounds what any
// receiver that stores each event before answering can reach here:
//
//	go test -run '^$' -bench ReceiverFloor -benchtime 5x ./tracker/bench/

// BenchmarkPostgresReceiverFloor writes each batch with one INSERT
// statement, its own transaction.
func BenchmarkPostgresReceiverFloor(b *testing.B) {
	admin := os.Getenv(EnvPostgresDSN)
	if admin == "" {
		b.Skipf("set %s to run the PostgreSQL floor", EnvPostgresDSN)
	}
	benchFloor(b, func(b *testing.B, rows int) func(ids, bodies []string) error {
		ctx := context.Background()
		dsn, drop, err := storage.CreateDatabase(ctx, admin, "jobwatch_floor_")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { drop(context.WithoutCancel(ctx)) })
		db := floorTables(b, "postgres", dsn, "bigserial", rows)
		var ctes []string
		for i := 1; i < rows; i++ {
			ctes = append(ctes, fmt.Sprintf(`, i%d AS (INSERT INTO t%d (event_id, body) SELECT event_id, body FROM x)`, i, i))
		}
		insert, err := db.PrepareContext(ctx, `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[]) AS r(event_id, body))`+
			strings.Join(ctes, "")+` INSERT INTO t0 (event_id, body) SELECT event_id, body FROM x`)
		if err != nil {
			b.Fatal(err)
		}
		return func(ids, bodies []string) error {
			_, err := insert.Exec(pq.Array(ids), pq.Array(bodies))
			return err
		}
	})
}

// BenchmarkSQLiteReceiverFloor writes each batch in one transaction, a
// prepared INSERT per row, with jobwatch's durability (WAL,
// synchronous=FULL).
func BenchmarkSQLiteReceiverFloor(b *testing.B) {
	benchFloor(b, func(b *testing.B, rows int) func(ids, bodies []string) error {
		dsn := "file:" + filepath.Join(b.TempDir(), "floor.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
		db := floorTables(b, "sqlite", dsn, "integer", rows)
		db.SetMaxOpenConns(1)
		inserts := make([]*sql.Stmt, rows)
		for i := range inserts {
			var err error
			if inserts[i], err = db.Prepare(fmt.Sprintf(`INSERT INTO t%d (event_id, body) VALUES (?, ?)`, i)); err != nil {
				b.Fatal(err)
			}
		}
		return func(ids, bodies []string) error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			for _, insert := range inserts {
				insert := tx.Stmt(insert)
				for i := range ids {
					if _, err := insert.Exec(ids[i], bodies[i]); err != nil {
						return err
					}
				}
			}
			return tx.Commit()
		}
	})
}

// floorTables opens the database and creates its rows tables, keyed by a
// column of type key that numbers the rows by itself.
func floorTables(b *testing.B, driver, dsn, key string, rows int) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	for i := range rows {
		if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE t%d (n %s PRIMARY KEY, event_id text NOT NULL UNIQUE, body text NOT NULL)`, i, key)); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// benchFloor runs, for 1, 2 and 3 rows per event, the baseline and a
// receiver that group-commits with the insert open returns, in 2-second
// turns, and reports both rates and their ratio.
func benchFloor(b *testing.B, open func(b *testing.B, rows int) func(ids, bodies []string) error) {
	for _, rows := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			g := &groupInsert{insert: open(b, rows)}
			sigCfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{newSecret()}, Tolerance: 5 * time.Minute}
			gen, err := newGenerator(sigCfg)
			if err != nil {
				b.Fatal(err)
			}
			baseURL, stopBaseline, err := startBaseline(sigCfg, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stopBaseline)
			floorURL, stopFloor, err := startReceiver(sigCfg, 1<<20, func(ev thinEvent, body []byte) error { return g.add(ev.ID, string(body)) })
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stopFloor)

			ctx := context.Background()
			const concurrency, turn = 32, 2 * time.Second
			var baseline, floor []ServerStats
			for b.Loop() {
				base, fl, err := takeTurns(ctx, lane{urls: []string{baseURL}, src: gen}, lane{urls: []string{floorURL}, src: gen}, concurrency, 1, turn)
				if err != nil {
					b.Fatal(err)
				}
				if fl.Errors > 0 {
					b.Fatalf("%d deliveries failed, the first: %s", fl.Errors, fl.FirstError)
				}
				baseline, floor = append(baseline, base), append(floor, fl)
			}
			base, fl := mergeStats(baseline), mergeStats(floor)
			b.ReportMetric(base.PerSecond(), "baseline-req/s")
			b.ReportMetric(fl.PerSecond(), "floor-req/s")
			b.ReportMetric(fl.PerSecond()/base.PerSecond(), "ratio")
			b.ReportMetric(float64(fl.P99.Microseconds())/1000, "floor-p99-ms")
		})
	}
}

// groupInsert is the simplest group commit: the first caller to find no
// batch in flight inserts every waiting event in one batch, then the ones
// that queued meanwhile, until none is left; each caller returns once its
// event's batch committed.
type groupInsert struct {
	insert  func(ids, bodies []string) error
	mu      sync.Mutex
	queue   []pendingEvent
	leading bool
}

type pendingEvent struct {
	id, body string
	done     chan error
}

func (g *groupInsert) add(id, body string) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.queue = append(g.queue, pendingEvent{id, body, done})
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	for lead {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		g.leading = len(batch) > 0
		lead = g.leading
		g.mu.Unlock()
		if !lead {
			break
		}
		ids, bodies := make([]string, len(batch)), make([]string, len(batch))
		for i, e := range batch {
			ids[i], bodies[i] = e.id, e.body
		}
		err := g.insert(ids, bodies)
		for _, e := range batch {
			e.done <- err
		}
	}
	return <-done
}
