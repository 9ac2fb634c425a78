package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

// A bedrock provider needs nothing but its config entry and AWS
// credentials where the SDK's chain finds them (here the environment): the
// daemon signs its poll for the configured region and reads the job.
func TestPollBedrockJob(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBEDROCKTEST00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "bedrock-test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	bedrock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDBEDROCKTEST00001/") || !strings.Contains(auth, "/eu-west-1/bedrock/aws4_request") ||
			strings.Contains(auth, "bedrock-test-secret-key") {
			http.Error(w, `{"message":"The security token included in the request is invalid."}`, http.StatusForbidden)
			return
		}
		if r.URL.Path != "/model-invocation-job/abc123def456" {
			http.Error(w, `{"message":"Could not find the model invocation job."}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"jobArn":"arn:aws:bedrock:eu-west-1:123456789012:model-invocation-job/abc123def456","status":"PartiallyCompleted",
"outputDataConfig":{"s3OutputDataConfig":{"s3Uri":"s3://b/out/"}},"totalRecordCount":100,"successRecordCount":98,"errorRecordCount":2}`)
	}))
	t.Cleanup(bedrock.Close)
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), fmt.Sprintf(`
[[providers]]
name = "bedrock"
type = "bedrock"
base_url = %q
region = "eu-west-1"
`, bedrock.URL))
	startDaemon(t, path, url)
	job, err := trackAndPoll(t, url, "bedrock", tracker.KindBatch, "abc123def456")
	if err != nil || job.Status != tracker.StatusSucceeded || job.ResolvedBy != tracker.SourcePoll {
		t.Fatalf("polled job = %+v, %v; want succeeded by poll", job, err)
	}
	if job.Usage.RequestsTotal != 100 || job.Usage.RequestsFailed != 2 || job.Details[tracker.DetailRequestFailure] != tracker.RequestFailurePartial ||
		job.Details["output_uri"] != "s3://b/out/" {
		t.Errorf("usage %+v, details %v", job.Usage, job.Details)
	}
}
