// Package signature signs and verifies webhook signatures over the exact raw
// request body bytes. It knows three schemes: Standard Webhooks (OpenAI's real
// webhooks), a plain hex HMAC-SHA256 of the body (MythicDot, LLMTune,
// GitHub-style "sha256=" senders) and a timestamped hex HMAC-SHA256 (Stripe's
// single header, or a signature header plus a timestamp header).
//
// Verifiers and Signers hold no mutable state and are safe for concurrent use.
package signature

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheme names as they appear in config.
const (
	// SchemeStandardWebhooks is Standard Webhooks v1 (webhook-id,
	// webhook-timestamp and webhook-signature headers; base64 HMAC-SHA256),
	// the scheme OpenAI's webhooks use.
	SchemeStandardWebhooks = "standard-webhooks"
	// SchemeHMACSHA256Hex is a hex HMAC-SHA256 of the raw body in one header,
	// with or without a "sha256=" prefix, and no timestamp.
	SchemeHMACSHA256Hex = "hmac-sha256-hex"
	// SchemeTimestampedHMAC is a hex HMAC-SHA256 of "{timestamp}.{body}",
	// either in Stripe's single "t=…,v1=…" header or in a signature header
	// next to a timestamp header.
	SchemeTimestampedHMAC = "timestamped-hmac"
)

// Reasons an *Error can carry. They are stable machine words, fit for a
// metric label.
const (
	// ReasonMissingHeader means a required header is absent or empty; the
	// message names the header.
	ReasonMissingHeader = "missing_header"
	// ReasonMalformedHeader means a header is present but cannot be parsed,
	// including a timestamp that is not unix seconds.
	ReasonMalformedHeader = "malformed_header"
	// ReasonStaleTimestamp means the signed timestamp is older than the tolerance.
	ReasonStaleTimestamp = "stale_timestamp"
	// ReasonFutureTimestamp means the signed timestamp is further ahead of now
	// than the tolerance.
	ReasonFutureTimestamp = "future_timestamp"
	// ReasonBadSignature means no signature matches any configured secret.
	ReasonBadSignature = "bad_signature"
	// ReasonNoSignature means the signature header is present but holds no
	// entry of a supported version (v1).
	ReasonNoSignature = "no_signature"
)

const (
	// defaultTolerance is how far a signed timestamp may be from now, in
	// either direction, when Config.Tolerance is zero.
	defaultTolerance = 5 * time.Minute
	// defaultStripeHeader carries the single-header timestamped-hmac form.
	defaultStripeHeader = "Stripe-Signature"
	// maxEntries caps how many entries of a multi-entry signature header are
	// parsed, so a huge header cannot cost unbounded work.
	maxEntries = 16
	// maxUnixSeconds bounds a parsed timestamp (about 35,000 years from 1970).
	maxUnixSeconds = 1 << 40
	// hexPrefix is the optional GitHub-style prefix of a hex signature.
	hexPrefix = "sha256="
	// schemeList names the valid schemes in config errors.
	schemeList = SchemeStandardWebhooks + ", " + SchemeHMACSHA256Hex + " or " + SchemeTimestampedHMAC
)

// Config describes one provider's signature scheme. Zero values get defaults
// in New and NewSigner.
type Config struct {
	// Scheme is one of the Scheme* constants.
	Scheme string
	// Secrets are the shared secrets, at least one, none empty. A signature
	// matching any of them is accepted, so a rotated secret can be added
	// before the old one is removed; signing uses the first. For
	// standard-webhooks a "whsec_" secret must be canonical standard base64
	// of at least 24 bytes, and the key is the decoded bytes; any other
	// secret, in every scheme, is used as its raw UTF-8 bytes.
	Secrets []string
	// Tolerance is how far a signed timestamp may be from now, in either
	// direction. Zero means 5 minutes; negative is an error.
	// hmac-sha256-hex has no timestamp and ignores it.
	Tolerance time.Duration
	// SignatureHeader is the header carrying the signature.
	// hmac-sha256-hex: required (e.g. "X-MythicDot-Signature").
	// timestamped-hmac: required when TimestampHeader is set (e.g.
	// "X-OpenAI-Signature"); otherwise defaults to "Stripe-Signature".
	// standard-webhooks: must be empty, its headers are fixed by the spec.
	SignatureHeader string
	// TimestampHeader is the header carrying the signed timestamp in unix
	// seconds, for timestamped-hmac only (e.g. "X-OpenAI-Timestamp"). Empty
	// means the single-header "t=…,v1=…" form in SignatureHeader.
	// Other schemes: must be empty.
	TimestampHeader string
}

