package ingest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/time/rate"

	"github.com/jobwatch/jobwatch/providers/generic"
	"github.com/jobwatch/jobwatch/providers/llmtune"
	"github.com/jobwatch/jobwatch/providers/mythicdot"
	"github.com/jobwatch/jobwatch/providers/openai"
	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/ingest"
)

const (
	openaiSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	oldSecret    = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	mythicSecret = "whsec_mythic_plain_secret"
	llmSecret    = "llmtune-secret"
	taskSecret   = "task-secret"
)

type env struct {
	srv   *httptest.Server
	store *storage.Store
	tr    *tracker.Tracker
	h     *ingest.Handler
	reg   *prometheus.Registry
}

func mustVerifier(t *testing.T, cfg signature.Config) signature.Verifier {
	t.Helper()
	v, err := signature.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func setup(t *testing.T, driver string) *env {
	t.Helper()
	return setupWith(t, driver, options{})
}

// options vary setup: zero values keep its defaults.
type options struct {
	// now is the handler's clock; nil: time.Now.
	now func() time.Time
	// logger is the handler's log; nil: discarded.
	logger *slog.Logger
	// store wraps the test's store; nil: none.
	store func(*storage.Store) tracker.Store
}

func setupWith(t *testing.T, driver string, o options) *env {
	t.Helper()
	store := storagetest.Open(t, driver)
	var ts tracker.Store = store
	if o.store != nil {
		ts = o.store(store)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := prometheus.NewRegistry()
	tr := tracker.New(ts, tracker.Options{MaxConcurrentCommits: 2})
	gen, err := generic.New(generic.Config{
		EventID: "id", EventType: "type", JobID: "data.batch_id", Status: "data.status", OccurredAt: "created_at",
		Kind:      tracker.KindBatch,
		StatusMap: map[string]tracker.Status{"processing": tracker.StatusRunning, "completed": tracker.StatusSucceeded, "failed": tracker.StatusFailed},
		Usage:     map[string]string{"requests_total": "data.total_requests", "requests_failed": "data.failed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := ingest.New(ingest.Options{
		Tracker: tr,
		Providers: []ingest.Provider{
			{Name: "openai", Adopt: true, Parser: openai.WebhookParser{},
				Verifier: mustVerifier(t, signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{oldSecret, openaiSecret}})},
			{Name: "mythicdot", Adopt: true, Parser: mythicdot.WebhookParser{},
				Verifier: mustVerifier(t, signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{mythicSecret}, SignatureHeader: "X-MythicDot-Signature"})},
			{Name: "llmtune", Adopt: false, Parser: llmtune.WebhookParser{},
				Verifier: mustVerifier(t, signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{llmSecret}, SignatureHeader: "X-LLMTune-Signature"})},
			{Name: "tasks", Adopt: true, Parser: gen,
				Verifier: mustVerifier(t, signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{taskSecret}, SignatureHeader: "X-Signature", TimestampHeader: "X-Timestamp"})},
			{Name: "limited", Adopt: true, Parser: openai.WebhookParser{}, Limiter: rate.NewLimiter(rate.Every(time.Hour), 1)},
		},
		MaxBodyBytes: 64 << 10,
		Logger:       o.logger,
		Registry:     reg,
		Now:          o.now,
	})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{name}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, tr: tr, h: h, reg: reg}
}

