package signature

import (
	"encoding/hex"
	"net/http"
	"time"
)

// hmacHex implements SchemeHMACSHA256Hex.
type hmacHex struct {
	header string
	keys   [][]byte
}

// Verify implements Verifier. The scheme has no timestamp, so now is unused.
func (s *hmacHex) Verify(h http.Header, body []byte, _ time.Time) error {
	v := h.Get(s.header)
	if v == "" {
		return missing(s.header)
	}
	sig, err := decodeHexSignature(s.header, v)
	if err != nil {
		return err
	}
	if !matchAny(s.keys, "", body, [][]byte{sig}) {
		return fail(ReasonBadSignature, "%s header matches no configured secret", s.header)
	}
	return nil
}

// Sign implements Signer: a bare lower-case hex signature; msgID and now are unused.
func (s *hmacHex) Sign(h http.Header, _ string, body []byte, _ time.Time) error {
	h.Set(s.header, hex.EncodeToString(sum(s.keys[0], "", body)))
	return nil
}
