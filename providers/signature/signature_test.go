package signature_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
)

// Standard Webhooks spec test vector, shared by its reference libraries.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = "1614265330"
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vecBadSig = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

var (
	t0 = time.Unix(1614265330, 0)
	// otherWhsec is a second valid whsec_ secret (32 bytes of 0x07).
	otherWhsec = "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	body       = `{"id":"evt_abc123xyz789","type":"batch.completed","created":1706140800}`
	tampered   = `{"id":"evt_abc123xyz789","type":"batch.completed","created":1706140801}`
)

// macOf is the test's own HMAC-SHA256 of the concatenated parts.
func macOf(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(secret string, parts ...string) string {
	return hex.EncodeToString(macOf([]byte(secret), parts...))
}

// swSig is a "v1,<base64>" entry for a whsec_ secret over id.ts.body.
func swSig(whsec, id, ts, body string) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil {
		panic(err)
	}
	return "v1," + base64.StdEncoding.EncodeToString(macOf(key, id, ".", ts, ".", body))
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

type verifyCase struct {
	name   string
	cfg    signature.Config
	header map[string]string
	body   string
	now    time.Time
	want   string // "" for success, else the Reason
	inMsg  string // substring the error message must contain
}

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := signature.New(tc.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			h := http.Header{}
			for k, val := range tc.header {
				h.Set(k, val)
			}
			err = v.Verify(h, []byte(tc.body), tc.now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			var se *signature.Error
			if !errors.As(err, &se) {
				t.Fatalf("Verify = %v (%T), want *signature.Error with reason %s", err, err, tc.want)
			}
			if se.Reason != tc.want {
				t.Fatalf("Verify reason = %s (%v), want %s", se.Reason, err, tc.want)
			}
			msg := err.Error()
			if msg == "" {
				t.Fatal("empty error message")
			}
			if !strings.Contains(msg, tc.inMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.inMsg)
			}
			for _, s := range tc.cfg.Secrets {
				if strings.Contains(msg, s) {
					t.Errorf("message %q contains a secret", msg)
				}
			}
		})
	}
}

func TestSpecTestVector(t *testing.T) {
	t.Parallel()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vecSecret, "whsec_"))
	if err != nil || len(key) != 24 {
		t.Fatalf("vector secret decodes to %d bytes (err %v), want 24", len(key), err)
	}
	cfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}}
	s, err := signature.NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := s.Sign(h, vecID, []byte(vecBody), t0); err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-signature"); got != vecSig {
		t.Errorf("Sign: webhook-signature = %q, want %q", got, vecSig)
	}
	if got := h.Get("webhook-timestamp"); got != vecTS {
		t.Errorf("Sign: webhook-timestamp = %q, want %q", got, vecTS)
	}
	if got := h.Get("webhook-id"); got != vecID {
		t.Errorf("Sign: webhook-id = %q, want %q", got, vecID)
	}
}

