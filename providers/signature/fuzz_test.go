package signature_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; their timestamps are t0.
//
// Bound a fuzzing run by a count, not a duration:
//
//	go test -run '^$' -fuzz '^FuzzVerifyStandardWebhooks$' -fuzztime 1000000x -parallel 2 ./providers/signature/
//
// With a duration (-fuzztime 30s), Go 1.26's fuzzing coordinator may fail
// the run with "context deadline exceeded" as the time runs out, writing
// no input, though the target failed on none: it checks the deadline's
// error against its workers' context before that context is cancelled
// (golang/go#75804, fixed in Go 1.27). A real failure always writes its
// input to testdata/fuzz/.

const fuzzTolerance = 5 * time.Minute

// withinTolerance is the fuzz oracle for the timestamp: unix seconds within
// fuzzTolerance of t0.
func withinTolerance(ts string) bool {
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	// The subtraction can wrap only for secs near math.MinInt64, to a large
	// positive value, which is then rejected as it should be.
	diff, limit := secs-t0.Unix(), int64(fuzzTolerance/time.Second)
	return -limit <= diff && diff <= limit
}

// anyKeyMatches is the fuzz oracle for a signature: sig equals the test's own
// HMAC of the parts under one of keys.
func anyKeyMatches(sig []byte, keys [][]byte, parts ...string) bool {
	for _, key := range keys {
		if bytes.Equal(sig, macOf(key, parts...)) {
			return true
		}
	}
	return false
}

// checkFailure fails the test unless err is an *signature.Error with a reason.
func checkFailure(t *testing.T, err error) {
	t.Helper()
	var se *signature.Error
	if !errors.As(err, &se) || se.Reason == "" {
		t.Fatalf("Verify = %v (%T), want *signature.Error with a reason", err, err)
	}
}

// roundTrip signs body with s and fails the test unless v accepts it.
func roundTrip(t *testing.T, s signature.Signer, v signature.Verifier, msgID string, body []byte) {
	t.Helper()
	h := http.Header{}
	if err := s.Sign(h, msgID, body, t0); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := v.Verify(h, body, t0); err != nil {
		t.Fatalf("Verify(Sign(...)) = %v", err)
	}
}

func mustScheme(t testing.TB, cfg signature.Config) (signature.Verifier, signature.Signer) {
	t.Helper()
	v, err := signature.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, s
}

func FuzzVerifyStandardWebhooks(f *testing.F) {
	v, s := mustScheme(f, signature.Config{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret, "raw-secret"}})
	vecKey, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vecSecret, "whsec_"))
	if err != nil {
		f.Fatal(err)
	}
	keys := [][]byte{vecKey, []byte("raw-secret")}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := v.Verify(h, body, t0)
		if err != nil {
			checkFailure(t, err)
		} else {
			if id == "" || !withinTolerance(ts) {
				t.Fatalf("accepted id %q timestamp %q", id, ts)
			}
			matched := false
			for entry := range strings.FieldsSeq(sig) {
				version, enc, _ := strings.Cut(entry, ",")
				mac, err := base64.StdEncoding.DecodeString(enc)
				if version == "v1" && err == nil && anyKeyMatches(mac, keys, id, ".", ts, ".", string(body)) {
					matched = true
				}
			}
			if !matched {
				t.Fatalf("accepted signature header %q that matches no key", sig)
			}
		}
		if id != "" {
			roundTrip(t, s, v, id, body)
		}
	})
}

func FuzzVerifyHMACHex(f *testing.F) {
	const header = "X-MythicDot-Signature"
	secrets := []string{"whsec_mythic", "old-secret"}
	v, s := mustScheme(f, signature.Config{Scheme: signature.SchemeHMACSHA256Hex, Secrets: secrets, SignatureHeader: header})
	keys := [][]byte{[]byte(secrets[0]), []byte(secrets[1])}
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		h := http.Header{}
		h.Set(header, sig)
		if err := v.Verify(h, body, t0); err != nil {
			checkFailure(t, err)
		} else if mac, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256=")); err != nil || !anyKeyMatches(mac, keys, string(body)) {
			t.Fatalf("accepted signature %q that matches no key", sig)
		}
		roundTrip(t, s, v, "", body)
	})
}

// FuzzVerifyTimestamped feeds sig to both forms: as the signature header next
// to ts, and as a Stripe-Signature header on its own.
func FuzzVerifyTimestamped(f *testing.F) {
	secrets := []string{"whsec_stripe", "old-secret"}
	keys := [][]byte{[]byte(secrets[0]), []byte(secrets[1])}
	pairV, pairS := mustScheme(f, signature.Config{
		Scheme: signature.SchemeTimestampedHMAC, Secrets: secrets,
		SignatureHeader: "X-OpenAI-Signature", TimestampHeader: "X-OpenAI-Timestamp",
	})
	singleV, singleS := mustScheme(f, signature.Config{Scheme: signature.SchemeTimestampedHMAC, Secrets: secrets})
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		h := http.Header{}
		h.Set("X-OpenAI-Signature", sig)
		h.Set("X-OpenAI-Timestamp", ts)
		if err := pairV.Verify(h, body, t0); err != nil {
			checkFailure(t, err)
		} else if mac, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256=")); err != nil ||
			!withinTolerance(ts) || !anyKeyMatches(mac, keys, ts, ".", string(body)) {
			t.Fatalf("header pair: accepted signature %q timestamp %q", sig, ts)
		}

		h = http.Header{}
		h.Set("Stripe-Signature", sig)
		if err := singleV.Verify(h, body, t0); err != nil {
			checkFailure(t, err)
		} else if !stripeOracle(sig, body, keys) {
			t.Fatalf("single header: accepted %q", sig)
		}

		roundTrip(t, pairS, pairV, "", body)
		roundTrip(t, singleS, singleV, "", body)
	})
}

// stripeOracle reports whether a "t=…,v1=…" header has exactly one timestamp,
// within tolerance, and a v1 signature of it and body under one of keys.
func stripeOracle(header string, body []byte, keys [][]byte) bool {
	var ts []string
	var sigs [][]byte
	for item := range strings.SplitSeq(header, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch k {
		case "t":
			ts = append(ts, val)
		case "v1":
			if mac, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, mac)
			}
		}
	}
	if len(ts) != 1 || !withinTolerance(ts[0]) {
		return false
	}
	for _, sig := range sigs {
		if anyKeyMatches(sig, keys, ts[0], ".", string(body)) {
			return true
		}
	}
	return false
}
