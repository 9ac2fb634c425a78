package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

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
	if os.Getenv(EnvPostgresDSN) == "" {
		b.Skipf("set %s to run the PostgreSQL floor", EnvPostgresDSN)
	}
	benchFloor(b, storage.DriverPostgres)
}

// BenchmarkSQLiteReceiverFloor writes each batch in one transaction, a
// prepared INSERT per row, with jobwatch's durability (WAL,
// synchronous=FULL).
func BenchmarkSQLiteReceiverFloor(b *testing.B) { benchFloor(b, storage.DriverSQLite) }

// benchFloor runs, for 1, 2 and 3 rows per event, the baseline and a
// receiver that group-commits with the insert open returns, in 2-second
// turns, and reports both rates and their ratio.
func benchFloor(b *testing.B, driver string) {
	for _, rows := range []int{1, 2, FloorRows} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			db, err := openDatabase(ctx, driver, "")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				var err error
				db.close(ctx, &err)
				if err != nil {
					b.Error(err)
				}
			})
			insert, closeFloor, err := openFloor(ctx, db, rows)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { closeFloor() })
			g := &groupInsert{insert: insert}
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

			const concurrency, turn = 32, 2 * time.Second
			var baseline, floor []ServerStats
			for b.Loop() {
				st, err := takeTurns(ctx, []lane{{urls: []string{baseURL}, src: gen}, {urls: []string{floorURL}, src: gen}}, concurrency, 1, turn)
				if err != nil {
					b.Fatal(err)
				}
				base, fl := st[0], st[1]
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
