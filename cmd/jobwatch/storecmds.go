package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jobwatch/jobwatch/storage"
)

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	path := fs.String("config", "", "config file (TOML) of the daemon whose SQLite database to copy")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return printUsage("backup", stderr)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if cfg.Storage.Driver == storage.DriverPostgres {
		return errors.New("the storage is PostgreSQL: back it up with pg_dump (jobwatch backup copies a SQLite database)")
	}
	// The daemon migrates its database; a backup only reads it.
	sc := cfg.Storage.StorageConfig()
	s, err := storage.Open(ctx, sc)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Backup(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", sc.DSN, pos[0])
	return nil
}

func runMigrateStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate-store", stderr)
	from := fs.String("from", "", "the store to copy: sqlite:PATH or postgres:DSN")
	to := fs.String("to", "", "the empty store to fill: sqlite:PATH or postgres:DSN")
	fromConfig := fs.String("from-config", "", "config file whose storage is the store to copy (instead of --from)")
	toConfig := fs.String("to-config", "", "config file whose storage is the store to fill (instead of --to)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || (*from == "") == (*fromConfig == "") || (*to == "") == (*toConfig == "") {
		return printUsage("migrate-store", stderr)
	}
	src, err := storeFlag("--from", *from, *fromConfig)
	if err != nil {
		return err
	}
	dst, err := storeFlag("--to", *to, *toConfig)
	if err != nil {
		return err
	}
	if src.Driver == dst.Driver && src.DSN == dst.DSN {
		return badUsage("--from and --to name the same store")
	}
	if err := sourceExists(src); err != nil {
		return err
	}
	source, err := storage.Open(ctx, src)
	if err != nil {
		return fmt.Errorf("open the source: %w", err)
	}
	defer source.Close()
	target, err := storage.Open(ctx, dst)
	if err != nil {
		return fmt.Errorf("open the target: %w", err)
	}
	defer target.Close()
	if _, err := target.Migrate(ctx); err != nil {
		return fmt.Errorf("the target: %w", err)
	}
	counts, err := storage.Copy(ctx, source, target)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "rows copied per table:")
	for _, c := range counts {
		fmt.Fprintf(stdout, "  %-20s %d\n", c.Table, c.Rows)
	}
	fmt.Fprintf(stdout, "copied the %s store into the %s store\n", src.Driver, dst.Driver)
	return nil
}

// storeFlag is the store a --from/--to "driver:dsn" value, or the config
// file of its --from-config/--to-config twin, names.
func storeFlag(name, value, configPath string) (storage.Config, error) {
	if configPath != "" {
		cfg, err := loadConfig(configPath)
		if err != nil {
			return storage.Config{}, err
		}
		return cfg.Storage.StorageConfig(), nil
	}
	driver, dsn, ok := strings.Cut(value, ":")
	if !ok || dsn == "" || (driver != storage.DriverSQLite && driver != storage.DriverPostgres) {
		// The value may hold a password: the message does not quote it.
		return storage.Config{}, badUsage("%s: want sqlite:PATH or postgres:DSN", name)
	}
	c := storage.Config{Driver: driver, DSN: dsn}
	if err := storage.Check(c); err != nil {
		return storage.Config{}, badUsage("%s: %v", name, err)
	}
	return c, nil
}

// sourceExists refuses a SQLite source path that names no file, which
// opening it would create empty.
func sourceExists(c storage.Config) error {
	if c.Driver != storage.DriverSQLite || strings.HasPrefix(c.DSN, "file:") {
		return nil
	}
	if _, err := os.Stat(c.DSN); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the source %s does not exist", c.DSN)
	}
	return nil
}
