package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// timestampedHMAC implements SchemeTimestampedHMAC. With tsHeader empty it
// reads Stripe's single "t=…,v1=…" header in sigHeader; otherwise a hex
// signature in sigHeader and unix seconds in tsHeader.
type timestampedHMAC struct {
	sigHeader string
	tsHeader  string
	keys      [][]byte
	tolerance time.Duration
}

// Verify implements Verifier.
func (s *timestampedHMAC) Verify(h http.Header, body []byte, now time.Time) error {
	if s.tsHeader == "" {
		return s.verifySingleHeader(h, body, now)
	}
	return s.verifyHeaderPair(h, body, now)
}

func (s *timestampedHMAC) verifyHeaderPair(h http.Header, body []byte, now time.Time) error {
	v := h.Get(s.sigHeader)
	if v == "" {
		return missing(s.sigHeader)
	}
	ts := h.Get(s.tsHeader)
	if ts == "" {
		return missing(s.tsHeader)
	}
	if err := checkTimestamp(s.tsHeader, ts, now, s.tolerance); err != nil {
		return err
	}
	sig, err := decodeHexSignature(s.sigHeader, v)
	if err != nil {
		return err
	}
	return s.match(ts, body, [][]byte{sig})
}

func (s *timestampedHMAC) verifySingleHeader(h http.Header, body []byte, now time.Time) error {
	v := h.Get(s.sigHeader)
	if v == "" {
		return missing(s.sigHeader)
	}
	ts, sigs, err := parseStripeHeader(s.sigHeader, v)
	if err != nil {
		return err
	}
	if err := checkTimestamp(s.sigHeader, ts, now, s.tolerance); err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fail(ReasonNoSignature, "%s header has no v1 signature", s.sigHeader)
	}
	return s.match(ts, body, sigs)
}

func (s *timestampedHMAC) match(ts string, body []byte, sigs [][]byte) error {
	if !matchAny(s.keys, ts+".", body, sigs) {
		return fail(ReasonBadSignature, "%s header matches no configured secret", s.sigHeader)
	}
	return nil
}

// parseStripeHeader splits a "t=<unix>,v1=<hex>,v1=<hex>,v0=<hex>" header
// into its timestamp and decoded v1 signatures, ignoring v0 and unknown keys.
func parseStripeHeader(header, v string) (ts string, sigs [][]byte, err error) {
	n, seenT := 0, false
	for item := range strings.SplitSeq(v, ",") {
		if n++; n > maxEntries {
			return "", nil, fail(ReasonMalformedHeader, "malformed %s header: more than %d entries", header, maxEntries)
		}
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, fail(ReasonMalformedHeader, "malformed %s header: entry is not key=value", header)
		}
		switch key {
		case "t":
			if seenT {
				return "", nil, fail(ReasonMalformedHeader, "malformed %s header: more than one t= entry", header)
			}
			ts, seenT = value, true
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size {
				return "", nil, fail(ReasonMalformedHeader, "malformed %s header: v1 entry is not %d hex digits", header, 2*sha256.Size)
			}
			sigs = append(sigs, sig)
		}
	}
	if !seenT {
		return "", nil, fail(ReasonMalformedHeader, "malformed %s header: no t= timestamp", header)
	}
	return ts, sigs, nil
}

// Sign implements Signer: Stripe's "t=…,v1=…" header, or a bare hex
// signature plus a timestamp header. msgID is unused.
func (s *timestampedHMAC) Sign(h http.Header, _ string, body []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := hex.EncodeToString(sum(s.keys[0], ts+".", body))
	if s.tsHeader == "" {
		h.Set(s.sigHeader, "t="+ts+",v1="+sig)
		return nil
	}
	h.Set(s.sigHeader, sig)
	h.Set(s.tsHeader, ts)
	return nil
}
