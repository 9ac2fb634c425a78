package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// CreateDatabase creates an empty PostgreSQL database named prefix plus a
// random suffix, through adminDSN (a role that may create databases), and
// returns its DSN and a function that drops it. Tests and the bench command
// use it so that every run has a database of its own.
func CreateDatabase(ctx context.Context, adminDSN, prefix string) (dsn string, drop func(context.Context) error, err error) {
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("open admin connection: %w", redactDSNError(err, adminDSN))
	}
	defer db.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, redactDSNError(err, adminDSN))
	}
	drop = func(ctx context.Context) error {
		db, err := sql.Open("postgres", adminDSN)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	dsn, err = withDBName(adminDSN, name)
	if err != nil {
		drop(ctx)
		return "", nil, err
	}
	return dsn, drop, nil
}

// withDBName points a URL or key=value DSN at another database.
func withDBName(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse DSN: %w", redactDSNError(err, dsn))
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}
