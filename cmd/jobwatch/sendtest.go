package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
	"github.com/jobwatch/jobwatch/tracker/config"
)

// runSendTestEvent is the dashboard's "Send Test Event" button from the
// shell: a realistic payload for the provider's type, signed with its
// configured scheme and first secret, posted to the daemon.
func runSendTestEvent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("send-test-event", stderr)
	path := fs.String("config", "", "config file (TOML) naming the provider")
	name := fs.String("provider", "", "provider name from the config (required)")
	typ := fs.String("type", "", "event type the provider sends, e.g. batch.completed, fine_tuning.job.succeeded, training.completed (required)")
	job := fs.String("job", "", "the provider's job id the event is about (required)")
	url := fs.String("url", "", "where to post (default: the configured listen address, /webhooks/{provider})")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" || *typ == "" || *job == "" {
		fmt.Fprintln(stderr, "usage: jobwatch send-test-event --config FILE --provider NAME --type TYPE --job ID [--url URL]")
		return errUsage
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	p, ok := cfg.Provider(*name)
	if !ok {
		return fmt.Errorf("no provider named %q in %s", *name, *path)
	}
	if p.Webhook == nil {
		return fmt.Errorf("provider %s has no [providers.webhook] table", p.Name)
	}
	if types, known := config.EventTypes(p.Type); known && !slices.Contains(types, *typ) {
		return fmt.Errorf("provider %s (type %s) does not send %q events; it sends %s", p.Name, p.Type, *typ, strings.Join(types, ", "))
	}
	now := time.Now().UTC()
	body, err := testEvent(p, *typ, *job, now)
	if err != nil {
		return err
	}
	target := *url
	if target == "" {
		target = "http://" + dialable(cfg.Server.Listen) + "/webhooks/" + p.Name
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if len(p.Webhook.Secrets) > 0 {
		signer, err := signature.NewSigner(p.Webhook.SignatureConfig())
		if err != nil {
			return fmt.Errorf("provider %s: %w", p.Name, err)
		}
		if err := signer.Sign(req.Header, "msg_test_"+randomHex(8), body, now); err != nil {
			return fmt.Errorf("sign test event: %w", err)
		}
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("post test event: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "POST %s %s\n%s\n-> %s %s\n", target, *typ, body, resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the daemon answered %s", resp.Status)
	}
	return nil
}

// dialable turns a listen address into one to connect to.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testEvent builds a realistic payload of the provider's type.
func testEvent(p *config.Provider, typ, job string, now time.Time) ([]byte, error) {
	status := typ[strings.LastIndex(typ, ".")+1:]
	evtID := "evt_test_" + randomHex(8)
	var v any
	switch p.Type {
	case config.TypeOpenAI:
		v = map[string]any{"id": evtID, "object": "event", "created_at": now.Unix(), "type": typ, "data": map[string]any{"id": job}}
	case config.TypeMythicDot:
		obj := map[string]any{"id": job, "status": status}
		switch {
		case strings.HasPrefix(typ, "batch."):
			obj["object"] = "batch"
			obj["request_counts"] = map[string]int{"total": 100, "completed": 98, "failed": 2}
			obj["output_file_id"] = "file_test_output"
		case strings.HasPrefix(typ, "fine_tuning.job."):
			obj["object"] = "fine_tuning.job"
			if status == "created" {
				obj["status"] = "queued"
			}
			if status == "succeeded" {
				obj["fine_tuned_model"] = "ft:gpt-4o-mini:jobwatch-test"
				obj["trained_tokens"] = 123456
			}
		default:
			obj = map[string]any{"metric": "tokens", "threshold": 0.8, "current": 800000, "limit": 1000000}
		}
		v = map[string]any{"id": evtID, "type": typ, "created": now.Unix(), "data": map[string]any{"object": obj}}
	case config.TypeLLMTune:
		data := map[string]any{"jobId": job, "baseModel": "meta-llama/Llama-3.3-70B-Instruct", "trainingMethod": "sft", "status": status,
			"metrics": map[string]any{"loss": 1.12, "evalLoss": 1.02, "totalTokens": 3250000}, "createdAt": now.Add(-time.Hour).Format(time.RFC3339)}
		if status != "started" {
			data["completedAt"] = now.Format(time.RFC3339)
		}
		v = map[string]any{"event": typ, "data": data, "deliveredAt": now.Format(time.RFC3339)}
	case config.TypeGeneric:
		g := p.Generic
		m := map[string]any{}
		for path, val := range map[string]any{g.EventID: evtID, g.EventType: typ, g.JobID: job, g.Status: status, g.OccurredAt: now.Format(time.RFC3339)} {
			if path != "" {
				setPath(m, path, val)
			}
		}
		v = m
	default:
		return nil, fmt.Errorf("provider %s: no test events for type %q", p.Name, p.Type)
	}
	return json.Marshal(v)
}

// setPath sets a dot-separated path in nested maps.
func setPath(m map[string]any, path string, val any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = val
}
