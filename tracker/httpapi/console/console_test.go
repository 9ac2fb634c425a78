package console_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/httpapi"
)

// newAPI serves the API, console included, over a fresh SQLite database,
// with token as the API token ("" for none).
func newAPI(t *testing.T, token string) (*httptest.Server, *tracker.Tracker) {
	t.Helper()
	tr := tracker.New(storagetest.Open(t, storage.DriverSQLite), tracker.Options{})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Tracker: tr, APIToken: token, MaxBodyBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return srv, tr
}

// signIn posts the token with a fresh CSRF cookie and returns the cookies
// and the answer.
func signIn(t *testing.T, base, token, next string) (*http.Response, []*http.Cookie) {
	t.Helper()
	res, _ := do(t, mustRequest(t, "GET", base+"/ui/login", ""))
	cookies := res.Cookies()
	csrf := cookieValue(cookies, "jobwatch_csrf")
	req := mustRequest(t, "POST", base+"/ui/login", url.Values{"csrf": {csrf}, "token": {token}, "next": {next}}.Encode())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, _ = do(t, req)
	return res, append(cookies, res.Cookies()...)
}

func cookieValue(cookies []*http.Cookie, name string) string {
	for _, c := range cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// A sign-in sets a session cookie no script can read and no other site
// sends, goes only to a console page next, and is refused with a wrong
// token; every page says no shared cache may keep it.
func TestSession(t *testing.T) {
	t.Parallel()
	srv, _ := newAPI(t, "s3cret-token")
	res, _ := signIn(t, srv.URL, "wrong", "/ui/jobs")
	if res.StatusCode != http.StatusUnauthorized || cookieValue(res.Cookies(), "jobwatch_session") != "" {
		t.Errorf("wrong token: %d, cookies %v; want 401 and no session", res.StatusCode, res.Cookies())
	}
	res, cookies := signIn(t, srv.URL, "s3cret-token", "//evil.example/ui/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/" {
		t.Errorf("sign in with next=//evil.example: %d to %q, want 303 to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "jobwatch_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/ui/" ||
		strings.Contains(session.Value, "s3cret") {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, on /ui/, without the token", session)
	}
	for _, page := range []string{"/ui/", "/ui/jobs", "/ui/deliveries", "/ui/alerts", "/ui/usage", "/ui/login"} {
		req := mustRequest(t, "GET", srv.URL+page, "")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, body := do(t, req)
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s signed in: %d, Cache-Control %q", page, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	// A session cookie is good only until its expiry, signed by this
	// token's key: one signed as the daemon signs, but expired, is refused.
	sign := func(exp string) string {
		key := hmac.New(sha256.New, []byte("s3cret-token"))
		key.Write([]byte("jobwatch console sessions"))
		m := hmac.New(sha256.New, key.Sum(nil))
		m.Write([]byte("jobwatch console session " + exp))
		return exp + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	if e, _, _ := strings.Cut(session.Value, "."); sign(e) != session.Value {
		t.Fatalf("the test signs sessions otherwise than the console")
	}
	expired := sign(strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10))
	for name, value := range map[string]string{"expired": expired, "forged": "99999999999.AAAA"} {
		req := mustRequest(t, "GET", srv.URL+"/ui/", "")
		req.AddCookie(&http.Cookie{Name: "jobwatch_session", Value: value})
		if res, _ := do(t, req); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s session: %d, want 303 to the sign-in page", name, res.StatusCode)
		}
	}
	// Another daemon's token does not sign this one's sessions.
	other, _ := newAPI(t, "another-token")
	req := mustRequest(t, "GET", other.URL+"/ui/", "")
	req.AddCookie(session)
	if res, _ := do(t, req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a session of another token: %d, want 303", res.StatusCode)
	}
}

// A form that changes something is refused without its CSRF token, or
// with another's, even with a session.
func TestFormsNeedTheirCSRFToken(t *testing.T) {
	t.Parallel()
	srv, tr := newAPI(t, "s3cret-token")
	if _, _, err := tr.Track(t.Context(), tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_1"}); err != nil {
		t.Fatal(err)
	}
	_, cookies := signIn(t, srv.URL, "s3cret-token", "/ui/")
	csrf := cookieValue(cookies, "jobwatch_csrf")
	post := func(form url.Values) int {
		req := mustRequest(t, "POST", srv.URL+"/ui/jobs/openai/batch_1/resolve", form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, _ := do(t, req)
		return res.StatusCode
	}
	for name, form := range map[string]url.Values{
		"no token":    {"status": {"cancelled"}, "reason": {"by hand"}},
		"wrong token": {"csrf": {strings.Repeat("A", 43)}, "status": {"cancelled"}, "reason": {"by hand"}},
	} {
		if code := post(form); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, code)
		}
	}
	if j, _ := tr.Job(t.Context(), "openai", "batch_1"); j.Status != tracker.StatusPending {
		t.Fatalf("a refused form changed the job: %s", j.Status)
	}
	if code := post(url.Values{"csrf": {csrf}, "status": {"cancelled"}, "reason": {"by hand"}}); code != http.StatusSeeOther {
		t.Errorf("with its token: %d, want 303 to the job", code)
	}
	if j, _ := tr.Job(t.Context(), "openai", "batch_1"); j.Status != tracker.StatusCancelled || j.ResolvedBy != tracker.SourceAPI {
		t.Errorf("after the form: %s by %q, want cancelled by api", j.Status, j.ResolvedBy)
	}
}

// Without an API token the console is open, and its sign-in page says so.
func TestOpenWithoutToken(t *testing.T) {
	t.Parallel()
	srv, _ := newAPI(t, "")
	if res, body := do(t, mustRequest(t, "GET", srv.URL+"/ui/", "")); res.StatusCode != http.StatusOK || !strings.Contains(body, "No jobs yet.") {
		t.Errorf("GET /ui/ without a token configured: %d", res.StatusCode)
	}
	if _, body := do(t, mustRequest(t, "GET", srv.URL+"/ui/login", "")); !strings.Contains(body, "the console is open") {
		t.Errorf("sign-in page without a token configured does not say the console is open")
	}
	if res, body := do(t, mustRequest(t, "GET", srv.URL+"/ui/jobs/openai/nope", "")); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "No such job.") {
		t.Errorf("GET an unknown job: %d", res.StatusCode)
	}
	if res, _ := do(t, mustRequest(t, "GET", srv.URL+"/ui/static/console.css", "")); res.StatusCode != http.StatusOK ||
		!strings.HasPrefix(res.Header.Get("Cache-Control"), "private") {
		t.Errorf("stylesheet: %d, Cache-Control %q; want 200, private", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}
