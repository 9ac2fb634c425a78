package payload_test

import (
	"testing"

	"github.com/jobwatch/jobwatch/providers/payload"
	"github.com/jobwatch/jobwatch/tracker"
)

// ModelName drops the resource path of Google's, Fireworks' and AWS's
// model names and keeps every other name whole, "/" included.
func TestModelName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"},
		{"ft:gpt-4o-mini-2024-07-18:acme::9abc", "ft:gpt-4o-mini-2024-07-18:acme::9abc"},
		{"my-gpt4o-deployment", "my-gpt4o-deployment"},
		{"models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"tunedModels/my-tune-1234", "my-tune-1234"},
		{"publishers/google/models/gemini-2.0-flash-001", "gemini-2.0-flash-001"},
		{"projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001", "gemini-2.0-flash-001"},
		{"projects/p/locations/us-central1/models/1234567890@2", "1234567890@2"},
		{"accounts/fireworks/models/llama-v3p1-8b-instruct", "llama-v3p1-8b-instruct"},
		{"accounts/acme/deployedModels/my-model-abc", "my-model-abc"},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"},
		{"anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"},
		{"deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3"},
		{"meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"},
		{" models/gemini-2.5-flash ", "gemini-2.5-flash"},
		{"models/", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := payload.ModelName(tt.in); got != tt.want {
			t.Errorf("ModelName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// SetModel sets the model detail, stripped, and nothing for no model.
func TestSetModel(t *testing.T) {
	t.Parallel()
	d := map[string]string{}
	payload.SetModel(d, "models/")
	payload.SetModel(d, "")
	if len(d) != 0 {
		t.Fatalf("details %v, want none", d)
	}
	payload.SetModel(d, "publishers/google/models/gemini-2.0-flash-001")
	if d[tracker.DetailModel] != "gemini-2.0-flash-001" || len(d) != 1 {
		t.Errorf("details %v", d)
	}
}
