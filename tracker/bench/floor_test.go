package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/storage"
)

// BenchmarkPostgresReceiverFloor measures, in bench ingest's conditions, the
// fastest durable webhook receiver PostgreSQL allows on this machine: the
// baseline's work, then one group-committed INSERT per batch of deliveries
// of rows rows per event, into tables of a unique key each (jobwatch writes
// three: the job, the event and the delivery). Its ratio to the baseline,
// driven in alternate turns of the same iteration, bounds what any receiver
// that stores each event before answering can reach here.
//
//	go test -run '^$' -bench PostgresReceiverFloor -benchtime 5x ./tracker/bench/
func BenchmarkPostgresReceiverFloor(b *testing.B) {
	admin := os.Getenv(EnvPostgresDSN)
	if admin == "" {
		b.Skipf("set %s to run the PostgreSQL floor", EnvPostgresDSN)
	}
	for _, rows := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			dsn, drop, err := storage.CreateDatabase(ctx, admin, "jobwatch_floor_")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { drop(context.WithoutCancel(ctx)) })
			insert, err := prepareInsert(ctx, dsn, rows)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { insert.Close() })
			g := &groupInsert{stmt: insert}

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
			floorURL, stopFloor, err := startReceiver(sigCfg, 1<<20, func(ev thinEvent, body []byte) error { return g.insert(ev.ID, string(body)) })
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stopFloor)

			const concurrency, turn = 32, 2 * time.Second
			var baseline, floor []ServerStats
			for b.Loop() {
				st, err := gen.drive(ctx, baseURL, concurrency, turn)
				if err != nil {
					b.Fatal(err)
				}
				baseline = append(baseline, st)
				if st, err = gen.drive(ctx, floorURL, concurrency, turn); err != nil {
					b.Fatal(err)
				}
				if st.Errors > 0 {
					b.Fatalf("%d deliveries failed, the first: %s", st.Errors, st.FirstError)
				}
				floor = append(floor, st)
			}
			base, fl := mergeStats(baseline), mergeStats(floor)
			b.ReportMetric(base.PerSecond(), "baseline-req/s")
			b.ReportMetric(fl.PerSecond(), "floor-req/s")
			b.ReportMetric(fl.PerSecond()/base.PerSecond(), "ratio")
			b.ReportMetric(float64(fl.P99.Microseconds())/1000, "floor-p99-ms")
		})
	}
}

// prepareInsert creates rows tables in the database dsn names and prepares
// the statement that inserts one row into each per (event id, body) pair of
// its two array arguments.
func prepareInsert(ctx context.Context, dsn string, rows int) (*sql.Stmt, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open floor database: %w", err)
	}
	var ddl, ctes []string
	for i := range rows {
		ddl = append(ddl, fmt.Sprintf(`CREATE TABLE t%d (n bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, body text NOT NULL, at timestamptz NOT NULL DEFAULT now())`, i))
		if i > 0 {
			ctes = append(ctes, fmt.Sprintf(`, i%d AS (INSERT INTO t%d (event_id, body) SELECT event_id, body FROM x)`, i, i))
		}
	}
	if _, err := db.ExecContext(ctx, strings.Join(ddl, "; ")); err != nil {
		return nil, fmt.Errorf("create floor tables: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[]) AS r(event_id, body))`+
		strings.Join(ctes, "")+` INSERT INTO t0 (event_id, body) SELECT event_id, body FROM x`)
	if err != nil {
		return nil, fmt.Errorf("prepare floor insert: %w", err)
	}
	return stmt, nil
}

// groupInsert is the simplest group commit: the first caller to find no
// batch in flight inserts every waiting event in one statement, its own
// transaction, then the ones that queued meanwhile, until none is left;
// each caller returns once its event's transaction committed.
type groupInsert struct {
	stmt    *sql.Stmt
	mu      sync.Mutex
	queue   []pendingEvent
	leading bool
}

type pendingEvent struct {
	id, body string
	done     chan error
}

func (g *groupInsert) insert(id, body string) error {
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
		_, err := g.stmt.Exec(pq.Array(ids), pq.Array(bodies))
		for _, e := range batch {
			e.done <- err
		}
	}
	return <-done
}
