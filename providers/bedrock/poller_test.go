package bedrock_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/jobwatch/jobwatch/providers"
	"github.com/jobwatch/jobwatch/providers/bedrock"
	"github.com/jobwatch/jobwatch/providers/pollhttp"
	"github.com/jobwatch/jobwatch/providers/providertest"
	"github.com/jobwatch/jobwatch/tracker"
)

const (
	region    = "us-east-1"
	accessKey = "AKIDEXAMPLE0000000001"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	jobsPath  = "/model-invocation-job/"
)

// emptyHash is the SHA-256 of an empty body.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// signedHeaders finds the SignedHeaders list of a SigV4 Authorization header.
var signedHeaders = regexp.MustCompile(`SignedHeaders=([a-z0-9;-]+)`)

// verified reports whether r carries a SigV4 signature of itself, for
// Service in region, by creds, made within five minutes: as AWS checks it,
// by signing the same request (its signed headers, its path as sent, its
// X-Amz-Date) again with the same signer and comparing.
func verified(r *http.Request, creds aws.Credentials) bool {
	auth := r.Header.Get("Authorization")
	m := signedHeaders.FindStringSubmatch(auth)
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if m == nil || err != nil || time.Since(at).Abs() > 5*time.Minute {
		return false
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	for _, h := range strings.Split(m[1], ";") {
		if h != "host" {
			req.Header.Set(h, r.Header.Get(h))
		}
	}
	if creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return false
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptyHash, "bedrock", region, at); err != nil {
		return false
	}
	return req.Header.Get("Authorization") == auth
}

// accessDenied is Bedrock's answer to a request whose signature is wrong.
var accessDenied = providertest.Answer{Code: http.StatusForbidden,
	Body: `{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}`}

// notFound is Bedrock's ResourceNotFoundException.
const notFound = `{"message":"Could not find the model invocation job."}`

// fakeAPI behaves like Bedrock's control plane: each GET of a known job
// answers the next stage of its sequence; a request not signed by creds is
// refused with 403, an unknown job with 404.
func fakeAPI(t *testing.T, creds aws.Credentials, jobs map[string][]providertest.Answer) *providertest.Server {
	t.Helper()
	paths := map[string][]providertest.Answer{}
	for id, seq := range jobs {
		paths[jobsPath+id] = seq
	}
	return providertest.NewFakeAPI(t, paths, func(r *http.Request) bool { return verified(r, creds) }, accessDenied, notFound)
}

// client is a poll client that retries fast.
func client() providers.PollClient {
	return pollhttp.New(pollhttp.Config{Provider: "bedrock", Retries: 2, MaxRetryWait: 50 * time.Millisecond})
}

// static are the test's long-term credentials.
func static(secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret, Source: "test"}, nil
	})
}

var testCreds = aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}

// job is a model invocation job as GetModelInvocationJob returns it, with
// extra fields after its status.
func job(id, status, extra string) providertest.Answer {
	return providertest.Answer{Body: fmt.Sprintf(`{"jobArn":"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/%s",`+
		`"jobName":"nightly-eval","modelId":"anthropic.claude-3-haiku-20240307-v1:0","roleArn":"arn:aws:iam::123456789012:role/batch",`+
		`"status":%q,"submitTime":"2026-12-01T10:00:00Z","lastModifiedTime":"2026-12-01T10:05:00Z",`+
		`"inputDataConfig":{"s3InputDataConfig":{"s3Uri":"s3://b/in/"}},`+
		`"outputDataConfig":{"s3OutputDataConfig":{"s3Uri":"s3://b/out/"}},"timeoutDurationInHours":24%s}`, id, status, extra)}
}

func TestPollEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, last, extra string
		want            tracker.Status
		details         map[string]string
		usage           *tracker.Usage
	}{
		{"c0mpleted001", "Completed", `,"totalRecordCount":100,"processedRecordCount":100,"successRecordCount":100,"errorRecordCount":0`, tracker.StatusSucceeded,
			map[string]string{"output_uri": "s3://b/out/", "records_processed": "100"}, &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 100}},
		{"partial00001", "PartiallyCompleted", `,"totalRecordCount":100,"successRecordCount":97,"errorRecordCount":3`, tracker.StatusSucceeded,
			map[string]string{tracker.DetailRequestFailure: tracker.RequestFailurePartial}, &tracker.Usage{RequestsTotal: 100, RequestsCompleted: 97, RequestsFailed: 3}},
		{"failed000001", "Failed", `,"message":"The input file is not valid JSONL."`, tracker.StatusFailed,
			map[string]string{"error_message": "The input file is not valid JSONL."}, nil},
		{"stopped00001", "Stopped", ``, tracker.StatusCancelled, map[string]string{"job_name": "nightly-eval"}, nil},
		{"expired00001", "Expired", `,"message":"Job timed out.","successRecordCount":40`, tracker.StatusExpired,
			map[string]string{"output_uri": "s3://b/out/", "error_message": "Job timed out."}, &tracker.Usage{RequestsCompleted: 40}},
	}
	jobs := map[string][]providertest.Answer{}
	for _, tt := range tests {
		jobs[tt.id] = []providertest.Answer{job(tt.id, "Submitted", ""), job(tt.id, "Validating", ""), job(tt.id, "Scheduled", ""),
			job(tt.id, "InProgress", ""), job(tt.id, "Stopping", ""), job(tt.id, tt.last, tt.extra)}
	}
	srv := fakeAPI(t, testCreds, jobs)
	p := bedrock.NewPoller("bedrock", srv.URL, region, static(secretKey), client())
	for _, tt := range tests {
		j := tracker.Job{Kind: tracker.KindBatch, ExternalID: tt.id}
		for _, want := range []tracker.Status{tracker.StatusPending, tracker.StatusPending, tracker.StatusPending, tracker.StatusRunning, tracker.StatusRunning} {
			obs, err := p.Poll(t.Context(), j)
			if err != nil || obs.Status != want {
				t.Fatalf("%s: %v, status %q; want %q", tt.id, err, obs.Status, want)
			}
		}
		obs, err := p.Poll(t.Context(), j)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if obs.ExternalID != tt.id || obs.Status != tt.want || obs.ProviderStatus != tt.last || len(obs.Payload) == 0 {
			t.Errorf("%s: observation %+v", tt.id, obs)
		}
		tt.details[tracker.DetailModel] = "anthropic.claude-3-haiku-20240307-v1:0"
		for k, v := range tt.details {
			if obs.Details[k] != v {
				t.Errorf("%s: Details[%q] = %q, want %q", tt.id, k, obs.Details[k], v)
			}
		}
		if (obs.Usage == nil) != (tt.usage == nil) || obs.Usage != nil && *obs.Usage != *tt.usage {
			t.Errorf("%s: usage %+v, want %+v", tt.id, obs.Usage, tt.usage)
		}
	}
}

func TestPollFailures(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, testCreds, map[string][]providertest.Answer{
		"unauth000001": {{Code: http.StatusUnauthorized, Body: `{"message":"Unauthorized"}`}},
		"throttled001": {{Code: http.StatusTooManyRequests, RetryAfter: "0", Body: `{"message":"Too many requests, please wait before trying again."}`}},
		"broken000001": {{Code: http.StatusInternalServerError, Body: `{"message":"Internal server error"}`}},
		"malformed001": {{Body: `{"jobArn":"arn:aws:bedrock:us-east-1:1:model-invocation-job/malformed001","status":7}`}},
		"other0000001": {job("other0000002", "InProgress", "")},
	})
	batch := func(id string) tracker.Job { return tracker.Job{Kind: tracker.KindBatch, ExternalID: id} }
	providertest.CheckPollFailures(t, "bedrock", func(key string) providers.Poller {
		return bedrock.NewPoller("bedrock", srv.URL, region, static(key), client())
	}, []providertest.PollFailure{
		{Name: "wrong secret", Key: "not-the-secret-key-0000000000000000000000", Job: batch("c0mpleted001"), Class: providers.PollAuth, Code: http.StatusForbidden},
		{Name: "401", Key: secretKey, Job: batch("unauth000001"), Class: providers.PollAuth, Code: http.StatusUnauthorized},
		{Name: "unknown job", Key: secretKey, Job: batch("missing00001"), Class: providers.PollNotFound, Code: http.StatusNotFound},
		{Name: "throttled", Key: secretKey, Job: batch("throttled001"), Class: providers.PollTransient, Code: http.StatusTooManyRequests},
		{Name: "5xx", Key: secretKey, Job: batch("broken000001"), Class: providers.PollTransient, Code: http.StatusInternalServerError},
		{Name: "malformed", Key: secretKey, Job: batch("malformed001"), Class: providers.PollInvalid},
		{Name: "another job", Key: secretKey, Job: batch("other0000001"), Class: providers.PollInvalid},
		{Name: "fine tuning", Key: secretKey, Job: tracker.Job{Kind: tracker.KindFineTuning, ExternalID: "ft1"}, Class: providers.PollInvalid},
	})
	providertest.CheckPolls(t, bedrock.NewPoller("bedrock", srv.URL, region, static(secretKey), client()),
		map[tracker.Kind]bool{tracker.KindBatch: true, tracker.KindFineTuning: false})
}

