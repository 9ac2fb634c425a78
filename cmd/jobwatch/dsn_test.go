package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config checks the storage DSN without connecting, and no command
// prints a DSN's password, even when the DSN does not parse.
func TestStorageDSNErrors(t *testing.T) {
	t.Parallel()
	const pw = "Zq7secretPW"
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPort := write("port.toml", "[storage]\ndriver = \"postgres\"\ndsn = \"postgres://u:"+pw+"@127.0.0.1:54x2/db\"\n")
	noDir := write("nodir.toml", "[storage]\ndsn = \""+filepath.Join(dir, "missing", "jobwatch.db")+"\"\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"check-config", "--config", badPort}, `storage.dsn: open postgres: parse DSN: parse "postgres://u:<redacted>@127.0.0.1:54x2/db": invalid port`},
		{[]string{"check-config", "--config", noDir}, `storage.dsn: open sqlite database "` + filepath.Join(dir, "missing", "jobwatch.db") + `": directory does not exist`},
		{[]string{"migrate", "--config", badPort}, "invalid port"},
		{[]string{"serve", "--config", badPort}, "invalid port"},
		{[]string{"track", "--provider", "openai", "--kind", "batch", "b1", "--config", badPort}, "invalid port"},
		{[]string{"alerts", "list", "--config", badPort}, "invalid port"},
		{[]string{"bench", "ingest", "--storage", "postgres", "--dsn", "postgres://u:" + pw + "@127.0.0.1:54x2/db"}, "invalid port"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != 1 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, %q; want exit 1 with %q", tt.args[0], code, out, tt.want)
		}
		if strings.Contains(out, pw) {
			t.Errorf("%s prints the password: %s", tt.args[0], out)
		}
	}
}
