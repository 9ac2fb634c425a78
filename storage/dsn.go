package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/lib/pq"
)

// Check validates cfg without connecting: the driver is known, a PostgreSQL
// DSN is given and parses, a SQLite database's directory exists and is
// writable (as is the file, when it exists). Open runs it first; check-config
// runs it alone. Its errors never hold the DSN's password.
func Check(cfg Config) error {
	switch cfg.Driver {
	case DriverSQLite:
		_, err := sqliteDSN(cfg.DSN)
		return err
	case DriverPostgres:
		_, err := postgresConfig(cfg.DSN)
		return err
	}
	return unknownDriver(cfg.Driver)
}

// unknownDriver is the error of a driver that is neither sqlite nor postgres.
func unknownDriver(driver string) error {
	return fmt.Errorf("open storage: unknown driver %q (want sqlite or postgres)", driver)
}

// postgresConfig parses a PostgreSQL DSN (a URL or key=value pairs). An empty
// DSN is an error: pq would fill it from the environment and libpq's
// defaults, and migrate whatever database those reach.
func postgresConfig(dsn string) (pq.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return pq.Config{}, errors.New("open postgres: the DSN is empty (want e.g. postgres://user:password@host:5432/dbname)")
	}
	c, err := pq.NewConfig(dsn)
	if err != nil {
		return pq.Config{}, fmt.Errorf("open postgres: parse DSN: %w", redactDSNError(err, dsn))
	}
	return c, nil
}

// sqlitePragmas are the settings jobwatch relies on, applied to every
// connection: a busy timeout, WAL for readers beside the writer,
// synchronous=FULL so that a committed transaction survives a power loss as
// well as a crash, and foreign keys; IMMEDIATE transactions take the write
// lock up front.
var sqlitePragmas = []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"}

// SQLiteCacheSize is the page cache jobwatch gives its SQLite connection
// unless the DSN sets cache_size itself: 64 MiB (a negative cache_size is
// in KiB). SQLite's default of 2 MiB holds little more than the upper
// levels of the indexes every webhook writes once the database holds
// millions of events, so that each insert read its leaf pages from the
// OS: over 5,000,000 stored events ingest answered 0.30-0.33 of the floor
// receiver, against 0.46 on a new database, and 0.58-0.63 with this cache
// (README, Ingest over a grown history). The cache fills as
// pages are read, so a small database never holds it all.
const SQLiteCacheSize = "cache_size(-65536)"

// sqliteDSN turns a file path, or a "file:" DSN with parameters of its own,
// into the DSN Open uses: jobwatch's pragmas added to it. A "file:" DSN that
// sets one of those pragmas or _txlock itself is refused rather than
// overridden in silence. It checks the database's directory too.
func sqliteDSN(dsn string) (string, error) {
	path, rawQuery := dsn, ""
	if rest, ok := strings.CutPrefix(dsn, "file:"); ok {
		path, rawQuery, _ = strings.Cut(rest, "?")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("open sqlite database %q: parse its parameters: %w", dsn, err)
	}
	for _, p := range q["_pragma"] {
		name := pragmaName(p)
		for _, own := range sqlitePragmas {
			if pragmaName(own) == name {
				return "", fmt.Errorf("open sqlite database %q: _pragma=%s is jobwatch's to set (it uses %s)", dsn, p, own)
			}
		}
	}
	if q.Has("_txlock") {
		return "", fmt.Errorf("open sqlite database %q: _txlock is jobwatch's to set (it uses immediate)", dsn)
	}
	if q.Get("mode") != "memory" {
		file := path
		if strings.HasPrefix(dsn, "file:") {
			// A "file:" DSN's path is a URI path: escaped, maybe "///abs".
			if file, err = url.PathUnescape(strings.TrimPrefix(path, "//")); err != nil {
				return "", fmt.Errorf("open sqlite database %q: %w", dsn, err)
			}
		}
		if err := checkSQLiteFile(file); err != nil {
			return "", err
		}
	}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	if !slices.ContainsFunc(q["_pragma"], func(p string) bool { return pragmaName(p) == "cache_size" }) {
		q.Add("_pragma", SQLiteCacheSize)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode(), nil
}

// pragmaName is the name of a DSN's _pragma value, "name(value)",
// lowercased.
func pragmaName(p string) string {
	name, _, _ := strings.Cut(p, "(")
	return strings.ToLower(strings.TrimSpace(name))
}

// checkSQLiteFile says, in words, why SQLite could not open or write a
// database at path (SQLite itself says "out of memory (14)"): a missing or
// unwritable directory, or a file that is a directory or read-only.
func checkSQLiteFile(path string) error {
	if path == "" {
		return errors.New("open sqlite database: the path is empty")
	}
	if strings.HasPrefix(path, ":memory:") {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("open sqlite database %q: "+format, append([]any{path}, args...)...)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("directory does not exist")
	case errors.Is(err, fs.ErrPermission):
		return fail("permission denied (directory %q cannot be read)", dir)
	case err != nil:
		return fail("%w", pathCause(err))
	case !st.IsDir():
		return fail("%q is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fail("it is a directory")
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fail("permission denied (the file is not writable)")
			}
			return fail("%w", pathCause(err))
		}
		f.Close()
	}
	// SQLite creates the database, its -wal and -shm files beside it: the
	// directory must take new files.
	probe, err := os.CreateTemp(dir, ".jobwatch-check-*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fail("permission denied (directory %q is not writable)", dir)
		}
		return fail("directory %q is not writable: %w", dir, pathCause(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// pathCause is the cause of a file system error without the path it quotes
// (the caller names the path itself).
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keyValuePassword finds a password in a key=value DSN, or in a URL's query.
var keyValuePassword = regexp.MustCompile(`(?:^|[\s?&])password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// dsnSecrets returns the password a DSN holds, in each form a message may
// quote it: as written and unescaped. The DSN need not be valid: a DSN that
// does not parse is exactly the one whose error quotes it.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
	}
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		// The user info ends at the last '@' before the query: a password
		// may hold an unescaped '/' or '@' that a URL parser would misread.
		rest, _, _ = strings.Cut(rest, "?")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
				// A URL parser ends the host, and so the "port" its
				// error quotes, at a '/'.
				if short, _, cut := strings.Cut(pw, "/"); cut {
					add(short)
				}
			}
		}
	}
	for _, m := range keyValuePassword.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		if len(v) >= 2 && v[0] == '\'' {
			add(v[1 : len(v)-1])
			v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
		}
		add(v)
	}
	return out
}

// redactDSNError keeps a DSN's password out of an error, whether or not the
// DSN parses.
func redactDSNError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	secrets := dsnSecrets(dsn)
	// Longest first, so that no secret is left half replaced by a shorter
	// one it contains.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "<redacted>")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