func TestVerifyStandardWebhooks(t *testing.T) {
	t.Parallel()
	cfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}}
	rotated := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{otherWhsec, vecSecret}}
	wrong := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{otherWhsec}}
	raw := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{"plain secret"}}
	short := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}, Tolerance: 10 * time.Second}
	hdr := func(id, ts, sig string) map[string]string {
		m := map[string]string{}
		for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if v != "" {
				m[k] = v
			}
		}
		return m
	}
	valid := hdr(vecID, vecTS, vecSig)
	other := swSig(otherWhsec, vecID, vecTS, vecBody)
	v1a := "v1a," + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))
	tooMany := strings.TrimSpace(strings.Repeat(vecBadSig+" ", 16) + vecSig)
	rawSig := "v1," + base64.StdEncoding.EncodeToString(macOf([]byte("plain secret"), vecID, ".", vecTS, ".", vecBody))
	nextTS := strconv.Itoa(1614265331)

	runVerifyCases(t, []verifyCase{
		{name: "spec vector", cfg: cfg, header: valid, body: vecBody, now: t0},
		{name: "spec known-bad signature", cfg: cfg, header: hdr(vecID, vecTS, vecBadSig), body: vecBody, now: t0, want: "bad_signature"},
		{name: "tampered body", cfg: cfg, header: valid, body: `{"test": 2432232315}`, now: t0, want: "bad_signature"},
		{name: "tampered id", cfg: cfg, header: hdr("msg_other", vecTS, vecSig), body: vecBody, now: t0, want: "bad_signature"},
		{name: "tampered timestamp", cfg: cfg, header: hdr(vecID, nextTS, vecSig), body: vecBody, now: t0, want: "bad_signature"},
		{name: "wrong secret", cfg: wrong, header: valid, body: vecBody, now: t0, want: "bad_signature"},
		{name: "rotated second secret matches", cfg: rotated, header: valid, body: vecBody, now: t0},
		{name: "raw secret without prefix", cfg: raw, header: hdr(vecID, vecTS, rawSig), body: vecBody, now: t0},
		{name: "stale just outside", cfg: cfg, header: valid, body: vecBody, now: t0.Add(5*time.Minute + time.Second), want: "stale_timestamp"},
		{name: "stale just inside", cfg: cfg, header: valid, body: vecBody, now: t0.Add(5 * time.Minute)},
		{name: "future just outside", cfg: cfg, header: valid, body: vecBody, now: t0.Add(-5*time.Minute - time.Second), want: "future_timestamp"},
		{name: "future just inside", cfg: cfg, header: valid, body: vecBody, now: t0.Add(-5 * time.Minute)},
		{name: "custom tolerance outside", cfg: short, header: valid, body: vecBody, now: t0.Add(11 * time.Second), want: "stale_timestamp"},
		{name: "custom tolerance inside", cfg: short, header: valid, body: vecBody, now: t0.Add(10 * time.Second)},
		{name: "stale checked before signature", cfg: cfg, header: hdr(vecID, vecTS, vecBadSig), body: vecBody, now: t0.Add(time.Hour), want: "stale_timestamp"},
		{name: "missing webhook-id", cfg: cfg, header: hdr("", vecTS, vecSig), body: vecBody, now: t0, want: "missing_header", inMsg: "webhook-id"},
		{name: "missing webhook-timestamp", cfg: cfg, header: hdr(vecID, "", vecSig), body: vecBody, now: t0, want: "missing_header", inMsg: "webhook-timestamp"},
		{name: "missing webhook-signature", cfg: cfg, header: hdr(vecID, vecTS, ""), body: vecBody, now: t0, want: "missing_header", inMsg: "webhook-signature"},
		{name: "malformed timestamp", cfg: cfg, header: hdr(vecID, "yesterday", vecSig), body: vecBody, now: t0, want: "malformed_header", inMsg: "webhook-timestamp"},
		{name: "largest timestamp is future", cfg: cfg, header: hdr(vecID, "9223372036854775807", vecSig), body: vecBody, now: t0, want: "future_timestamp"},
		{name: "smallest timestamp is stale", cfg: cfg, header: hdr(vecID, "-9223372036854775808", vecSig), body: vecBody, now: t0, want: "stale_timestamp"},
		{name: "timestamp beyond int64", cfg: cfg, header: hdr(vecID, "9223372036854775808", vecSig), body: vecBody, now: t0, want: "malformed_header"},
		{name: "fractional timestamp", cfg: cfg, header: hdr(vecID, vecTS+".5", vecSig), body: vecBody, now: t0, want: "malformed_header"},
		{name: "entry without version", cfg: cfg, header: hdr(vecID, vecTS, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body: vecBody, now: t0, want: "malformed_header"},
		{name: "v1 entry not base64", cfg: cfg, header: hdr(vecID, vecTS, "v1,not*base64"), body: vecBody, now: t0, want: "malformed_header"},
		{name: "v1 entry wrong length", cfg: cfg, header: hdr(vecID, vecTS, "v1,AAAA"), body: vecBody, now: t0, want: "malformed_header"},
		{name: "more than 16 entries", cfg: cfg, header: hdr(vecID, vecTS, tooMany), body: vecBody, now: t0, want: "malformed_header"},
		{name: "only v1a entry", cfg: cfg, header: hdr(vecID, vecTS, v1a), body: vecBody, now: t0, want: "no_signature"},
		{name: "only unknown version", cfg: cfg, header: hdr(vecID, vecTS, "v2,"+strings.TrimPrefix(vecSig, "v1,")), body: vecBody, now: t0, want: "no_signature"},
		{name: "multi-entry, match last", cfg: cfg, header: hdr(vecID, vecTS, v1a+" "+vecBadSig+" "+other+" "+vecSig), body: vecBody, now: t0},
		{name: "multi-entry, match first", cfg: cfg, header: hdr(vecID, vecTS, vecSig+" "+vecBadSig), body: vecBody, now: t0},
		{name: "multi-entry, none match", cfg: cfg, header: hdr(vecID, vecTS, vecBadSig+" "+other), body: vecBody, now: t0, want: "bad_signature"},
		{name: "16 entries, match last", cfg: cfg, header: hdr(vecID, vecTS, strings.TrimSpace(strings.Repeat(vecBadSig+" ", 15)+vecSig)), body: vecBody, now: t0},
	})
}

