// Package console is jobwatch's web console, served by the daemon at /ui/
// on the API's listener: server-rendered pages (html/template, with their
// stylesheet embedded in the binary) over the tracker's reads, usable
// without JavaScript. It signs people in with the API token once, keeping
// an HttpOnly, SameSite=Strict session cookie, and refuses every form that
// changes something without its CSRF token.
//
// It is part of the jobwatch daemon, not of the library's public API;
// tracker/httpapi mounts it.
package console

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/sweep"
)

//go:embed templates/*.html static/*
var assets embed.FS

// JobPoller polls one job now: the sweeper's PollJob (see
// httpapi.JobPoller for its errors).
type JobPoller interface {
	PollJob(ctx context.Context, provider, externalID string) (tracker.Job, error)
}

// Options configure the console.
type Options struct {
	Tracker *tracker.Tracker
	// Poller serves the job page's "poll now"; nil: no such button.
	Poller JobPoller
	// LastSweep tells the overview the newest sweep of this process; nil:
	// the overview says nothing of sweeps.
	LastSweep func() sweep.LastSweep
	// TokenOK checks a token against the API token; nil: no token is
	// configured and the console is open to whoever reaches it.
	TokenOK func(token string) bool
	// SessionKey signs the session cookies; required with TokenOK. Derive
	// it from the API token, so that every replica accepts the sessions of
	// the others and a new token ends the old sessions.
	SessionKey []byte
	Logger     *slog.Logger
}

// SessionLifetime is how long a sign-in lasts.
const SessionLifetime = 12 * time.Hour

// Cookie names.
const (
	sessionCookie = "jobwatch_session"
	csrfCookie    = "jobwatch_csrf"
	// csrfField is the form field that must repeat the CSRF cookie.
	csrfField = "csrf"
)

// Console serves the pages.
type Console struct {
	opts Options
}

// pages are the parsed templates by name, each with the layout; the
// embedded files parse or the package does not start.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"overview", "jobs", "job", "deliveries", "alerts", "usage", "login", "error"} {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

// New builds the console. With opts.TokenOK it needs opts.SessionKey.
func New(opts Options) *Console {
	if opts.TokenOK != nil && len(opts.SessionKey) == 0 {
		panic("console: a token check needs a session key")
	}
	return &Console{opts: opts}
}

// Register adds the console's routes through handle, the API's
// Server.Handle: the console checks its own sessions, so none of them asks
// for the bearer token.
func (c *Console) Register(handle func(pattern string, h http.HandlerFunc)) {
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	handle("GET /ui/static/", func(w http.ResponseWriter, r *http.Request) {
		// Private: a shared cache keeps nothing of the console.
		w.Header().Set("Cache-Control", "private, max-age=3600")
		files.ServeHTTP(w, r)
	})
	handle("GET /ui/login", c.page(c.loginForm, false))
	handle("POST /ui/login", c.form(c.login, false))
	handle("POST /ui/logout", c.form(c.logout, false))
	handle("GET /ui/{$}", c.page(c.overview, true))
	handle("GET /ui/jobs", c.page(c.jobs, true))
	handle("GET /ui/jobs/{provider}/{id}", c.page(c.job, true))
	if c.opts.Poller != nil {
		handle("POST /ui/jobs/{provider}/{id}/poll", c.form(c.pollJob, true))
	}
	handle("POST /ui/jobs/{provider}/{id}/resolve", c.form(c.resolveJob, true))
	handle("POST /ui/jobs/{provider}/{id}/untrack", c.form(c.untrackJob, true))
	handle("GET /ui/deliveries", c.page(c.deliveries, true))
	handle("GET /ui/alerts", c.page(c.alerts, true))
	handle("POST /ui/alerts/{id}/retry", c.form(c.retryAlert, true))
	handle("GET /ui/usage", c.page(c.usage, true))
}

// view is what a page handler answers: the page's template and data, or
// an error to show.
type view struct {
	page  string
	title string
	data  any
	code  int
}

// pageData is what every template sees.
type pageData struct {
	Title string
	// Nav is the page's entry in the navigation.
	Nav  string
	CSRF string
	// SignedIn is true when a session is open (a token is configured).
	SignedIn bool
	Data     any
}

