package storage_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
)

func TestOpenPostgresRefusesAnEmptyDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", "  "} {
		_, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: dsn})
		if err == nil || !strings.Contains(err.Error(), "the DSN is empty") {
			t.Errorf("Open(postgres, %q) = %v, want an empty DSN error", dsn, err)
		}
		if err := storage.Check(storage.Config{Driver: storage.DriverPostgres, DSN: dsn}); err == nil {
			t.Errorf("Check(postgres, %q) passed", dsn)
		}
	}
}

// TestOpenRefusesTooFewConnections: with one PostgreSQL connection, Migrate
// would wait forever for a second while it holds the first for its lock.
func TestOpenRefusesTooFewConnections(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: "postgres://127.0.0.1:1/x", MaxOpenConns: 1})
	if err == nil || !strings.Contains(err.Error(), "1 connections are too few (want at least 2)") {
		t.Fatalf("Open with one connection: %v, want it refused", err)
	}
}

func TestSQLiteErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "such", "jobwatch.db")
	tests := []struct{ dsn, want string }{
		{missing, `open sqlite database "` + missing + `": directory does not exist`},
		{"file:" + missing + "?cache=private", `open sqlite database "` + missing + `": directory does not exist`},
		{filepath.Join(notDir, "jobwatch.db"), "is not a directory"},
		{dir, "it is a directory"},
		{"file:" + filepath.Join(dir, "x.db") + "?_pragma=journal_mode(delete)", "_pragma=journal_mode(delete) is jobwatch's to set"},
		{"file:" + filepath.Join(dir, "x.db") + "?_txlock=deferred", "_txlock is jobwatch's to set"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ dsn, want string }{filepath.Join(ro, "jobwatch.db"), "permission denied"})
	}
	for _, tt := range tests {
		cfg := storage.Config{Driver: storage.DriverSQLite, DSN: tt.dsn}
		_, err := storage.Open(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v, want %q", tt.dsn, err, tt.want)
		}
		if err := storage.Check(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%q) = %v, want %q", tt.dsn, err, tt.want)
		}
	}
	if err := storage.Check(storage.Config{Driver: storage.DriverSQLite, DSN: filepath.Join(dir, "new.db")}); err != nil {
		t.Errorf("Check of a new database in a writable directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Error("Check created the database")
	}
}

// Every form of SQLite DSN gets jobwatch's pragmas.
func TestSQLiteFileDSNKeepsThePragmas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"file:" + filepath.Join(dir, "uri.db"),
		"file:" + filepath.Join(dir, "params.db") + "?cache=private",
	} {
		s, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverSQLite, DSN: dsn})
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000", "cache_size": "-65536"} {
			var got string
			if err := s.DB().NewRaw("PRAGMA "+pragma).Scan(context.Background(), &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", dsn, pragma, got, want)
			}
		}
		s.Close()
	}
}

// A DSN that sizes SQLite's page cache itself keeps its size; the others
// get jobwatch's (storage.SQLiteCacheSize).
func TestSQLiteDSNMaySizeThePageCache(t *testing.T) {
	t.Parallel()
	dsn := "file:" + filepath.Join(t.TempDir(), "cache.db") + "?_pragma=CACHE_SIZE(-2000)"
	s, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverSQLite, DSN: dsn})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	defer s.Close()
	var got string
	if err := s.DB().NewRaw("PRAGMA cache_size").Scan(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if got != "-2000" {
		t.Errorf("PRAGMA cache_size = %s, want the DSN's -2000", got)
	}
}

// A DSN's password never reaches an error, whether the DSN parses or not.
func TestDSNPasswordIsRedacted(t *testing.T) {
	t.Parallel()
	const pw = "Zq7secretPW"
	for _, dsn := range []string{
		"postgres://u:" + pw + "@127.0.0.1:54x2/db",
		"postgres://u:" + pw + "@[::1/db",
		"postgres://u:" + pw + "/x@127.0.0.1:54x2/db",
		"postgresql://u:" + pw + "%2F@127.0.0.1:1/db?sslmode=bogus",
		"host=127.0.0.1 port=54x2 user=u password=" + pw,
		"host=127.0.0.1 port=1 user=u password='" + pw + " x' sslmode=bogus",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := storage.Open(ctx, storage.Config{Driver: storage.DriverPostgres, DSN: dsn})
		cancel()
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open: the error shows the password: %v", err)
		}
		if err := storage.Check(storage.Config{Driver: storage.DriverPostgres, DSN: dsn}); err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("Check: the error shows the password: %v", err)
		}
		if _, _, err := storage.CreateDatabase(context.Background(), dsn, "x"); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("CreateDatabase: error %v", err)
		}
	}
}

