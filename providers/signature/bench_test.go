package signature_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/jobwatch/jobwatch/providers/signature"
)

// BenchmarkVerify measures one successful Verify of a 1 KiB body per scheme,
// with a single configured secret.
func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"},`), 103)[:1024]
	for _, cfg := range []signature.Config{
		{Scheme: signature.SchemeStandardWebhooks, Secrets: []string{vecSecret}},
		{Scheme: signature.SchemeHMACSHA256Hex, Secrets: []string{"whsec_mythic"}, SignatureHeader: "X-MythicDot-Signature"},
		{Scheme: signature.SchemeTimestampedHMAC, Secrets: []string{"whsec_stripe"}},
	} {
		b.Run(cfg.Scheme, func(b *testing.B) {
			v, s := mustScheme(b, cfg)
			h := http.Header{}
			if err := s.Sign(h, vecID, body, t0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := v.Verify(h, body, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
