// Package config loads jobwatch's TOML configuration: strict (an unknown key
// is an error naming it), with defaults applied before validation, ${ENV}
// expansion in string values, and every error naming its key.
//
// It is part of the jobwatch command and daemon, not of the library's public
// API: its names may change in any release.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jobwatch/jobwatch/storage"
)

// Config is the whole configuration file.
type Config struct {
	Server     Server      `toml:"server"`
	Storage    Storage     `toml:"storage"`
	Log        Log         `toml:"log"`
	Sweep      Sweep       `toml:"sweep"`
	Providers  []Provider  `toml:"providers"`
	Alerts     Alerts      `toml:"alerts"`
	Notifiers  []Notifier  `toml:"notifiers"`
	Routes     []Route     `toml:"routes"`
	Thresholds []Threshold `toml:"thresholds"`
	Costs      Costs       `toml:"costs"`
	Prices     []Price     `toml:"prices"`
	Retention  Retention   `toml:"retention"`
}

// Server configures the HTTP listeners.
type Server struct {
	// Listen is the address to serve on. Default "127.0.0.1:8080". With
	// AdminListen it serves the webhooks and health endpoints only.
	Listen string `toml:"listen"`
	// AdminListen, when set, is the address of the admin listener: /v1/,
	// /metrics and every route but the webhooks are served there only.
	AdminListen string `toml:"admin_listen"`
	// TLSCertFile and TLSKeyFile, both or neither, are the PEM certificate
	// (chain) and key Listen serves HTTPS with; they are read again when
	// the files change.
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
	// AdminTLSCertFile and AdminTLSKeyFile are the same for AdminListen.
	AdminTLSCertFile string `toml:"admin_tls_cert_file"`
	AdminTLSKeyFile  string `toml:"admin_tls_key_file"`
	// APIToken, when set, is the bearer token /v1/ requests must carry.
	APIToken Secret `toml:"api_token"`
	// MetricsToken, when set, is the bearer token /metrics requests must
	// carry.
	MetricsToken Secret `toml:"metrics_token"`
	// MaxBodyBytes caps a request body, in bytes. Default 1 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// MaxHeaderBytes caps a request's line and headers, in bytes (larger:
	// 431). Default 64 KiB.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// ReadTimeout bounds reading one request. Default 10s.
	ReadTimeout Duration `toml:"read_timeout"`
	// WriteTimeout bounds handling and answering one request. Default 30s.
	WriteTimeout Duration `toml:"write_timeout"`
	// ShutdownTimeout bounds the wait for in-flight requests on SIGTERM. Default 30s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// DeliveryRetention is how long the webhook delivery log is kept. Default 168h.
	DeliveryRetention Duration `toml:"delivery_retention"`
	// DeliveryMaxRows bounds the webhook delivery log besides its age, in
	// rows: the oldest beyond it are deleted. Default 100000.
	DeliveryMaxRows int `toml:"delivery_max_rows"`
}

// Storage says where jobs are kept.
type Storage struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `toml:"driver"`
	// DSN is the SQLite file path (default "jobwatch.db") or the PostgreSQL
	// connection string.
	DSN Secret `toml:"dsn"`
	// MaxOpenConns caps PostgreSQL connections. Default 10, at least 2.
	MaxOpenConns int `toml:"max_open_conns"`
	// ConnectTimeout bounds opening one PostgreSQL connection (a
	// connect_timeout in the DSN takes precedence). Default 10s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// StatementTimeout is the PostgreSQL sessions' statement_timeout: the
	// server cancels a statement running longer (a statement_timeout in the
	// DSN takes precedence). Default 10m.
	StatementTimeout Duration `toml:"statement_timeout"`
	// JobCache is how many jobs, at most, a PostgreSQL store keeps in memory
	// with their row versions, so that webhooks about them skip reading
	// them (about 1 KB a job). Default storage.DefaultJobCacheSize; -1 keeps
	// none.
	JobCache int `toml:"job_cache"`
}

// maxJobCache is the most jobs storage.job_cache may keep: about 1 GB.
const maxJobCache = 1000000

// StorageConfig is the storage configuration as package storage takes it.
func (s Storage) StorageConfig() storage.Config {
	return storage.Config{Driver: s.Driver, DSN: s.DSN.Reveal(), MaxOpenConns: s.MaxOpenConns,
		ConnectTimeout: s.ConnectTimeout.D(), StatementTimeout: s.StatementTimeout.D(), JobCacheSize: s.JobCache}
}

