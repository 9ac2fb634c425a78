package storage

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Defaults of the PostgreSQL connection settings.
const (
	// DefaultConnectTimeout bounds opening one PostgreSQL connection: TCP
	// connect, TLS, startup and authentication.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultStatementTimeout is the statement_timeout of jobwatch's
	// PostgreSQL sessions: the server cancels a statement still running
	// after it. Statements take milliseconds; migrations and the sweep's
	// claims take seconds on millions of jobs: ten minutes only ever cuts
	// one that is stuck.
	DefaultStatementTimeout = 10 * time.Minute
)

// keepAlive is the TCP keepalive of PostgreSQL sockets: probes start after
// 15 s of silence, every 15 s, and 4 unanswered probes (about 75 s) end a
// connection whose server or network is gone.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 4}

// pgConnector opens PostgreSQL connections that give up when their caller
// does. pq alone bounds a connection's handshake by connect_timeout only,
// and a statement in flight by nothing: on a server that accepts TCP but
// never answers (stopped, swapping, behind a hung proxy), a read waits until
// the server wakes, whatever the caller's deadline. Here the handshake ends
// with the connect timeout or the caller's context, whichever comes first,
// and a statement's socket is expired when its context ends (connDialer).
type pgConnector struct {
	cfg            pq.Config
	connectTimeout time.Duration
}

// newPGConnector parses cfg's DSN and applies the connection settings: the
// connect timeout (the DSN's connect_timeout, else cfg's, else the default)
// and statement_timeout (unless the DSN sets it).
func newPGConnector(cfg Config) (*pgConnector, error) {
	pc, err := postgresConfig(cfg.DSN)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout < 0 || cfg.StatementTimeout < 0 {
		return nil, errors.New("open postgres: timeouts must not be negative")
	}
	c := &pgConnector{cfg: pc.Clone(), connectTimeout: cmp.Or(pc.ConnectTimeout, cfg.ConnectTimeout, DefaultConnectTimeout)}
	// Connect enforces the timeout: pq's own would cancel the dial's
	// context as soon as the socket is up, and with it connDialer's watch.
	c.cfg.ConnectTimeout = 0
	if _, ok := c.cfg.Runtime["statement_timeout"]; !ok {
		c.cfg.Runtime["statement_timeout"] = strconv.FormatInt(cmp.Or(cfg.StatementTimeout, DefaultStatementTimeout).Milliseconds(), 10)
	}
	return c, nil
}

// Connect opens one connection, within the connect timeout and ctx.
func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.connectTimeout, fmt.Errorf("no answer within the connect timeout (%s)", c.connectTimeout))
	defer cancel()
	d := &connDialer{}
	stop := context.AfterFunc(ctx, d.expire)
	pqc, err := pq.NewConnectorConfig(c.cfg)
	if err != nil {
		return nil, err
	}
	pqc.Dialer(d)
	conn, err := pqc.Connect(ctx)
	if !stop() {
		// ctx ended first: the socket is expired, whatever the handshake
		// made of it.
		if err == nil {
			conn.Close()
		}
		return nil, fmt.Errorf("connect: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.open = true
	d.mu.Unlock()
	return conn, nil
}

// Driver is pq's driver.
func (c *pgConnector) Driver() driver.Driver { return &pq.Driver{} }

// connDialer dials the sockets of one PostgreSQL connection, with TCP
// keepalives. While Connect runs, its dials are the connection's attempts.
// Once the connection is open, pq dials only to send a cancel request, when
// the context of a statement in flight has ended (or a transaction's, which
// pq watches from BEGIN to COMMIT or ROLLBACK); pq has then marked the
// connection bad, and the dialer expires its socket first, so that the read
// waiting for the answer returns now rather than whenever the server
// answers.
type connDialer struct {
	mu sync.Mutex
	// conn is the socket of the latest attempt, then of the open connection.
	conn net.Conn
	// open is set once Connect has returned the connection.
	open bool
	// expired is set when the connection's socket has been expired: Connect's
	// context ended, or a statement's.
	expired bool
}

// DialContext dials a connection attempt or a cancel request.
func (d *connDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	cancelRequest := d.open
	d.mu.Unlock()
	if cancelRequest {
		d.expire()
	}
	nc, err := (&net.Dialer{KeepAliveConfig: keepAlive}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if cancelRequest {
		// pq reads until the server closes the socket: a server that does
		// not answer is given until pq's deadline for the request.
		if deadline, ok := ctx.Deadline(); ok {
			nc.SetDeadline(deadline)
		}
		return nc, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expired {
		nc.Close()
		return nil, errors.New("the connect timeout or the caller's context ended")
	}
	d.conn = nc
	return nc, nil
}

// Dial is DialContext without a context (pq calls DialContext).
func (d *connDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTimeout is DialContext with a timeout (pq calls DialContext).
func (d *connDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// expire makes every read and write of the connection's socket fail at
// once, now and later.
func (d *connDialer) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expired = true
	if d.conn != nil {
		d.conn.SetDeadline(time.Unix(1, 0))
	}
}