func TestVerifyHMACSHA256Hex(t *testing.T) {
	t.Parallel()
	const header = "X-MythicDot-Signature"
	// MythicDot's sample signs with WEBHOOK_SECRET.encode(): the whsec_
	// string's raw bytes, not base64-decoded, so this need not be base64.
	const secret = "whsec_mythic*not-base64"
	cfg := signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{secret}, SignatureHeader: header}
	rotated := signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"old", secret}, SignatureHeader: header}
	wrong := signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"old"}, SignatureHeader: header}
	sig := hexMAC(secret, body)
	with := func(v string) map[string]string { return map[string]string{header: v} }

	runVerifyCases(t, []verifyCase{
		{name: "valid", cfg: cfg, header: with(sig), body: body, now: t0},
		{name: "no timestamp, any now", cfg: cfg, header: with(sig), body: body, now: time.Unix(0, 0)},
		{name: "sha256= prefix", cfg: cfg, header: with("sha256=" + sig), body: body, now: t0},
		{name: "upper-case hex", cfg: cfg, header: with(strings.ToUpper(sig)), body: body, now: t0},
		{name: "sha256= prefix and upper-case hex", cfg: cfg, header: with("sha256=" + strings.ToUpper(sig)), body: body, now: t0},
		{name: "tampered body", cfg: cfg, header: with(sig), body: tampered, now: t0, want: "bad_signature"},
		{name: "empty body", cfg: cfg, header: with(sig), body: "", now: t0, want: "bad_signature"},
		{name: "wrong secret", cfg: wrong, header: with(sig), body: body, now: t0, want: "bad_signature"},
		{name: "rotated second secret matches", cfg: rotated, header: with(sig), body: body, now: t0},
		{name: "missing header", cfg: cfg, header: nil, body: body, now: t0, want: "missing_header", inMsg: header},
		{name: "other header only", cfg: cfg, header: map[string]string{"X-Signature": sig}, body: body, now: t0, want: "missing_header"},
		{name: "not hex", cfg: cfg, header: with("zz" + sig[2:]), body: body, now: t0, want: "malformed_header", inMsg: header},
		{name: "too short", cfg: cfg, header: with(sig[:62]), body: body, now: t0, want: "malformed_header"},
		{name: "odd length", cfg: cfg, header: with(sig[:63]), body: body, now: t0, want: "malformed_header"},
		{name: "other algorithm prefix", cfg: cfg, header: with("sha1=" + sig), body: body, now: t0, want: "malformed_header"},
		{name: "two signatures", cfg: cfg, header: with(sig + "," + sig), body: body, now: t0, want: "malformed_header"},
	})
}

