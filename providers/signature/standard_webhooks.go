package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks v1 headers.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// whsecPrefix marks a Standard Webhooks secret whose key is the base64 after it.
const whsecPrefix = "whsec_"

// minWhsecKeyLen is the shortest decoded whsec_ key accepted, in bytes.
const minWhsecKeyLen = 24

// standardWebhooks implements SchemeStandardWebhooks.
type standardWebhooks struct {
	keys      [][]byte
	tolerance time.Duration
}

// standardWebhooksKey returns the HMAC key of a Standard Webhooks secret: the
// decoded bytes of a whsec_ secret, else the secret's raw bytes (as
// openai-python does). A whsec_ secret must be canonical standard base64 of at
// least 24 bytes, so that a typo cannot silently yield a near-empty key.
func standardWebhooksKey(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, whsecPrefix)
	if !ok {
		return []byte(secret), nil
	}
	// Strict still skips \r and \n, so also require re-encoding to round-trip.
	key, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil || base64.StdEncoding.EncodeToString(key) != encoded {
		return nil, errors.New("whsec_ secret is not canonical standard base64")
	}
	if len(key) < minWhsecKeyLen {
		return nil, fmt.Errorf("whsec_ secret decodes to %d bytes, want at least %d", len(key), minWhsecKeyLen)
	}
	return key, nil
}

// Verify implements Verifier.
func (s *standardWebhooks) Verify(h http.Header, body []byte, now time.Time) error {
	id := h.Get(headerWebhookID)
	if id == "" {
		return missing(headerWebhookID)
	}
	ts := h.Get(headerWebhookTimestamp)
	if ts == "" {
		return missing(headerWebhookTimestamp)
	}
	header := h.Get(headerWebhookSignature)
	if header == "" {
		return missing(headerWebhookSignature)
	}
	if err := checkTimestamp(headerWebhookTimestamp, ts, now, s.tolerance); err != nil {
		return err
	}
	sigs, err := parseStandardSignatures(header)
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fail(ReasonNoSignature, "%s header has no v1 signature", headerWebhookSignature)
	}
	if !matchAny(s.keys, id+"."+ts+".", body, sigs) {
		return fail(ReasonBadSignature, "%s header matches no configured secret", headerWebhookSignature)
	}
	return nil
}

// parseStandardSignatures returns the decoded v1 signatures of a
// space-separated "v1,<base64>" list, skipping entries of other versions.
func parseStandardSignatures(header string) ([][]byte, error) {
	var sigs [][]byte
	n := 0
	for entry := range strings.FieldsSeq(header) {
		if n++; n > maxEntries {
			return nil, fail(ReasonMalformedHeader, "malformed %s header: more than %d entries", headerWebhookSignature, maxEntries)
		}
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok {
			return nil, fail(ReasonMalformedHeader, "malformed %s header: entry without a \"version,\" prefix", headerWebhookSignature)
		}
		if version != "v1" {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(sig) != sha256.Size {
			return nil, fail(ReasonMalformedHeader, "malformed %s header: v1 entry is not base64 of a %d-byte HMAC-SHA256", headerWebhookSignature, sha256.Size)
		}
		sigs = append(sigs, sig)
	}
	return sigs, nil
}

// Sign implements Signer. msgID becomes the webhook-id header and is required.
func (s *standardWebhooks) Sign(h http.Header, msgID string, body []byte, now time.Time) error {
	if msgID == "" {
		return errors.New("sign standard-webhooks: msgID is required")
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := sum(s.keys[0], msgID+"."+ts+".", body)
	h.Set(headerWebhookID, msgID)
	h.Set(headerWebhookTimestamp, ts)
	h.Set(headerWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(sig))
	return nil
}
