package signature_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jobwatch/jobwatch/providers/signature"
)

func Example() {
	cfg := signature.Config{
		Scheme:          signature.SchemeHMACSHA256Hex,
		Secrets:         []string{"new-secret", "old-secret"},
		SignatureHeader: "X-MythicDot-Signature",
	}
	signer, err := signature.NewSigner(cfg)
	if err != nil {
		panic(err)
	}
	verifier, err := signature.New(cfg)
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":"evt_abc123xyz789","type":"batch.completed"}`)
	now := time.Now()

	h := http.Header{}
	if err := signer.Sign(h, "", body, now); err != nil {
		panic(err)
	}
	fmt.Println(verifier.Verify(h, body, now))

	var se *signature.Error
	if err := verifier.Verify(h, []byte(`{"forged":true}`), now); errors.As(err, &se) {
		fmt.Println(se.Reason)
	}
	// Output:
	// <nil>
	// bad_signature
}
