package daemon

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// listener is one of the daemon's listeners and the face of the API it
// serves.
type listener struct {
	// key is its address's config key, "listen" or "admin_listen": its
	// name in the log.
	key     string
	ln      net.Listener
	handler http.Handler
	// certs, when set, serves HTTPS with the reloaded certificate.
	certs *certReloader
}

// listen binds the daemon's listeners: server.listen alone serving every
// route, or with server.admin_listen, the public face there and the admin
// face on admin_listen. On failure nothing stays bound.
func listen(s config.Server, api *httpapi.Server, log *slog.Logger) ([]*listener, error) {
	type face struct {
		key, addr string
		admin     bool
		routes    httpapi.Face
	}
	faces := []face{{"listen", s.Listen, false, httpapi.AllRoutes}}
	if s.AdminListen != "" {
		faces[0].routes = httpapi.PublicRoutes
		faces = append(faces, face{"admin_listen", s.AdminListen, true, httpapi.AdminRoutes})
	}
	var out []*listener
	closeAll := func() {
		for _, l := range out {
			l.ln.Close()
		}
	}
	for _, f := range faces {
		l := &listener{key: f.key, handler: api.Face(f.routes)}
		if cert, key := s.TLSFiles(f.admin); cert != "" {
			c, err := newCertReloader(cert, key, certCheckInterval, log)
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("server.%s TLS: %w", f.key, err)
			}
			l.certs = c
		}
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen on %s (server.%s): %w", f.addr, f.key, err)
		}
		l.ln = ln
		out = append(out, l)
	}
	return out, nil
}

// server is the HTTP server of the listener.
func (l *listener) server(s config.Server, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           l.handler,
		ReadHeaderTimeout: s.ReadTimeout.D(),
		ReadTimeout:       s.ReadTimeout.D(),
		WriteTimeout:      s.WriteTimeout.D(),
		MaxHeaderBytes:    s.MaxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if l.certs != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: l.certs.GetCertificate}
	}
	return srv
}

// serve serves srv on the listener until srv shuts down.
func (l *listener) serve(srv *http.Server) error {
	if l.certs != nil {
		return srv.ServeTLS(l.ln, "", "")
	}
	return srv.Serve(l.ln)
}

// scheme is the URL scheme the listener serves.
func (l *listener) scheme() string {
	if l.certs != nil {
		return "https"
	}
	return "http"
}