// String formats the config with the secrets redacted, so that printing a
// Config never shows a secret.
func (c Config) String() string {
	return fmt.Sprintf("{Scheme:%q Secrets:[%d redacted] Tolerance:%s SignatureHeader:%q TimestampHeader:%q}",
		c.Scheme, len(c.Secrets), c.Tolerance, c.SignatureHeader, c.TimestampHeader)
}

// GoString is String for the %#v verb, so it also redacts the secrets.
func (c Config) GoString() string { return "signature.Config" + c.String() }

// LogValue is String for log/slog, so a logged Config shows no secret with
// any handler.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Verifier checks one request's signature.
type Verifier interface {
	// Verify checks header h and the exact raw body bytes against the
	// configured secrets at time now.
	// It returns nil, or an *Error whose Reason says which check failed.
	Verify(h http.Header, body []byte, now time.Time) error
}

// Signer adds signature headers for a body at time now, with the first
// secret, so that Verify with the same Config accepts.
type Signer interface {
	// Sign sets the scheme's signature headers on h (which must be non-nil)
	// for the exact body bytes, timestamped with now truncated to unix
	// seconds. msgID is the webhook-id of standard-webhooks, where it is
	// required; the other schemes ignore it.
	Sign(h http.Header, msgID string, body []byte, now time.Time) error
}

// scheme is what New and NewSigner build: every scheme both signs and verifies.
type scheme interface {
	Verifier
	Signer
}

