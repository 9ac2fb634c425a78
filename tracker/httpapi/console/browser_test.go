package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker/config"
	"github.com/jobwatch/jobwatch/tracker/daemon"
	"github.com/jobwatch/jobwatch/tracker/internal/logtest"
)

const (
	apiToken      = "console-test-token-5f2a"
	webhookSecret = "mythic-console-secret"
	// bulkJobs are registered beside the named ones, to page through.
	bulkJobs = 60
)

// chromium is the browser the tests drive, or "" when none is installed.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// site is a daemon seeded for the console's tests, with the fake provider
// API it polls and the receiver its alerts go to.
type site struct {
	url string
	// polls counts the provider API's requests by job id.
	mu    sync.Mutex
	polls map[string]int
}

func (s *site) pollCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls[id]
}

// startSite starts a daemon over a fresh SQLite database with the API
// token set, one mythicdot provider (webhooks signed, polled at a fake
// API that answers every batch completed), a price for its model, a daily
// token threshold, and a
// webhook notifier whose receiver refuses every alert for good (so that a
// failed job's alert is dead at once); and seeds it through its webhooks
// and API.
func startSite(t *testing.T) *site {
	t.Helper()
	s := &site{polls: map[string]int{}}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/batches/")
		s.mu.Lock()
		s.polls[id]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"object":"batch","status":"completed","model":"gpt-4o-mini","output_file_id":"file-out-%s",
			"request_counts":{"total":10,"completed":10,"failed":0},"usage":{"input_tokens":700,"output_tokens":300,"total_tokens":1000}}`, id, id)
	}))
	t.Cleanup(api.Close)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusBadRequest)
	}))
	t.Cleanup(receiver.Close)

	sc := storagetest.Config(t, storage.DriverSQLite)
	cfg, err := config.Parse(fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
api_token = %q
[storage]
driver = "sqlite"
dsn = %q
[log]
level = "error"
[alerts]
interval = "50ms"
[[notifiers]]
name = "downstream"
type = "webhook"
url = %q
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[routes]]
events = ["job.failed"]
notifiers = ["downstream"]
[[thresholds]]
name = "daily-tokens"
metric = "tokens"
window = "day"
limit = 5000
[[prices]]
provider = "mythicdot"
model = "gpt-4o-mini*"
input_per_million = 1.0
output_per_million = 2.0
[[providers]]
name = "mythicdot"
type = "mythicdot"
base_url = %q
api_key = "mythic-key"
[providers.webhook]
secrets = [%q]
`, apiToken, sc.DSN, receiver.URL, api.URL, webhookSecret))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logtest.Buffer{}
	d, err := daemon.New(ctx, cfg, daemon.NewLogger(cfg.Log, logs))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s.url = "http://" + d.Addr().String()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		if t.Failed() {
			t.Logf("the daemon's log:\n%s", logs)
		}
	})

	for i := range bulkJobs {
		team := []string{"search", "ads"}[i%2]
		s.v1(t, "POST", "/v1/jobs", fmt.Sprintf(`{"provider":"mythicdot","kind":"batch","id":"bulk_%03d","labels":{"team":%q}}`, i, team), http.StatusCreated)
	}
	s.v1(t, "POST", "/v1/jobs", `{"provider":"mythicdot","kind":"batch","id":"batch_mixed","labels":{"team":"search"},"metadata":{"purpose":"nightly eval"}}`, http.StatusCreated)
	s.webhook(t, "evt_mixed_1", "batch.in_progress", "batch_mixed", "in_progress")
	s.v1(t, "POST", "/v1/jobs/mythicdot/batch_mixed/poll", "", http.StatusOK)
	s.webhook(t, "evt_topoll_1", "batch.in_progress", "batch_topoll", "in_progress")
	s.webhook(t, "evt_failed_1", "batch.failed", "batch_failed", "failed")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.v1(t, "GET", "/v1/alerts?state=dead", "", http.StatusOK), "batch_failed") {
		if time.Now().After(deadline) {
			t.Fatal("the failed job's alert is not dead after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// v1 calls the API with the token and checks the status; it returns the body.
func (s *site) v1(t *testing.T, method, path, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, b := do(t, req)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	return b
}

// webhook posts a signed MythicDot event about a batch.
func (s *site) webhook(t *testing.T, eventID, typ, jobID, status string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"type":%q,"created":%d,"data":{"object":{"id":%q,"object":"batch","status":%q}}}`,
		eventID, typ, time.Now().Unix(), jobID, status)
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte(body))
	req, err := http.NewRequest("POST", s.url+"/webhooks/mythicdot", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-MythicDot-Signature", hex.EncodeToString(mac.Sum(nil)))
	if res, b := do(t, req); res.StatusCode != http.StatusOK {
		t.Fatalf("webhook %s = %d %s", eventID, res.StatusCode, b)
	}
}

// do sends req without following redirects and reads the answer.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// browser is one headless Chromium tab and the errors its pages logged.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts Chromium with a fresh profile, offline, for the test.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s)", m, m.URL))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps in the tab, bounded to 20 seconds.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs one action that answers a value.
func get[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// text is the text of the first element sel matches.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return get(t, b, chromedp.Text(chromedp.CSS(sel)))
}

// count is how many elements sel matches.
func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	return get(t, b, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

func (b *browser) location(t *testing.T) string {
	t.Helper()
	return get(t, b, chromedp.Location())
}

// takeErrors returns the errors logged since the last call.
func (b *browser) takeErrors() []string {
	time.Sleep(50 * time.Millisecond) // let the last page's messages arrive
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := b.errors
	b.errors = nil
	return errs
}

// submit clicks sel and waits until the page it leads to has loaded.
func submit(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Evaluate[chromedp.Void](`window.__before = true; undefined`, chromedp.EvalIgnoreExceptions)(ctx, t); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
			return err
		}
		if _, err := chromedp.Click(chromedp.CSS(sel))(ctx, t); err != nil {
			return err
		}
		for {
			loaded, err := chromedp.Evaluate[bool](`window.__before === undefined && document.readyState === "complete"`)(ctx, t)
			if err == nil && loaded {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no new page after clicking %s: %w", sel, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// eval runs a script for its effect.
func eval(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[*runtime.RemoteObject](script)(ctx, t)
		return err
	})
}

func TestConsoleInBrowser(t *testing.T) {
	path := chromium()
	if path == "" {
		t.Skip("Chromium is not installed: install it (Debian: apt-get install chromium) to run the console's browser tests")
	}
	s := startSite(t)
	b := newBrowser(t, path)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	t.Run("RefusesAMissingOrWrongToken", func(t *testing.T) {
		res, _ := do(t, mustRequest(t, "GET", s.url+"/ui/jobs", ""))
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/ui/login") {
			t.Errorf("GET /ui/jobs without a session = %d to %q, want 303 to the sign-in page", res.StatusCode, res.Header.Get("Location"))
		}
		forged := mustRequest(t, "GET", s.url+"/ui/jobs", "")
		forged.AddCookie(&http.Cookie{Name: "jobwatch_session", Value: fmt.Sprintf("%d.forged", time.Now().Add(time.Hour).Unix())})
		if res, _ := do(t, forged); res.StatusCode != http.StatusSeeOther {
			t.Errorf("GET /ui/jobs with a forged session = %d, want 303 to the sign-in page", res.StatusCode)
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"))
		if u, _ := url.Parse(b.location(t)); u.Path != "/ui/login" || u.Query().Get("next") != "/ui/jobs" {
			t.Fatalf("the browser went to %s, want the sign-in page", u)
		}
		b.do(t, chromedp.SendKeys(css("#token"), "not-the-token"), submit("form.stack button"))
		if text, loc := b.text(t, "main"), b.location(t); !strings.Contains(text, "That is not the API token.") || !strings.Contains(loc, "/ui/login") {
			t.Fatalf("after a wrong token: at %s, page says %q", loc, text)
		}
		b.takeErrors() // the 401 of the wrong token is logged
	})

	t.Run("SignsInOnce", func(t *testing.T) {
		b.do(t, chromedp.SendKeys(css("#token"), apiToken), submit("form.stack button"))
		if loc, h := b.location(t), b.text(t, "h1"); !strings.HasSuffix(loc, "/ui/jobs") || h != "Jobs" {
			t.Fatalf("after signing in: at %s, heading %q; want the jobs page asked for", loc, h)
		}
	})

	t.Run("EveryPageLoadsWithoutErrors", func(t *testing.T) {
		b.takeErrors()
		for _, p := range []struct{ path, heading, sel string }{
			{"/ui/", "Overview", "#by-status"},
			{"/ui/jobs", "Jobs", "#jobs"},
			{"/ui/jobs/mythicdot/batch_mixed", "mythicdot batch batch_mixed", "#timeline"},
			{"/ui/deliveries", "Webhook deliveries", "#deliveries"},
			{"/ui/alerts", "Alerts", "#alerts"},
			{"/ui/usage", "Usage", "figure.chart svg"},
		} {
			b.do(t, chromedp.Navigate(s.url+p.path))
			if h, n := b.text(t, "h1"), b.count(t, p.sel); h != p.heading || n == 0 {
				t.Errorf("%s: heading %q, %d of %s; want %q and its content", p.path, h, n, p.sel, p.heading)
			}
			if errs := b.takeErrors(); len(errs) > 0 {
				t.Errorf("%s logged errors: %v", p.path, errs)
			}
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/"))
		if n := b.text(t, "#running"); n != "1" {
			t.Errorf("overview: %s running, want 1 (batch_topoll)", n)
		}
		if text := b.text(t, "#webhook-health"); !strings.Contains(text, "50%") {
			t.Errorf("webhook health %q, want half the day's ends learned by webhook (batch_failed), half by poll (batch_mixed)", text)
		}
	})

	t.Run("FitsAPhoneAndTheKeyboard", func(t *testing.T) {
		b.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		// Back to the size the browser started with (ResetViewport would
		// leave the emulated width).
		defer b.do(t, chromedp.EmulateViewport(1280, 900))
		for _, page := range []string{"/ui/", "/ui/jobs", "/ui/jobs/mythicdot/batch_mixed", "/ui/deliveries", "/ui/alerts", "/ui/usage"} {
			b.do(t, chromedp.Navigate(s.url+page))
			// Wide tables scroll in their own box; the page itself never
			// scrolls sideways.
			if w := get(t, b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
				t.Errorf("%s is %dpx wide on a 390px phone", page, w)
			}
		}
		// The first Tab reaches the skip link, and Enter on it moves to
		// the page's content.
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"), chromedp.KeyEvent("\t"))
		if focused := get(t, b, chromedp.Evaluate[string](`document.activeElement.className`)); focused != "skip" {
			t.Errorf("the first Tab focuses %q, want the skip link", focused)
		}
		b.do(t, chromedp.KeyEvent("\r"))
		if loc := b.location(t); !strings.HasSuffix(loc, "#main") {
			t.Errorf("Enter on the skip link: at %s, want #main", loc)
		}
	})

	t.Run("FiltersNarrowTheList", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"))
		if n := b.count(t, "#jobs tbody tr"); n != 50 {
			t.Errorf("first page: %d jobs, want 50", n)
		}
		b.do(t, submit("#next-page"))
		if n, want := b.count(t, "#jobs tbody tr"), bulkJobs+3-50; n != want {
			t.Errorf("second page: %d jobs, want %d", n, want)
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"), chromedp.SetValue(css("#status"), "failed"), submit("form.filters button"))
		if n, text := b.count(t, "#jobs tbody tr"), b.text(t, "#jobs tbody"); n != 1 || !strings.Contains(text, "batch_failed") {
			t.Errorf("status failed: %d jobs %q, want batch_failed alone", n, text)
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"), chromedp.SendKeys(css("#label"), "team=ads"), submit("form.filters button"))
		if n := b.count(t, "#jobs tbody tr"); n != bulkJobs/2 {
			t.Errorf("label team=ads: %d jobs, want %d", n, bulkJobs/2)
		}
		b.do(t, chromedp.SetValue(css("#status"), "succeeded"), submit("form.filters button"))
		if n := b.count(t, "#no-jobs"); n != 1 {
			t.Errorf("team=ads and succeeded: want no jobs")
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs"), chromedp.SendKeys(css("#q"), "topoll"), submit("form.filters button"))
		if n, text := b.count(t, "#jobs tbody tr"), b.text(t, "#jobs tbody"); n != 1 || !strings.Contains(text, "batch_topoll") {
			t.Errorf("id contains topoll: %d jobs %q, want batch_topoll alone", n, text)
		}
	})

	t.Run("TimelineShowsWebhookAndPoll", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/batch_mixed"))
		sources := get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline .source")].map(e => e.textContent)`))
		effects := get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline .effect")].map(e => e.textContent)`))
		if strings.Join(sources, ",") != "webhook,poll" || strings.Join(effects, ",") != "applied,applied" {
			t.Errorf("timeline sources %v, effects %v; want the webhook's then the poll's observation, both applied", sources, effects)
		}
		if n, status := b.count(t, "#timeline details pre"), b.text(t, "#status"); n != 2 || !strings.Contains(status, "succeeded") {
			t.Errorf("timeline: %d payloads, status %q; want each observation's payload, succeeded", n, status)
		}
	})

	t.Run("ShowsCost", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/batch_mixed"))
		// 700 input tokens at 1 USD and 300 output at 2 USD a million.
		if cost := b.text(t, "#cost"); cost != "0.0013 USD" {
			t.Errorf("cost %q, want 0.0013 USD", cost)
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/"))
		if spend := b.text(t, "#spend-today"); !strings.Contains(spend, "0.0013 USD") {
			t.Errorf("spend today %q, want 0.0013 USD", spend)
		}
	})

	t.Run("MarkResolved", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/bulk_001"), chromedp.SetValue(css("#resolve-status"), "cancelled"),
			chromedp.SendKeys(css("#resolve-reason"), "cancelled in the dashboard"), submit("#resolve button"))
		if text := b.text(t, "main"); !strings.Contains(text, "Marked resolved.") || !strings.Contains(b.text(t, "#status"), "cancelled") ||
			!strings.Contains(get(t, b, chromedp.TextContent(css("#timeline"))), "cancelled in the dashboard") {
			t.Errorf("after mark resolved: %q; want the job cancelled, the reason in its history", text)
		}
		if body := s.v1(t, "GET", "/v1/jobs/mythicdot/bulk_001", "", http.StatusOK); !strings.Contains(body, `"resolved_by":"api"`) {
			t.Errorf("the job after mark resolved: %s", body)
		}
	})

	t.Run("StopTracking", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/bulk_002"), submit("#untrack button"))
		if text := b.text(t, "main"); !strings.Contains(text, "No longer tracked") || b.count(t, "#untracked") != 1 || b.count(t, "#poll-now") != 0 {
			t.Errorf("after stop tracking: %q; want it untracked, with no poll button", text)
		}
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/bulk_004"), chromedp.Click(css("#purge")), submit("#untrack button"))
		if loc := b.location(t); !strings.HasSuffix(loc, "/ui/jobs") {
			t.Errorf("after purge: at %s, want the job list", loc)
		}
		s.v1(t, "GET", "/v1/jobs/mythicdot/bulk_004", "", http.StatusNotFound)
	})

	t.Run("PollNow", func(t *testing.T) {
		before := s.pollCount("batch_topoll")
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/batch_topoll"))
		if text := b.text(t, "#status"); !strings.Contains(text, "running") {
			t.Fatalf("before the poll: %q, want running", text)
		}
		b.do(t, submit("#poll-now"))
		if text := b.text(t, "main"); !strings.Contains(text, "Polled just now.") || !strings.Contains(b.text(t, "#status"), "succeeded") || s.pollCount("batch_topoll") != before+1 {
			t.Errorf("after poll now: %d polls, page %q; want one poll and the job succeeded", s.pollCount("batch_topoll")-before, text)
		}
	})

	t.Run("RetryADeadAlert", func(t *testing.T) {
		b.do(t, chromedp.Navigate(s.url+"/ui/alerts?state=dead"))
		if n := b.count(t, "#alerts tbody tr"); n != 1 {
			t.Fatalf("%d dead alerts, want batch_failed's", n)
		}
		b.do(t, submit("#alerts button"))
		if loc, text := b.location(t), b.text(t, "main"); !strings.Contains(loc, "state=pending") || !strings.Contains(text, "is pending again") {
			t.Errorf("after retry: at %s, page %q", loc, text)
		}
		// The receiver refuses it again: it is dead again after one
		// more attempt, its attempts counted afresh.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(s.v1(t, "GET", "/v1/alerts?state=dead", "", http.StatusOK), `"attempts":1`) {
			if time.Now().After(deadline) {
				t.Fatal("the retried alert was not attempted again within 10s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	// JOBWATCH_SCREENSHOTS=dir writes the README's pictures of the
	// overview and of a job (deploy/screenshots).
	if dir := os.Getenv("JOBWATCH_SCREENSHOTS"); dir != "" {
		t.Run("Screenshots", func(t *testing.T) {
			for name, page := range map[string]string{"overview": "/ui/", "job": "/ui/jobs/mythicdot/batch_mixed"} {
				b.do(t, chromedp.Navigate(s.url+page))
				png := get(t, b, chromedp.FullScreenshot(100))
				if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("RefusesAFormWithoutItsCSRFToken", func(t *testing.T) {
		before := s.pollCount("batch_mixed")
		b.do(t, chromedp.Navigate(s.url+"/ui/jobs/mythicdot/batch_mixed"),
			eval(`document.querySelector(".actions input[name=csrf]").remove()`), submit("#poll-now"))
		if text := b.text(t, "main"); !strings.Contains(text, "CSRF token is missing or wrong") || s.pollCount("batch_mixed") != before {
			t.Errorf("a poll without its CSRF token: page %q, %d polls; want it refused", text, s.pollCount("batch_mixed")-before)
		}
		b.takeErrors() // the 403 is logged
	})
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
