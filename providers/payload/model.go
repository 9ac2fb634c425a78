package payload

import (
	"strings"

	"github.com/jobwatch/jobwatch/tracker"
)

// ModelName is the model a provider names, without the resource path some
// APIs write it in, so that one model reads alike whichever form its job
// object used (prices are looked up by it):
//
//   - a resource name with a models collection, Google's and Fireworks':
//     "models/gemini-2.5-flash", "tunedModels/my-tune",
//     "publishers/google/models/gemini-2.0-flash-001",
//     "projects/p/locations/l/publishers/google/models/x",
//     "accounts/fireworks/models/llama-v3p1-8b-instruct": its last segment;
//   - an ARN, Bedrock's
//     "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0":
//     its last segment, "anthropic.claude-3-haiku-20240307-v1:0";
//   - anything else as it is: "gpt-4o-mini", an Azure deployment name, and
//     names whose "/" belongs to the name ("deepseek-ai/DeepSeek-V3" on
//     Together).
//
// Leading and trailing spaces are dropped; a path that ends in "/" names
// no model: "".
func ModelName(name string) string {
	name = strings.TrimSpace(name)
	last := name[strings.LastIndexByte(name, '/')+1:]
	if strings.HasPrefix(name, "arn:") {
		return last
	}
	segments := strings.Split(name, "/")
	for _, s := range segments[:len(segments)-1] {
		if s == "models" || strings.HasSuffix(s, "Models") {
			return last
		}
	}
	return name
}

// SetModel sets d[tracker.DetailModel] to the model a job object names
// (ModelName of name), when it names one.
func SetModel(d map[string]string, name string) {
	SetDetail(d, tracker.DetailModel, ModelName(name))
}