// Credentials that cannot be had fail the poll as PollAuth, before any
// request, without quoting them.
func TestCredentialsFailure(t *testing.T) {
	t.Parallel()
	srv := fakeAPI(t, testCreds, map[string][]providertest.Answer{"c0mpleted001": {job("c0mpleted001", "Completed", "")}})
	failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})
	j := tracker.Job{Kind: tracker.KindBatch, ExternalID: "c0mpleted001"}
	_, err := bedrock.NewPoller("bedrock", srv.URL, region, failing, client()).Poll(t.Context(), j)
	providertest.CheckPollError(t, err, "bedrock", j, secretKey, providers.PollAuth, 0)
	if srv.Requests() != 0 {
		t.Errorf("%d requests sent without credentials", srv.Requests())
	}
}

// Temporary credentials are retrieved once for concurrent polls, sent with
// their session token, and retrieved again once they expire.
func TestTemporaryCredentials(t *testing.T) {
	t.Parallel()
	const token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
	var retrievals atomic.Int32
	var mu sync.Mutex
	lifetime := time.Hour
	temp := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		retrievals.Add(1)
		mu.Lock()
		defer mu.Unlock()
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: token,
			CanExpire: true, Expires: time.Now().Add(lifetime)}, nil
	})
	srv := fakeAPI(t, aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: token},
		map[string][]providertest.Answer{"running00001": {job("running00001", "InProgress", "")}})
	p := bedrock.NewPoller("bedrock", srv.URL, region, temp, client())
	j := tracker.Job{Kind: tracker.KindBatch, ExternalID: "running00001"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := p.Poll(t.Context(), j); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := retrievals.Load(); n != 1 {
		t.Fatalf("%d retrievals for 8 concurrent polls, want 1", n)
	}
	mu.Lock()
	lifetime = -time.Second // the next ones are already expired
	mu.Unlock()
	p = bedrock.NewPoller("bedrock", srv.URL, region, temp, client())
	for range 2 {
		if _, err := p.Poll(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	if n := retrievals.Load(); n != 3 {
		t.Errorf("%d retrievals, want 3 (expired credentials are retrieved again)", n)
	}
}

// A base URL with a path (a proxy, a VPC endpoint behind one) keeps it, and
// the signature covers it.
func TestBaseURLPath(t *testing.T) {
	t.Parallel()
	srv := providertest.NewFakeAPI(t, map[string][]providertest.Answer{"/bedrock" + jobsPath + "running00001": {job("running00001", "InProgress", "")}},
		func(r *http.Request) bool { return verified(r, testCreds) }, accessDenied, notFound)
	p := bedrock.NewPoller("bedrock", srv.URL+"/bedrock/", region, static(secretKey), client())
	if obs, err := p.Poll(t.Context(), tracker.Job{Kind: tracker.KindBatch, ExternalID: "running00001"}); err != nil || obs.Status != tracker.StatusRunning {
		t.Fatalf("%v, %+v", err, obs)
	}
}

func TestDefaultBaseURL(t *testing.T) {
	t.Parallel()
	if got := bedrock.DefaultBaseURL("eu-central-1"); got != "https://bedrock.eu-central-1.amazonaws.com" {
		t.Errorf("DefaultBaseURL = %q", got)
	}
}