// headers sets what every answer of the console carries: no caching by
// anyone but the browser, and a policy that runs no script at all.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// page wraps a GET handler: with authenticated, a request without a
// session goes to the sign-in page first.
func (c *Console) page(h func(r *http.Request) view, authenticated bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		if authenticated && !c.signedIn(r) {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		c.render(w, r, h(r))
	}
}

// form wraps a POST handler: the form must carry the CSRF token of its
// page, and with authenticated a session. h answers a view to show, or
// a zero view when it has redirected.
func (c *Console) form(h func(w http.ResponseWriter, r *http.Request) view, authenticated bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			c.render(w, r, failure(http.StatusBadRequest, "The form could not be read."))
			return
		}
		cookie, err := r.Cookie(csrfCookie)
		sent := r.PostForm.Get(csrfField)
		if err != nil || cookie.Value == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(sent)) != 1 {
			c.render(w, r, failure(http.StatusForbidden, "This form's CSRF token is missing or wrong: reload the page and send it again."))
			return
		}
		if authenticated && !c.signedIn(r) {
			c.render(w, r, failure(http.StatusUnauthorized, "Sign in first."))
			return
		}
		if v := h(w, r); v.page != "" {
			c.render(w, r, v)
		}
	}
}

// render writes v, setting the CSRF cookie when the browser has none.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v view) {
	d := pageData{Title: v.title, Nav: v.page, Data: v.data, SignedIn: c.opts.TokenOK != nil && c.signedIn(r)}
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		d.CSRF = ck.Value
	} else {
		d.CSRF = newToken()
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: d.CSRF, Path: "/ui/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(cmp.Or(v.code, http.StatusOK))
	if err := pages[v.page].Execute(w, d); err != nil && r.Context().Err() == nil {
		c.opts.Logger.Error("console: render page", "page", v.page, "error", err)
	}
}

// failure is the error page with its status and message.
func failure(code int, msg string) view {
	return view{page: "error", title: http.StatusText(code), data: msg, code: code}
}

// storageFailure logs a failed read or write and answers the error page:
// 404 for an unknown job, 400 for bad input, 503 for storage.
func (c *Console) storageFailure(r *http.Request, err error) view {
	var verr *tracker.ValidationError
	switch {
	case errors.As(err, &verr):
		return failure(http.StatusBadRequest, verr.Error())
	case errors.Is(err, tracker.ErrNotFound):
		return failure(http.StatusNotFound, "No such job.")
	}
	if r.Context().Err() == nil {
		c.opts.Logger.Error("console: request failed", "route", r.Pattern, "error", err)
	}
	return failure(http.StatusServiceUnavailable, "Storage did not answer; retry later.")
}

// newToken is 32 random bytes, base64url without padding (43 characters).
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionValue is the session cookie of a sign-in valid until exp:
// exp in Unix seconds and its MAC under the session key.
func (c *Console) sessionValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + c.sessionMAC(e)
}

func (c *Console) sessionMAC(exp string) string {
	m := hmac.New(sha256.New, c.opts.SessionKey)
	m.Write([]byte("jobwatch console session " + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn reports whether r may see the console: no token is configured,
// or r carries an unexpired session cookie signed by the session key.
func (c *Console) signedIn(r *http.Request) bool {
	if c.opts.TokenOK == nil {
		return true
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	e, mac, ok := strings.Cut(ck.Value, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	if !ok || err != nil || time.Now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(c.sessionMAC(e)))
}

// loginData is the sign-in page's.
type loginData struct {
	Next string
	// Wrong is set after a wrong token.
	Wrong bool
	// Open is set when no token is configured: there is nothing to ask.
	Open bool
}

func (c *Console) loginForm(r *http.Request) view {
	return view{page: "login", title: "Sign in", data: loginData{Next: safeNext(r.URL.Query().Get("next")), Open: c.opts.TokenOK == nil}}
}

// login checks the token and opens a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) view {
	next := safeNext(r.PostForm.Get("next"))
	if c.opts.TokenOK == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return view{}
	}
	if !c.opts.TokenOK(r.PostForm.Get("token")) {
		return view{page: "login", title: "Sign in", data: loginData{Next: next, Wrong: true}, code: http.StatusUnauthorized}
	}
	exp := time.Now().Add(SessionLifetime)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: c.sessionValue(exp), Path: "/ui/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
	return view{}
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) view {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return view{}
}

// safeNext is where to go after signing in: a console page, never another
// site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}
