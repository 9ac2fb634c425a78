package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// testEvent builds a realistic payload of the provider's type, as its
// providers.Type's SampleEvent makes it.
func testEvent(p *config.Provider, typ, job string, now time.Time) ([]byte, error) {
	t, ok := p.ProviderType()
	if !ok || t.SampleEvent == nil {
		return nil, fmt.Errorf("provider %s: no test events for type %q", p.Name, p.Type)
	}
	body, err := t.SampleEvent(p.Settings(), typ, job, "evt_test_"+randomHex(8), now)
	if err != nil {
		return nil, fmt.Errorf("provider %s: build test event: %w", p.Name, err)
	}
	return body, nil
}