// Log configures the structured log on stderr.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `toml:"level"`
	// Format is json (default) or text.
	Format string `toml:"format"`
}

// Default returns the configuration an empty file yields.
func Default() Config {
	var c Config
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	setDefault(&c.Server.Listen, "127.0.0.1:8080")
	setDefault(&c.Server.MaxBodyBytes, 1<<20)
	setDefault(&c.Server.MaxHeaderBytes, 64<<10)
	setDefault(&c.Server.ReadTimeout, Duration(10*time.Second))
	setDefault(&c.Server.WriteTimeout, Duration(30*time.Second))
	setDefault(&c.Server.ShutdownTimeout, Duration(30*time.Second))
	setDefault(&c.Server.DeliveryRetention, Duration(7*24*time.Hour))
	setDefault(&c.Server.DeliveryMaxRows, 100000)
	setDefault(&c.Storage.Driver, "sqlite")
	if c.Storage.Driver == "sqlite" {
		setDefault(&c.Storage.DSN, "jobwatch.db")
	}
	setDefault(&c.Storage.MaxOpenConns, 10)
	setDefault(&c.Storage.JobCache, storage.DefaultJobCacheSize)
	setDefault(&c.Storage.ConnectTimeout, Duration(storage.DefaultConnectTimeout))
	setDefault(&c.Storage.StatementTimeout, Duration(storage.DefaultStatementTimeout))
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "json")
	c.Sweep.applyDefaults()
	c.Retention.applyDefaults()
	c.applyAlertDefaults()
	setDefault(&c.Costs.Currency, "USD")
	for i := range c.Providers {
		c.Providers[i].applyDefaults()
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Load reads, expands, defaults and validates the file at path.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse is Load on the file's text. It reports every error of the file in
// one pass: a syntax error alone, else every unknown key, value of the wrong
// type and invalid value, each once.
func Parse(text string) (Config, error) {
	var tree map[string]any
	if _, err := toml.Decode(text, &tree); err != nil {
		return Config{}, decodeError(err)
	}
	var c Config
	errs, removed := decode(tree, &c)
	for _, e := range expandEnv(reflect.ValueOf(&c).Elem(), "") {
		errs = append(errs, e)
		removed[errorKey(e)] = true
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		// A value reported above is left out of c (or empty): what
		// validation says of its default or of what it held would only
		// confuse.
		var joined interface{ Unwrap() []error }
		verrs := []error{err}
		if errors.As(err, &joined) {
			verrs = joined.Unwrap()
		}
		for _, e := range verrs {
			if !reported(errorKey(e), removed) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// errorKey is the key a "key: message" error is about.
func errorKey(err error) string {
	key, _, _ := strings.Cut(err.Error(), ": ")
	return key
}

// reported says whether key, or a table or array holding it, is among the
// keys of removed values.
func reported(key string, removed map[string]bool) bool {
	for k := key; k != ""; {
		if removed[k] {
			return true
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return false
}

// decodeError keeps the parser's line and key but drops its Go type names.
func decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s", pe.Error())
	}
	return err
}

// Validate checks every value, returning one error per bad key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Server.Listen == "" || !strings.Contains(c.Server.Listen, ":") {
		bad("server.listen", "%q is not a host:port address", c.Server.Listen)
	}
	c.Server.validateListeners(bad)
	if c.Server.MaxBodyBytes < 1024 || c.Server.MaxBodyBytes > 64<<20 {
		bad("server.max_body_bytes", "%d is out of range (1024 to 67108864)", c.Server.MaxBodyBytes)
	}
	if c.Server.MaxHeaderBytes < 4096 || c.Server.MaxHeaderBytes > 1<<20 {
		bad("server.max_header_bytes", "%d is out of range (4096 to 1048576)", c.Server.MaxHeaderBytes)
	}
	for key, d := range map[string]Duration{"server.read_timeout": c.Server.ReadTimeout, "server.write_timeout": c.Server.WriteTimeout,
		"server.shutdown_timeout": c.Server.ShutdownTimeout, "server.delivery_retention": c.Server.DeliveryRetention} {
		if d < 0 {
			bad(key, "must not be negative")
		}
	}
	if c.Server.DeliveryMaxRows < 0 {
		bad("server.delivery_max_rows", "must not be negative")
	}
	switch c.Storage.Driver {
	case "sqlite", "postgres":
	default:
		bad("storage.driver", "%q is not a driver (want sqlite or postgres)", c.Storage.Driver)
	}
	if c.Storage.DSN == "" {
		bad("storage.dsn", "required for driver %q", c.Storage.Driver)
	}
	if c.Storage.MaxOpenConns < storage.MinPostgresConns || c.Storage.MaxOpenConns > 1000 {
		bad("storage.max_open_conns", "%d is out of range (%d to 1000)", c.Storage.MaxOpenConns, storage.MinPostgresConns)
	}
	if c.Storage.JobCache < -1 || c.Storage.JobCache > maxJobCache {
		bad("storage.job_cache", "%d is out of range (-1 for none, or 1 to %d)", c.Storage.JobCache, maxJobCache)
	}
	for key, d := range map[string]Duration{"storage.connect_timeout": c.Storage.ConnectTimeout, "storage.statement_timeout": c.Storage.StatementTimeout} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	if _, ok := logLevels[c.Log.Level]; !ok {
		bad("log.level", "%q is not a level (want debug, info, warn or error)", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "%q is not a format (want json or text)", c.Log.Format)
	}
	c.Sweep.validate(bad)
	c.Retention.validate(bad)
	c.validateAlerts(bad)
	c.validateCosts(bad)
	c.validateProviders(bad)
	// Map iteration above is unordered; keep the report stable.
	slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// validateListeners checks the admin listener and the TLS files.
func (s *Server) validateListeners(bad func(key, format string, args ...any)) {
	if s.AdminListen != "" {
		if !strings.Contains(s.AdminListen, ":") {
			bad("server.admin_listen", "%q is not a host:port address", s.AdminListen)
		} else if s.AdminListen == s.Listen && !strings.HasSuffix(s.Listen, ":0") {
			bad("server.admin_listen", "%q is server.listen too: the admin listener needs an address of its own", s.AdminListen)
		}
	} else if s.AdminTLSCertFile != "" || s.AdminTLSKeyFile != "" {
		bad("server.admin_tls_cert_file", "set without server.admin_listen")
	}
	for _, pair := range [][2]string{{"tls_cert_file", "tls_key_file"}, {"admin_tls_cert_file", "admin_tls_key_file"}} {
		cert, key := s.TLSFiles(pair[0] == "admin_tls_cert_file")
		if (cert == "") != (key == "") {
			bad("server."+pair[0], "server.%s and server.%s go together: set both or neither", pair[0], pair[1])
		}
	}
}

// TLSFiles are the certificate and key files of the public listener, or of
// the admin one; empty: it serves plain HTTP.
func (s *Server) TLSFiles(admin bool) (cert, key string) {
	if admin {
		return s.AdminTLSCertFile, s.AdminTLSKeyFile
	}
	return s.TLSCertFile, s.TLSKeyFile
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// SlogLevel is Level as a slog.Level.
func (l Log) SlogLevel() slog.Level { return logLevels[l.Level] }

// Summary is the one-line description check-config prints.
func (c *Config) Summary() string {
	names := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		names[i] = p.Name
	}
	listen := c.Server.Listen
	if c.Server.AdminListen != "" {
		listen += ", admin listen " + c.Server.AdminListen
	}
	return fmt.Sprintf("config ok: listen %s, storage %s, %d providers [%s], %d notifiers, %d routes, %d thresholds",
		listen, c.Storage.Driver, len(c.Providers), strings.Join(names, " "), len(c.Notifiers), len(c.Routes), len(c.Thresholds))
}

// Duration is a time.Duration written as a string ("30s", "10m", "1h").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a number with a unit: \"500ms\", \"30s\", \"10m\", \"1h\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret is a string that never prints: in logs, errors and %v it is
// "<redacted>". Reveal returns the value.
type Secret string

// Reveal returns the secret's value, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// GoString redacts.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the value.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in every string of v. An
// unset variable without a default is an error naming the key.
func expandEnv(v reflect.Value, key string) []error {
	var errs []error
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !strings.Contains(s, "${") {
			return nil
		}
		out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if val, ok := os.LookupEnv(m[1]); ok {
				return val
			}
			if m[2] != "" {
				return m[2][2:]
			}
			errs = append(errs, fmt.Errorf("%s: environment variable %s is not set", key, m[1]))
			return ""
		})
		v.SetString(out)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			errs = append(errs, expandEnv(v.Field(i), joinKey(key, name))...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			errs = append(errs, expandEnv(v.Index(i), fmt.Sprintf("%s[%d]", key, i))...)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return nil
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			errs = append(errs, expandEnv(e, joinKey(key, k.String()))...)
			v.SetMapIndex(k, e)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			errs = append(errs, expandEnv(v.Elem(), key)...)
		}
	}
	return errs
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