func TestVerifyTimestampedHeaderPair(t *testing.T) {
	t.Parallel()
	const sigH, tsH = "X-OpenAI-Signature", "X-OpenAI-Timestamp"
	const secret = "oa-secret"
	mk := func(secrets ...string) signature.Config {
		return signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: secrets, SignatureHeader: sigH, TimestampHeader: tsH}
	}
	cfg, rotated, wrong := mk(secret), mk("old", secret), mk("old")
	ts := unix(t0)
	sig := hexMAC(secret, ts, ".", body)
	hdr := func(sig, ts string) map[string]string {
		m := map[string]string{}
		if sig != "" {
			m[sigH] = sig
		}
		if ts != "" {
			m[tsH] = ts
		}
		return m
	}
	valid := hdr(sig, ts)

	runVerifyCases(t, []verifyCase{
		{name: "valid", cfg: cfg, header: valid, body: body, now: t0},
		{name: "sha256= prefix", cfg: cfg, header: hdr("sha256="+sig, ts), body: body, now: t0},
		{name: "upper-case hex", cfg: cfg, header: hdr(strings.ToUpper(sig), ts), body: body, now: t0},
		{name: "tampered body", cfg: cfg, header: valid, body: tampered, now: t0, want: "bad_signature"},
		{name: "tampered timestamp", cfg: cfg, header: hdr(sig, unix(t0.Add(time.Second))), body: body, now: t0, want: "bad_signature"},
		{name: "body-only signature", cfg: cfg, header: hdr(hexMAC(secret, body), ts), body: body, now: t0, want: "bad_signature"},
		{name: "wrong secret", cfg: wrong, header: valid, body: body, now: t0, want: "bad_signature"},
		{name: "rotated second secret matches", cfg: rotated, header: valid, body: body, now: t0},
		{name: "stale just outside", cfg: cfg, header: valid, body: body, now: t0.Add(5*time.Minute + time.Second), want: "stale_timestamp"},
		{name: "stale just inside", cfg: cfg, header: valid, body: body, now: t0.Add(5 * time.Minute)},
		{name: "future just outside", cfg: cfg, header: valid, body: body, now: t0.Add(-5*time.Minute - time.Second), want: "future_timestamp"},
		{name: "future just inside", cfg: cfg, header: valid, body: body, now: t0.Add(-5 * time.Minute)},
		{name: "missing signature header", cfg: cfg, header: hdr("", ts), body: body, now: t0, want: "missing_header", inMsg: sigH},
		{name: "missing timestamp header", cfg: cfg, header: hdr(sig, ""), body: body, now: t0, want: "missing_header", inMsg: tsH},
		{name: "malformed timestamp", cfg: cfg, header: hdr(sig, "2021-02-25T15:02:10Z"), body: body, now: t0, want: "malformed_header", inMsg: tsH},
		{name: "malformed signature", cfg: cfg, header: hdr("v1="+sig, ts), body: body, now: t0, want: "malformed_header", inMsg: sigH},
	})
}

