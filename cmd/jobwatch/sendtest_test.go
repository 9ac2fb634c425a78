package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/storage"
	"github.com/jobwatch/jobwatch/storage/storagetest"
	"github.com/jobwatch/jobwatch/tracker"
)

func TestSendTestEvent(t *testing.T) {
	t.Setenv("JW_TEST_OPENAI_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	path, url := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), `
[[providers]]
name = "openai"
type = "openai"
[providers.webhook]
secrets = ["${JW_TEST_OPENAI_SECRET}"]

[[providers]]
name = "mythicdot"
type = "mythicdot"
[providers.webhook]
secrets = ["mythic-secret"]

[[providers]]
name = "llmtune"
type = "llmtune"
[providers.webhook]
secrets = ["llm-secret"]

[[providers]]
name = "tasks"
type = "generic"
[providers.webhook]
scheme = "timestamped-hmac"
secrets = ["task-secret"]
[providers.generic]
event_id = "id"
event_type = "type"
job_id = "data.task_id"
status = "data.status"
occurred_at = "created_at"
[providers.generic.status_map]
completed = "succeeded"
`)
	startDaemon(t, path, url)
	client := tracker.NewClient(url)
	tests := []struct {
		provider, typ, job string
		want               tracker.Status
	}{
		{"openai", "batch.completed", "batch_test", tracker.StatusSucceeded},
		{"mythicdot", "fine_tuning.job.succeeded", "ftjob_test", tracker.StatusSucceeded},
		{"mythicdot", "batch.failed", "batch_fail", tracker.StatusFailed},
		{"llmtune", "training.completed", "job-test", tracker.StatusSucceeded},
		{"tasks", "task.completed", "task_test", tracker.StatusSucceeded},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"send-test-event", "--config", path, "--provider", tt.provider, "--type", tt.typ, "--job", tt.job}, &stdout, &stderr)
		if code != 0 || !strings.Contains(stdout.String(), "200 OK") {
			t.Fatalf("%s %s: exit %d\n%s%s", tt.provider, tt.typ, code, stdout.String(), stderr.String())
		}
		job, err := client.Job(context.Background(), tt.provider, tt.job)
		if err != nil || job.Status != tt.want {
			t.Errorf("%s job %s after a test %s = %+v, %v; want %s", tt.provider, tt.job, tt.typ, job.Status, err, tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"send-test-event", "--config", path, "--provider", "nobody", "--type", "x", "--job", "y"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `no provider named "nobody"`) {
		t.Errorf("unknown provider: exit %d, %s", code, stderr.String())
	}
}

// --type must be a type the provider sends; the error lists those it does.
// A generic provider's types are its own: any is posted.
func TestSendTestEventRefusesATypeTheProviderDoesNotSend(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, storagetest.Config(t, storage.DriverSQLite), `
[[providers]]
name = "llmtune"
type = "llmtune"
[providers.webhook]
secrets = ["llm-secret"]
`)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"send-test-event", "--config", path, "--provider", "llmtune", "--type", "training.complete", "--job", "job-1"}, &stdout, &stderr)
	want := `provider llmtune (type llmtune) does not send "training.complete" events; it sends training.started, training.completed, training.failed, model.deployed, deployment.created, deployment.paused, deployment.deleted, usage.threshold_reached`
	if code != 1 || !strings.Contains(stderr.String(), want) || strings.Contains(stdout.String(), "POST") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 with %q and nothing posted", code, stdout.String(), stderr.String(), want)
	}
}
