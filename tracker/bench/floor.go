package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/lib/pq"

	"github.com/jobwatch/jobwatch/storage"
)

// FloorRows is how many rows the floor receiver of Ingest writes per
// event: as many as jobwatch writes per webhook (the job, the event and
// the delivery).
const FloorRows = 3

// openFloor opens db, a run's own database, as the simplest durable
// webhook receiver's store: rows tables of one unique key each (event_id,
// besides the row number), written a batch at a time by the returned insert
// (PostgreSQL: one INSERT statement, its own transaction; SQLite: one
// transaction of prepared INSERTs, with jobwatch's durability: WAL,
// synchronous=FULL). close closes the connection.
func openFloor(ctx context.Context, db *database, rows int) (insert func(ids, bodies []string) error, close func() error, err error) {
	dsn, key := db.dsn, "bigserial"
	if db.driver == storage.DriverSQLite {
		dsn, key = "file:"+db.dsn+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate", "integer"
	}
	conn, err := sql.Open(db.driver, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open the floor receiver's database: %w", err)
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	for i := range rows {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE t%d (n %s PRIMARY KEY, event_id text NOT NULL UNIQUE, body text NOT NULL)`, i, key)); err != nil {
			return nil, nil, fmt.Errorf("create the floor receiver's tables: %w", err)
		}
	}
	if db.driver == storage.DriverPostgres {
		var ctes []string
		for i := 1; i < rows; i++ {
			ctes = append(ctes, fmt.Sprintf(`, i%d AS (INSERT INTO t%d (event_id, body) SELECT event_id, body FROM x)`, i, i))
		}
		stmt, err := conn.PrepareContext(ctx, `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[]) AS r(event_id, body))`+
			strings.Join(ctes, "")+` INSERT INTO t0 (event_id, body) SELECT event_id, body FROM x`)
		if err != nil {
			return nil, nil, fmt.Errorf("prepare the floor receiver's insert: %w", err)
		}
		return func(ids, bodies []string) error {
			_, err := stmt.Exec(pq.Array(ids), pq.Array(bodies))
			return err
		}, conn.Close, nil
	}
	conn.SetMaxOpenConns(1)
	stmts := make([]*sql.Stmt, rows)
	for i := range stmts {
		if stmts[i], err = conn.PrepareContext(ctx, fmt.Sprintf(`INSERT INTO t%d (event_id, body) VALUES (?, ?)`, i)); err != nil {
			return nil, nil, fmt.Errorf("prepare the floor receiver's insert: %w", err)
		}
	}
	return func(ids, bodies []string) error {
		tx, err := conn.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, stmt := range stmts {
			stmt := tx.Stmt(stmt)
			for i := range ids {
				if _, err := stmt.Exec(ids[i], bodies[i]); err != nil {
					return err
				}
			}
		}
		return tx.Commit()
	}, conn.Close, nil
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