// signOpenAI signs body with the Standard Webhooks reference library, not
// jobwatch's own code.
func signOpenAI(t *testing.T, msgID string, body []byte, at time.Time) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(openaiSecret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(msgID, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Webhook-Id": {msgID}, "Webhook-Timestamp": {strconv.FormatInt(at.Unix(), 10)}, "Webhook-Signature": {sig}}
}

func hexHMAC(secret string, msg []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

func (e *env) post(t *testing.T, provider string, h http.Header, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/"+provider, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func openaiEvent(evtID, typ, batchID string, created time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","created_at":%d,"type":%q,"data":{"id":%q}}`, evtID, created.Unix(), typ, batchID)
}

func (e *env) job(t *testing.T, provider, id string) (tracker.Job, bool) {
	t.Helper()
	j, err := e.tr.Job(context.Background(), provider, id)
	if err != nil {
		return j, false
	}
	return j, true
}

func TestIndependentlySignedEventsResolveJobs(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := setup(t, driver)
			ctx := context.Background()
			if _, _, err := e.tr.Track(ctx, tracker.TrackRequest{Provider: "openai", Kind: tracker.KindBatch, ExternalID: "batch_abc"}); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			body := openaiEvent("evt_1", "batch.completed", "batch_abc", now)
			h := signOpenAI(t, "wh_1", body, now)

			tampered := bytes.Replace(body, []byte("batch_abc"), []byte("batch_abd"), 1)
			if code, resp := e.post(t, "openai", h, tampered); code != 401 || !strings.Contains(resp, "bad_signature") {
				t.Fatalf("tampered event: %d %s, want 401 bad_signature", code, resp)
			}
			if _, ok := e.job(t, "openai", "batch_abd"); ok {
				t.Fatal("a tampered event created a job")
			}
			if j, _ := e.job(t, "openai", "batch_abc"); j.Status != tracker.StatusPending {
				t.Fatalf("a tampered event changed the job to %s", j.Status)
			}

			if code, resp := e.post(t, "openai", h, body); code != 200 || !strings.Contains(resp, "accepted") {
				t.Fatalf("genuine event: %d %s, want 200 accepted", code, resp)
			}
			j, _ := e.job(t, "openai", "batch_abc")
			if j.Status != tracker.StatusSucceeded || j.ResolvedBy != tracker.SourceWebhook || j.NextPollAt == nil || j.NextPollAt.After(time.Now()) {
				t.Fatalf("job after batch.completed = %+v, want succeeded and due now for enrichment", j)
			}
			if len(j.History) != 1 || string(j.History[0].Payload) != string(body) {
				t.Errorf("history payload = %s, want the exact body", j.History[0].Payload)
			}
			// The same event redelivered under a new delivery id is a duplicate.
			if code, resp := e.post(t, "openai", signOpenAI(t, "wh_2", body, now), body); code != 200 || !strings.Contains(resp, "duplicate") {
				t.Fatalf("redelivery: %d %s, want 200 duplicate", code, resp)
			}
			ds, _ := e.store.ListDeliveries(ctx, tracker.DeliveryFilter{Limit: 10})
			var got []string
			for _, d := range ds {
				got = append(got, string(d.Outcome))
			}
			if strings.Join(got, ",") != "duplicate,accepted,bad_signature" {
				t.Errorf("delivery log = %v", got)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	e := setup(t, storage.DriverSQLite)
	now := time.Now()
	body := openaiEvent("evt_a", "batch.failed", "batch_a", now)
	good := signOpenAI(t, "wh_a", body, now)
	without := func(k string) http.Header {
		h := good.Clone()
		h.Del(k)
		return h
	}
	signed := func(b []byte) http.Header { return signOpenAI(t, "wh_b", b, now) }
	big := append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("a"), 70<<10), `"}`...)...)
	tests := []struct {
		name     string
		provider string
		h        http.Header
		body     []byte
		code     int
		contains string
	}{
		{"stale timestamp", "openai", signOpenAI(t, "wh_s", body, now.Add(-6*time.Minute)), body, 401, "stale_timestamp"},
		{"future timestamp", "openai", signOpenAI(t, "wh_f", body, now.Add(6*time.Minute)), body, 401, "future_timestamp"},
		{"missing signature", "openai", without("Webhook-Signature"), body, 401, "missing_header"},
		{"missing id", "openai", without("Webhook-Id"), body, 401, "missing_header"},
		{"wrong secret", "mythicdot", http.Header{"X-Mythicdot-Signature": {hexHMAC("nope", body)}}, body, 401, "bad_signature"},
		{"malformed JSON", "openai", signed([]byte(`{"id":`)), []byte(`{"id":`), 400, "payload"},
		{"missing job id", "openai", signed([]byte(`{"id":"evt_x","object":"event","created_at":1,"type":"batch.completed","data":{}}`)), []byte(`{"id":"evt_x","object":"event","created_at":1,"type":"batch.completed","data":{}}`), 400, "data.id"},
		{"oversized", "openai", signed(big), big, 413, "larger than"},
		{"not UTF-8", "openai", signed([]byte("{\"id\":\"evt_\xff\"}")), []byte("{\"id\":\"evt_\xff\"}"), 400, "UTF-8"},
		{"unknown provider", "nobody", good, body, 404, "no provider named"},
		{"unknown type", "openai", signed(openaiEvent("evt_rt", "realtime.call.incoming", "call_1", now)), openaiEvent("evt_rt", "realtime.call.incoming", "call_1", now), 200, "recorded"},
		{"rotated: old secret first, new one matches", "openai", good, body, 200, "accepted"},
	}
	for _, tt := range tests {
		code, resp := e.post(t, tt.provider, tt.h, tt.body)
		if code != tt.code || !strings.Contains(resp, tt.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.name, code, resp, tt.code, tt.contains)
		}
		for _, secret := range []string{openaiSecret, mythicSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
			if strings.Contains(resp, secret) {
				t.Errorf("%s: the answer leaks a secret: %s", tt.name, resp)
			}
		}
	}
	resp, err := http.Get(e.srv.URL + "/webhooks/openai")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, want 405 with Allow: POST", resp.StatusCode)
	}
	if code, _ := e.post(t, "limited", nil, openaiEvent("evt_l1", "batch.completed", "b_l", now)); code != 200 {
		t.Errorf("first request under the rate limit: %d", code)
	}
	if code, _ := e.post(t, "limited", nil, openaiEvent("evt_l2", "batch.completed", "b_l", now)); code != 429 {
		t.Errorf("second request over the rate limit: %d, want 429", code)
	}
	// Nothing rejected changed a job; every request is in the log.
	page, _ := e.tr.List(context.Background(), tracker.Filter{Provider: "openai"})
	if len(page.Jobs) != 1 || page.Jobs[0].ExternalID != "batch_a" {
		t.Errorf("openai jobs = %+v, want only batch_a from the one accepted event", page.Jobs)
	}
	ds, _ := e.store.ListDeliveries(context.Background(), tracker.DeliveryFilter{Limit: 100})
	if len(ds) != len(tests)+3 {
		t.Errorf("delivery log has %d rows, want %d", len(ds), len(tests)+3)
	}
	for _, d := range ds {
		if len(d.Excerpt) > tracker.MaxExcerptBytes {
			t.Errorf("delivery %d keeps %d bytes of an untrusted body", d.ID, len(d.Excerpt))
		}
	}
}