// New validates cfg and returns a Verifier for it. Errors name the config
// field at fault (scheme, secrets[i], tolerance, signature_header,
// timestamp_header) and never contain a secret.
func New(cfg Config) (Verifier, error) {
	s, err := newScheme(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewSigner validates cfg as New does and returns a Signer for it.
func NewSigner(cfg Config) (Signer, error) {
	s, err := newScheme(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newScheme(cfg Config) (scheme, error) {
	if cfg.Tolerance < 0 {
		return nil, fmt.Errorf("tolerance: must not be negative, got %s", cfg.Tolerance)
	}
	tolerance := cmp.Or(cfg.Tolerance, defaultTolerance)
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("secrets: at least one secret is required")
	}
	for i, s := range cfg.Secrets {
		if s == "" {
			return nil, fmt.Errorf("secrets[%d]: must not be empty", i)
		}
	}
	switch cfg.Scheme {
	case SchemeStandardWebhooks:
		if cfg.SignatureHeader != "" {
			return nil, errors.New("signature_header: not used by standard-webhooks, its headers are fixed")
		}
		if cfg.TimestampHeader != "" {
			return nil, errors.New("timestamp_header: not used by standard-webhooks, its headers are fixed")
		}
		keys := make([][]byte, len(cfg.Secrets))
		for i, s := range cfg.Secrets {
			key, err := standardWebhooksKey(s)
			if err != nil {
				return nil, fmt.Errorf("secrets[%d]: %w", i, err)
			}
			keys[i] = key
		}
		return &standardWebhooks{keys: keys, tolerance: tolerance}, nil
	case SchemeHMACSHA256Hex:
		if cfg.SignatureHeader == "" {
			return nil, errors.New("signature_header: required for hmac-sha256-hex")
		}
		if cfg.TimestampHeader != "" {
			return nil, errors.New("timestamp_header: not used by hmac-sha256-hex, which has no timestamp (use timestamped-hmac)")
		}
		return &hmacHex{header: cfg.SignatureHeader, keys: rawKeys(cfg.Secrets)}, nil
	case SchemeTimestampedHMAC:
		if cfg.TimestampHeader != "" && cfg.SignatureHeader == "" {
			return nil, errors.New("signature_header: required for timestamped-hmac when timestamp_header is set")
		}
		return &timestampedHMAC{
			sigHeader: cmp.Or(cfg.SignatureHeader, defaultStripeHeader),
			tsHeader:  cfg.TimestampHeader,
			keys:      rawKeys(cfg.Secrets),
			tolerance: tolerance,
		}, nil
	case "":
		return nil, errors.New("scheme: required (want " + schemeList + ")")
	default:
		return nil, fmt.Errorf("scheme: unknown scheme %q (want %s)", cfg.Scheme, schemeList)
	}
}

// rawKeys returns each secret's UTF-8 bytes as an HMAC key.
func rawKeys(secrets []string) [][]byte {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	return keys
}

// Error is a verification failure. Reason is a short stable machine word
// (one of the Reason* constants); Error() is a human sentence. Neither ever
// contains a secret or an expected signature.
type Error struct {
	// Reason is one of the Reason* constants.
	Reason string
	msg    string
}

// Error returns the human-readable sentence describing the failure.
func (e *Error) Error() string { return e.msg }

func fail(reason, format string, args ...any) error {
	return &Error{Reason: reason, msg: fmt.Sprintf(format, args...)}
}

func missing(header string) error {
	return fail(ReasonMissingHeader, "missing %s header", header)
}

// checkTimestamp parses v, the value of header, as unix seconds and checks it
// is within tolerance of now in both directions.
func checkTimestamp(header, v string, now time.Time, tolerance time.Duration) error {
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fail(ReasonMalformedHeader, "malformed %s header: timestamp is not unix seconds", header)
	}
	// time.Unix wraps for seconds near the int64 limits; clamping keeps the
	// direction right, and every duration past the clamp saturates anyway.
	signed := time.Unix(min(max(secs, -maxUnixSeconds), maxUnixSeconds), 0)
	if age := now.Sub(signed); age > tolerance {
		return fail(ReasonStaleTimestamp, "%s timestamp is %s old, beyond the %s tolerance", header, age.Round(time.Second), tolerance)
	}
	if ahead := signed.Sub(now); ahead > tolerance {
		return fail(ReasonFutureTimestamp, "%s timestamp is %s in the future, beyond the %s tolerance", header, ahead.Round(time.Second), tolerance)
	}
	return nil
}

// decodeHexSignature decodes a hex HMAC-SHA256, upper or lower case, with or
// without the "sha256=" prefix.
func decodeHexSignature(header, v string) ([]byte, error) {
	sig, err := hex.DecodeString(strings.TrimPrefix(v, hexPrefix))
	if err != nil || len(sig) != sha256.Size {
		return nil, fail(ReasonMalformedHeader, "malformed %s header: want %d hex digits, optionally prefixed with %q", header, 2*sha256.Size, hexPrefix)
	}
	return sig, nil
}

// sum returns HMAC-SHA256(key, prefix || body).
func sum(key []byte, prefix string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(prefix))
	mac.Write(body)
	return mac.Sum(nil)
}

// matchAny reports whether any of sigs equals HMAC-SHA256(key, prefix ||
// body) for any of keys. It computes one HMAC per key, whatever the number of
// signatures, and compares in constant time.
func matchAny(keys [][]byte, prefix string, body []byte, sigs [][]byte) bool {
	for _, key := range keys {
		want := sum(key, prefix, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return true
			}
		}
	}
	return false
}