// frozenServer accepts TCP connections and never answers, as a stopped
// PostgreSQL does (the kernel still completes the handshake).
func frozenServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// within runs fn and fails the test when it has not returned after limit
// (rather than hanging the test).
func within(t *testing.T, limit time.Duration, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("no answer after %s", limit)
		return nil
	}
}

func TestOpenGivesUpOnAServerThatNeverAnswers(t *testing.T) {
	t.Parallel()
	dsn := "postgres://u@" + frozenServer(t) + "/db?sslmode=disable"
	// The caller's deadline.
	err := within(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := storage.Open(ctx, storage.Config{Driver: storage.DriverPostgres, DSN: dsn})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open with a 2s context = %v, want a deadline error", err)
	}
	// The connect timeout, with no deadline from the caller.
	err = within(t, 10*time.Second, func() error {
		_, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: dsn, ConnectTimeout: time.Second})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no answer within the connect timeout (1s)") {
		t.Errorf("Open with a 1s connect timeout = %v", err)
	}
}

// freezer is a TCP proxy to PostgreSQL that can stop forwarding, as a
// server stopped by SIGSTOP stops answering: connections stay up, accepted
// ones included, and nothing comes back.
type freezer struct {
	mu    sync.Mutex
	thaw  chan struct{} // closed while forwarding
	conns []net.Conn
}

func newFreezer(t *testing.T, target string) (*freezer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{thaw: make(chan struct{})}
	close(f.thaw)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.track(c)
			go func() {
				<-f.gate()
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				f.track(up)
				go f.pipe(up, c)
				f.pipe(c, up)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.unfreeze()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	return f, ln.Addr().String()
}

func (f *freezer) track(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns = append(f.conns, c)
}

func (f *freezer) gate() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.thaw
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thaw = make(chan struct{})
}

func (f *freezer) unfreeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.thaw:
	default:
		close(f.thaw)
	}
}

// pipe copies src to dst, holding what it read while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-f.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			return
		}
	}
}

// With PostgreSQL frozen, statements and new connections end with their
// context's deadline; once it answers again, so does the store.
func TestStatementsEndWithTheirDeadlineWhenPostgresFreezes(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	host := "127.0.0.1:5432"
	if i, j := strings.Index(dsn, "@"), strings.LastIndex(dsn, "/"); i >= 0 && j > i {
		host = dsn[i+1 : j]
	}
	f, addr := newFreezer(t, host)
	proxied := strings.Replace(dsn, "@"+host+"/", "@"+addr+"/", 1)
	s, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: proxied, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A transaction's COMMIT.
	err = within(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
			return err
		}
		f.freeze()
		if err := tx.Commit(); err == nil {
			return errors.New("COMMIT on a frozen server succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Pooled connections, or new ones (all of them handshake with the frozen
	// server once the idle ones are discarded).
	for range 2 {
		err := within(t, 10*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return s.Ping(ctx)
		})
		if err == nil {
			t.Fatal("Ping of a frozen server succeeded")
		}
	}
	err = within(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.ListAlerts(ctx, "", 10)
		return err
	})
	if err == nil {
		t.Fatal("a read of a frozen server succeeded")
	}

	f.unfreeze()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the server woke: %v", err)
	}
}

// The sessions carry statement_timeout: the default, or the configured one.
func TestPostgresStatementTimeout(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	for _, tt := range []struct {
		timeout time.Duration
		want    string
	}{{0, "10min"}, {1500 * time.Millisecond, "1500ms"}} {
		s, err := storage.Open(context.Background(), storage.Config{Driver: storage.DriverPostgres, DSN: dsn, StatementTimeout: tt.timeout})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.DB().NewRaw("SHOW statement_timeout").Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("statement_timeout with %s configured = %s, want %s", tt.timeout, got, tt.want)
		}
		s.Close()
	}
}