func TestProvidersSignedAsTheirDocsDescribe(t *testing.T) {
	t.Parallel()
	e := setup(t, storage.DriverSQLite)
	ctx := context.Background()

	// MythicDot's Python sample: hmac.new(WEBHOOK_SECRET.encode(), request.get_data(), sha256).hexdigest()
	mythic := []byte(`{
  "id": "evt_abc123xyz789",
  "type": "batch.completed",
  "created": 1706140800,
  "data": {
    "object": {
      "id": "batch_abc123",
      "status": "completed",
      "request_counts": {"total": 1000, "completed": 998, "failed": 2},
      "output_file_id": "file_xyz789"
    }
  }
}`)
	if code, resp := e.post(t, "mythicdot", http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, mythic)}}, mythic); code != 200 {
		t.Fatalf("MythicDot event: %d %s", code, resp)
	}
	j, ok := e.job(t, "mythicdot", "batch_abc123")
	if !ok || j.Status != tracker.StatusSucceeded || j.Usage.RequestsFailed != 2 || j.Details["output_file_id"] != "file_xyz789" || j.Details["request_failure"] != "partial" {
		t.Fatalf("MythicDot job = %+v", j)
	}

	// LLMTune's Node sample signs JSON.stringify(payload): compact JSON.
	if _, _, err := e.tr.Track(ctx, tracker.TrackRequest{Provider: "llmtune", Kind: tracker.KindFineTuning, ExternalID: "job-uuid"}); err != nil {
		t.Fatal(err)
	}
	var payload any
	json.Unmarshal([]byte(`{"event":"training.completed","data":{"jobId":"job-uuid","baseModel":"meta-llama/Llama-3.3-70B-Instruct","trainingMethod":"sft","status":"completed","metrics":{"loss":1.12,"evalLoss":1.02,"tokensPerSecond":178,"totalTokens":3250000},"createdAt":"2025-11-01T15:23:54Z","completedAt":"2025-11-01T16:45:12Z"},"deliveredAt":"2025-11-08T14:22:31Z"}`), &payload)
	llm, _ := json.Marshal(payload)
	if code, resp := e.post(t, "llmtune", http.Header{"X-LLMTune-Signature": {hexHMAC(llmSecret, llm)}}, llm); code != 200 || !strings.Contains(resp, "accepted") {
		t.Fatalf("LLMTune event: %d %s", code, resp)
	}
	j, _ = e.job(t, "llmtune", "job-uuid")
	if j.Status != tracker.StatusSucceeded || j.Usage.TrainedTokens != 3250000 {
		t.Fatalf("LLMTune job = %+v", j)
	}
	// llmtune adopts nothing: an unknown job's event is recorded only.
	other := bytes.Replace(llm, []byte("job-uuid"), []byte("job-other"), 1)
	if code, resp := e.post(t, "llmtune", http.Header{"X-LLMTune-Signature": {"sha256=" + hexHMAC(llmSecret, other)}}, other); code != 200 || !strings.Contains(resp, "recorded") {
		t.Fatalf("LLMTune event for an unknown job: %d %s, want 200 recorded", code, resp)
	}
	if _, ok := e.job(t, "llmtune", "job-other"); ok {
		t.Fatal("unknown_jobs = record created a job")
	}

	// The generic task API of the seed document, from config alone.
	task := []byte(`{"id":"evt_t1","type":"batch.completed","created_at":"2026-11-01T10:00:00Z","data":{"batch_id":"task_9","status":"completed","total_requests":1000,"completed":995,"failed":5}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	th := http.Header{"X-Signature": {hexHMAC(taskSecret, []byte(ts+"."+string(task)))}, "X-Timestamp": {ts}}
	if code, resp := e.post(t, "tasks", th, task); code != 200 {
		t.Fatalf("generic event: %d %s", code, resp)
	}
	j, _ = e.job(t, "tasks", "task_9")
	if j.Status != tracker.StatusSucceeded || j.Usage.RequestsTotal != 1000 || j.Usage.RequestsFailed != 5 {
		t.Fatalf("generic job = %+v", j)
	}
}

func TestConcurrentDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := setup(t, driver)
			body := []byte(`{"id":"evt_same","type":"batch.completed","created":1706140800,"data":{"object":{"id":"batch_dup","status":"completed","request_counts":{"total":10,"completed":10,"failed":0}}}}`)
			h := http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, body)}}
			var (
				mu     sync.Mutex
				counts = map[string]int{}
				wg     sync.WaitGroup
				start  = make(chan struct{})
			)
			for range 50 {
				wg.Go(func() {
					<-start
					code, resp := e.post(t, "mythicdot", h, body)
					mu.Lock()
					defer mu.Unlock()
					counts[fmt.Sprintf("%d %s", code, strings.TrimSpace(resp))]++
				})
			}
			close(start)
			wg.Wait()
			if counts[`200 {"status":"accepted"}`] != 1 || counts[`200 {"status":"duplicate"}`] != 49 {
				t.Fatalf("answers = %v, want one accepted and 49 duplicates", counts)
			}
			j, _ := e.job(t, "mythicdot", "batch_dup")
			if len(j.History) != 1 {
				t.Fatalf("history has %d rows, want 1", len(j.History))
			}
		})
	}
}

func TestOutOfOrderDeliveries(t *testing.T) {
	t.Parallel()
	for _, driver := range storagetest.Backends {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			e := setup(t, driver)
			ev := func(id, status string, created int64) ([]byte, http.Header) {
				b := fmt.Appendf(nil, `{"id":%q,"type":"batch.%s","created":%d,"data":{"object":{"id":"batch_o","status":%q}}}`, id, status, created, status)
				return b, http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, b)}}
			}
			done, dh := ev("evt_done", "completed", 2000)
			late, lh := ev("evt_late", "in_progress", 1000)
			conflict, ch := ev("evt_conflict", "failed", 3000)
			// Only the first changes the job: the late and the conflicting
			// ones are recorded, not accepted (which says applied).
			for _, d := range []struct {
				b      []byte
				h      http.Header
				answer string
			}{{done, dh, "accepted"}, {late, lh, "recorded"}, {conflict, ch, "recorded"}} {
				if code, resp := e.post(t, "mythicdot", d.h, d.b); code != 200 || !strings.Contains(resp, `"`+d.answer+`"`) {
					t.Fatalf("%d %s, want 200 %s", code, resp, d.answer)
				}
			}
			j, _ := e.job(t, "mythicdot", "batch_o")
			if j.Status != tracker.StatusSucceeded || j.ProviderStatus != "completed" {
				t.Fatalf("after a late in_progress the job is %s/%s, want succeeded/completed", j.Status, j.ProviderStatus)
			}
			ds, _ := e.store.ListDeliveries(context.Background(), tracker.DeliveryFilter{Limit: 10})
			var got []string
			for _, d := range ds {
				got = append(got, string(d.Outcome))
			}
			if strings.Join(got, ",") != "recorded,recorded,accepted" {
				t.Errorf("delivery log = %v, want the answers", got)
			}
		})
	}
}

func TestStorageDownAnswers503(t *testing.T) {
	t.Parallel()
	e := setup(t, storage.DriverSQLite)
	e.store.Close()
	body := []byte(`{"id":"evt_x","type":"batch.completed","created":1,"data":{"object":{"id":"b","status":"completed"}}}`)
	code, resp := e.post(t, "mythicdot", http.Header{"X-MythicDot-Signature": {hexHMAC(mythicSecret, body)}}, body)
	if code != 503 {
		t.Fatalf("with storage down: %d %s, want 503", code, resp)
	}
}
