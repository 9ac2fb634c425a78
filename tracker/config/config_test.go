package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/config"
)

func TestExampleFileParsesWithNoEnvironment(t *testing.T) {
	c, err := config.Load("../../config.example.toml")
	if err != nil {
		t.Fatalf("config.example.toml: %v", err)
	}
	if c != config.Default() {
		t.Errorf("config.example.toml differs from the defaults:\n%+v\n%+v", c, config.Default())
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"misspelt key", "[server]\nlisen = \"127.0.0.1:1\"\n", "server.lisen: unknown key"},
		{"unknown table", "[sever]\nlisten = \"x\"\n", "sever: unknown key"},
		{"bad duration", "[server]\nread_timeout = \"10 minutes\"\n", `"server.read_timeout"`},
		{"bad driver", "[storage]\ndriver = \"mysql\"\n", "storage.driver: \"mysql\" is not a driver (want sqlite or postgres)"},
		{"bad level", "[log]\nlevel = \"loud\"\n", "log.level: "},
		{"bad type", "[server]\nmax_body_bytes = \"big\"\n", "server.max_body_bytes"},
		{"unset env", "[server]\napi_token = \"${JOBWATCH_TEST_UNSET_VAR}\"\n", "server.api_token: environment variable JOBWATCH_TEST_UNSET_VAR is not set"},
		{"negative", "[server]\nshutdown_timeout = \"-1s\"\n", "server.shutdown_timeout: must not be negative"},
	}
	for _, tt := range tests {
		_, err := config.Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestEnvExpansionAndSecrets(t *testing.T) {
	t.Setenv("JOBWATCH_TEST_TOKEN", "tok-123")
	t.Setenv("JOBWATCH_TEST_DSN", "postgres://u:pw@h/db")
	c, err := config.Parse(`
[server]
api_token = "${JOBWATCH_TEST_TOKEN}"
read_timeout = "2m"
[storage]
driver = "postgres"
dsn = "${JOBWATCH_TEST_DSN}"
[log]
format = "${JOBWATCH_TEST_FORMAT:-text}"
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.APIToken.Reveal() != "tok-123" || c.Storage.DSN.Reveal() != "postgres://u:pw@h/db" || c.Log.Format != "text" {
		t.Errorf("expanded config = %+v", c)
	}
	if c.Server.ReadTimeout.D() != 2*time.Minute {
		t.Errorf("read_timeout = %v", c.Server.ReadTimeout.D())
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "tok-123") || strings.Contains(s, "pw@") {
			t.Errorf("a secret printed: %s", s)
		}
	}
}