func TestVerifyTimestampedSingleHeader(t *testing.T) {
	t.Parallel()
	const secret = "whsec_stripe_raw_bytes"
	mk := func(secrets ...string) signature.Config {
		return signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: secrets}
	}
	cfg, rotated, wrong := mk(secret), mk("old", secret), mk("old")
	custom := signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{secret}, SignatureHeader: "X-Sig"}
	ts := unix(t0)
	sig := hexMAC(secret, ts, ".", body)
	bad := hexMAC("old", ts, ".", body)
	stripe := func(v string) map[string]string { return map[string]string{"Stripe-Signature": v} }
	valid := stripe("t=" + ts + ",v1=" + sig)
	tooMany := "t=" + ts + strings.Repeat(",v0="+bad, 15) + ",v1=" + sig

	runVerifyCases(t, []verifyCase{
		{name: "valid", cfg: cfg, header: valid, body: body, now: t0},
		{name: "custom header", cfg: custom, header: map[string]string{"X-Sig": "t=" + ts + ",v1=" + sig}, body: body, now: t0},
		{name: "custom header ignores Stripe-Signature", cfg: custom, header: valid, body: body, now: t0, want: "missing_header", inMsg: "X-Sig"},
		{name: "upper-case hex", cfg: cfg, header: stripe("t=" + ts + ",v1=" + strings.ToUpper(sig)), body: body, now: t0},
		{name: "multi-entry with v0 and unknown keys", cfg: cfg, header: stripe("t=" + ts + ",v1=" + bad + ",v1=" + sig + ",v0=" + bad + ",x=y"), body: body, now: t0},
		{name: "signature before timestamp", cfg: cfg, header: stripe("v1=" + sig + ",t=" + ts), body: body, now: t0},
		{name: "spaces after commas", cfg: cfg, header: stripe("t=" + ts + ", v1=" + sig), body: body, now: t0},
		{name: "multi-entry, none match", cfg: cfg, header: stripe("t=" + ts + ",v1=" + bad + ",v1=" + bad), body: body, now: t0, want: "bad_signature"},
		{name: "only v0", cfg: cfg, header: stripe("t=" + ts + ",v0=" + sig), body: body, now: t0, want: "no_signature"},
		{name: "tampered body", cfg: cfg, header: valid, body: tampered, now: t0, want: "bad_signature"},
		{name: "tampered timestamp", cfg: cfg, header: stripe("t=" + unix(t0.Add(time.Second)) + ",v1=" + sig), body: body, now: t0, want: "bad_signature"},
		{name: "wrong secret", cfg: wrong, header: valid, body: body, now: t0, want: "bad_signature"},
		{name: "rotated second secret matches", cfg: rotated, header: valid, body: body, now: t0},
		{name: "stale just outside", cfg: cfg, header: valid, body: body, now: t0.Add(5*time.Minute + time.Second), want: "stale_timestamp"},
		{name: "stale just inside", cfg: cfg, header: valid, body: body, now: t0.Add(5 * time.Minute)},
		{name: "future just outside", cfg: cfg, header: valid, body: body, now: t0.Add(-5*time.Minute - time.Second), want: "future_timestamp"},
		{name: "future just inside", cfg: cfg, header: valid, body: body, now: t0.Add(-5 * time.Minute)},
		{name: "missing header", cfg: cfg, header: nil, body: body, now: t0, want: "missing_header", inMsg: "Stripe-Signature"},
		{name: "entry not key=value", cfg: cfg, header: stripe(ts + "," + sig), body: body, now: t0, want: "malformed_header", inMsg: "Stripe-Signature"},
		{name: "no timestamp", cfg: cfg, header: stripe("v1=" + sig), body: body, now: t0, want: "malformed_header"},
		{name: "empty timestamp", cfg: cfg, header: stripe("t=,v1=" + sig), body: body, now: t0, want: "malformed_header"},
		{name: "timestamp not a number", cfg: cfg, header: stripe("t=now,v1=" + sig), body: body, now: t0, want: "malformed_header"},
		{name: "two timestamps", cfg: cfg, header: stripe("t=" + ts + ",t=" + ts + ",v1=" + sig), body: body, now: t0, want: "malformed_header"},
		{name: "v1 not hex", cfg: cfg, header: stripe("t=" + ts + ",v1=" + sig[:62] + "zz"), body: body, now: t0, want: "malformed_header"},
		{name: "v1 wrong length", cfg: cfg, header: stripe("t=" + ts + ",v1=" + sig[:62]), body: body, now: t0, want: "malformed_header"},
		{name: "more than 16 entries", cfg: cfg, header: stripe(tooMany), body: body, now: t0, want: "malformed_header"},
	})
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  signature.Config
	}{
		{"standard-webhooks whsec_", signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}}},
		{"standard-webhooks raw secret", signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{"plain"}}},
		{"standard-webhooks rotated", signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{otherWhsec, vecSecret}}},
		{"hmac-sha256-hex", signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"whsec_abc", "old"}, SignatureHeader: "X-LLMTune-Signature"}},
		{"timestamped-hmac header pair", signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"s1"}, SignatureHeader: "X-OpenAI-Signature", TimestampHeader: "X-OpenAI-Timestamp"}},
		{"timestamped-hmac stripe", signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"whsec_s1"}}},
		{"timestamped-hmac custom single header", signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"s1"}, SignatureHeader: "X-Sig", Tolerance: time.Minute}},
	}
	now := time.Date(2025, 11, 8, 14, 22, 31, 500, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := signature.NewSigner(tc.cfg)
			if err != nil {
				t.Fatalf("NewSigner: %v", err)
			}
			v, err := signature.New(tc.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			h := http.Header{}
			if err := s.Sign(h, "msg_2xk", []byte(body), now); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := v.Verify(h, []byte(body), now); err != nil {
				t.Fatalf("Verify(Sign(...)) = %v", err)
			}
			if err := v.Verify(h, []byte(tampered), now); err == nil {
				t.Error("Verify accepted a tampered body")
			}
			// Secrets are tried in order; signing uses only the first, so a
			// verifier without it must reject.
			if len(tc.cfg.Secrets) > 1 {
				rest := tc.cfg
				rest.Secrets = tc.cfg.Secrets[1:]
				v2, err := signature.New(rest)
				if err != nil {
					t.Fatal(err)
				}
				if err := v2.Verify(h, []byte(body), now); err == nil {
					t.Error("signed with a secret other than the first")
				}
			}
		})
	}
}

