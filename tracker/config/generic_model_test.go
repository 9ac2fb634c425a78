package config_test

import (
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
)

// A generic provider's model path reaches its event mapping, a poll's
// answer reads [providers.poll] model where it is given, and a path that is
// none is refused naming the key.
func TestGenericModelPath(t *testing.T) {
	t.Parallel()
	const text = "[[providers]]\nname = \"tasks\"\ntype = \"generic\"\n[providers.webhook]\nscheme = \"hmac-sha256-hex\"\nsignature_header = \"X-Sig\"\nsecrets = [\"s\"]\n" +
		"[providers.generic]\njob_id = \"data.id\"\nstatus = \"data.status\"\nmodel = \"data.model\"\n" +
		"[providers.poll]\nurl = \"https://tasks.example/v1/jobs/{id}\"\njob_id = \"id\"\nstatus = \"status\"\nmodel = \"spec.model\"\n"
	c, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	s := p.Settings()
	if s.Mapping == nil || s.Mapping.Model != "data.model" || s.PollMapping == nil || s.PollMapping.Model != "spec.model" {
		t.Fatalf("mappings %+v, poll %+v; want model data.model and spec.model", s.Mapping, s.PollMapping)
	}
	typ, _ := p.ProviderType()
	parser, err := typ.NewParser(s)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := parser.ParseEvent([]byte(`{"data":{"id":"t1","status":"done","model":"models/gemini-2.5-flash"}}`))
	if err != nil || obs.Details[tracker.DetailModel] != "gemini-2.5-flash" {
		t.Errorf("ParseEvent = %+v, %v; want model gemini-2.5-flash", obs, err)
	}

	// Without a poll model the events' path is the poll's too.
	c, err = config.Parse(strings.Replace(text, "model = \"spec.model\"\n", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Providers[0].Settings().PollMapping; m == nil || m.Model != "data.model" {
		t.Errorf("poll mapping %+v, want the events' model path", m)
	}

	_, err = config.Parse(strings.Replace(text, "model = \"data.model\"", "model = \"data..model\"", 1))
	if err == nil || !strings.Contains(err.Error(), `model: "data..model" is not a path`) {
		t.Errorf("a model path with an empty key: %v, want it refused", err)
	}
}