func TestSignStandardWebhooksRequiresMsgID(t *testing.T) {
	t.Parallel()
	s, err := signature.NewSigner(signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := s.Sign(h, "", []byte(body), t0); err == nil || !strings.Contains(err.Error(), "msgID") {
		t.Fatalf("Sign with empty msgID = %v, want an error naming msgID", err)
	}
	if len(h) != 0 {
		t.Errorf("failed Sign set headers: %v", h)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	// 25 bytes encode to 36 characters ending "==": the last data character
	// carries 4 padding bits, which canonical base64 leaves zero.
	canon25 := b64(25)
	nonZeroPad := canon25[:33] + "B=="
	sw := func(secrets ...string) signature.Config {
		return signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: secrets}
	}
	cases := []struct {
		name string
		cfg  signature.Config
		want string // the error must start with this
	}{
		{"no secrets", sw(), "secrets: at least one secret is required"},
		{"empty secret", sw(vecSecret, ""), "secrets[1]: must not be empty"},
		{"whsec_ trailing garbage", sw(vecSecret + "!"), "secrets[0]: whsec_ secret is not canonical standard base64"},
		{"whsec_ missing padding", sw("whsec_" + strings.TrimRight(canon25, "=")), "secrets[0]: whsec_ secret is not canonical"},
		{"whsec_ extra padding", sw(vecSecret + "=="), "secrets[0]: whsec_ secret is not canonical"},
		{"whsec_ non-zero padding bits", sw("whsec_" + nonZeroPad), "secrets[0]: whsec_ secret is not canonical"},
		{"whsec_ embedded newline", sw("whsec_MfKQ9r8GKYqrTwjU\nPD8ILPZIo2LaLaSw"), "secrets[0]: whsec_ secret is not canonical"},
		{"whsec_ url alphabet", sw("whsec_" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xFF}, 24))), "secrets[0]: whsec_ secret is not canonical"},
		{"whsec_ second secret bad", sw(vecSecret, "whsec_!!!!"), "secrets[1]: whsec_ secret is not canonical"},
		{"whsec_ 16 bytes", sw("whsec_" + b64(16)), "secrets[0]: whsec_ secret decodes to 16 bytes, want at least 24"},
		{"whsec_ 23 bytes", sw("whsec_" + b64(23)), "secrets[0]: whsec_ secret decodes to 23 bytes"},
		{"whsec_ empty", sw("whsec_"), "secrets[0]: whsec_ secret decodes to 0 bytes"},
		{"unknown scheme", signature.Config{Scheme: "x", Secrets: []string{"s3cr3t-value"}}, `scheme: unknown scheme "x" (want standard-webhooks, hmac-sha256-hex or timestamped-hmac)`},
		{"empty scheme", signature.Config{Secrets: []string{"s3cr3t-value"}}, "scheme: required (want standard-webhooks, hmac-sha256-hex or timestamped-hmac)"},
		{"hmac-sha256-hex without signature_header", signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"s3cr3t-value"}}, "signature_header: required for hmac-sha256-hex"},
		{"hmac-sha256-hex with timestamp_header", signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"s3cr3t-value"}, SignatureHeader: "X-Sig", TimestampHeader: "X-Ts"}, "timestamp_header: not used by hmac-sha256-hex"},
		{"timestamped-hmac timestamp_header without signature_header", signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"s3cr3t-value"}, TimestampHeader: "X-Ts"}, "signature_header: required for timestamped-hmac"},
		{"standard-webhooks with signature_header", signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}, SignatureHeader: "X-Sig"}, "signature_header: not used by standard-webhooks"},
		{"standard-webhooks with timestamp_header", signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}, TimestampHeader: "X-Ts"}, "timestamp_header: not used by standard-webhooks"},
		{"negative tolerance", signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"s3cr3t-value"}, Tolerance: -time.Second}, "tolerance: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, verr := signature.New(tc.cfg)
			_, serr := signature.NewSigner(tc.cfg)
			for _, err := range []error{verr, serr} {
				if err == nil {
					t.Fatalf("got nil error, want %q", tc.want)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("error = %q, want prefix %q", msg, tc.want)
				}
				for _, s := range tc.cfg.Secrets {
					// The whsec_ prefix itself is no secret; what follows it is.
					if s = strings.TrimPrefix(s, "whsec_"); s != "" && strings.Contains(msg, s) {
						t.Errorf("error %q contains a secret", msg)
					}
				}
			}
		})
	}
}

func TestConfigPrintsNoSecret(t *testing.T) {
	t.Parallel()
	cfg := signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret, "raw-secret"}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg) + logged.String()
	for _, s := range cfg.Secrets {
		if strings.Contains(out, s) {
			t.Errorf("printed config contains a secret: %s", out)
		}
	}
	if !strings.Contains(out, "2 redacted") {
		t.Errorf("printed config does not say the secrets are redacted: %s", out)
	}
}
