package config_test

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/tracker/config"
)

func TestExampleFileParsesWithNoEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_WEBHOOK_SECRET", "")
	c, err := config.Load("../../config.example.toml")
	if err != nil {
		t.Fatalf("config.example.toml: %v", err)
	}
	// Apart from its default route to the log notifier, the example is the defaults.
	if len(c.Notifiers) != 1 || c.Notifiers[0].Type != config.NotifierLog || len(c.Routes) != 1 || c.Routes[0].Events[0] != "*" {
		t.Errorf("config.example.toml's default route: %+v %+v", c.Notifiers, c.Routes)
	}
	// and its openai provider, on with its polls and webhooks off until
	// their secrets are set.
	if len(c.Providers) != 1 || c.Providers[0].Name != "openai" || c.Providers[0].Polls() || c.Providers[0].WebhooksOn() || c.Providers[0].Webhook == nil {
		t.Errorf("config.example.toml's providers: %+v", c.Providers)
	}
	c.Notifiers, c.Routes, c.Providers = nil, nil, nil
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("config.example.toml differs from the defaults:\n%+v\n%+v", c, config.Default())
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"misspelt key", "[server]\nlisen = \"127.0.0.1:1\"\n", "server.lisen: unknown key"},
		{"unknown table", "[sever]\nlisten = \"x\"\n", "sever: unknown key"},
		{"bad duration", "[server]\nread_timeout = \"10 minutes\"\n", `server.read_timeout: invalid duration "10 minutes"`},
		{"bad driver", "[storage]\ndriver = \"mysql\"\n", "storage.driver: \"mysql\" is not a driver (want sqlite or postgres)"},
		{"one connection", "[storage]\nmax_open_conns = 1\n", "storage.max_open_conns: 1 is out of range (2 to 1000)"},
		{"job cache", "[storage]\njob_cache = -2\n", "storage.job_cache: -2 is out of range (-1 for none, or 1 to 1000000)"},
		{"bad level", "[log]\nlevel = \"loud\"\n", "log.level: "},
		{"bad type", "[server]\nmax_body_bytes = \"big\"\n", "server.max_body_bytes"},
		{"tiny header limit", "[server]\nmax_header_bytes = 100\n", "server.max_header_bytes: 100 is out of range (4096 to 1048576)"},
		{"unset env", "[server]\napi_token = \"${JOBWATCH_TEST_UNSET_VAR}\"\n", "server.api_token: environment variable JOBWATCH_TEST_UNSET_VAR is not set"},
		{"negative", "[server]\nshutdown_timeout = \"-1s\"\n", "server.shutdown_timeout: must not be negative"},
		{"negative log bound", "[server]\ndelivery_max_rows = -1\n", "server.delivery_max_rows: must not be negative"},
		{"negative connect timeout", "[storage]\nconnect_timeout = \"-1s\"\n", "storage.connect_timeout: must be positive"},
		{"admin on the public address", "[server]\nadmin_listen = \"127.0.0.1:8080\"\n", "server.admin_listen: \"127.0.0.1:8080\" is server.listen too"},
		{"admin not an address", "[server]\nadmin_listen = \"admin\"\n", "server.admin_listen: \"admin\" is not a host:port address"},
		{"admin TLS without admin", "[server]\nadmin_tls_cert_file = \"a.crt\"\nadmin_tls_key_file = \"a.key\"\n", "server.admin_tls_cert_file: set without server.admin_listen"},
		{"cert without key", "[server]\ntls_cert_file = \"a.crt\"\n", "server.tls_cert_file: server.tls_cert_file and server.tls_key_file go together"},
		{"negative job retention", "[retention]\njobs = \"-1h\"\n", "retention.jobs: must not be negative"},
		{"job retention not a duration", "[retention]\njobs = \"90 days\"\n", `retention.jobs: invalid duration "90 days"`},
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

// The commented-out provider blocks of config.example.toml are valid once
// uncommented and given their secrets.
func TestExampleProvidersAreValid(t *testing.T) {
	b, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`^# (\[|[a-z_]+ = )`)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if setting.MatchString(l) {
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	for _, v := range []string{"OPENAI_WEBHOOK_SECRET", "MYTHICDOT_WEBHOOK_SECRET", "LLMTUNE_WEBHOOK_SECRET", "TASKS_WEBHOOK_SECRET",
		"OPENAI_API_KEY", "MYTHICDOT_API_KEY", "ANTHROPIC_API_KEY", "TASKS_API_KEY", "MISTRAL_API_KEY", "AZURE_OPENAI_API_KEY", "SMTP_PASSWORD", "DOWNSTREAM_WEBHOOK_SECRET"} {
		t.Setenv(v, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	}
	t.Setenv("GEMINI_API_KEY", "gemini-key")
	t.Setenv("GEMINI_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for _, v := range []string{"GROQ_API_KEY", "TOGETHER_API_KEY", "FIREWORKS_API_KEY"} {
		t.Setenv(v, "bearer-test-key")
	}
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/XYZ")
	c, err := config.Parse(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	if len(c.Notifiers) != 4 || len(c.Routes) != 3 || len(c.Thresholds) != 2 || len(c.Prices) != 2 {
		t.Fatalf("uncommented example has %d notifiers, %d routes, %d thresholds, %d prices; want 4, 3, 2, 2", len(c.Notifiers), len(c.Routes), len(c.Thresholds), len(c.Prices))
	}
	byType := map[string]*config.Provider{}
	for i := range c.Providers {
		byType[c.Providers[i].Type] = &c.Providers[i]
	}
	if len(c.Providers) != 13 || len(byType) != 13 || byType["generic"].Generic == nil || len(byType["generic"].Generic.StatusMap) != 4 {
		t.Fatalf("uncommented example has providers %+v", c.Providers)
	}
	for _, typ := range []string{"anthropic", "generic", "mistral", "azure-openai", "vertex", "gemini", "groq", "together", "fireworks", "bedrock"} {
		if !byType[typ].Polls() {
			t.Errorf("uncommented example's %s provider is not polled: %+v", typ, byType[typ])
		}
	}
	if v := byType["vertex"]; v.Project == "" || v.Location == "" {
		t.Errorf("uncommented example's vertex provider: %+v", v)
	}
	if gemini := byType["gemini"]; gemini.Webhook == nil || gemini.Webhook.Scheme != "standard-webhooks" {
		t.Errorf("uncommented example's gemini provider: %+v", gemini)
	}
}

func TestProviderErrorsNameTheKey(t *testing.T) {
	t.Setenv("SHORT_SECRET", "whsec_c2hvcnQ=")
	tests := []struct{ name, text, want string }{
		{"bad type", "[[providers]]\nname = \"x\"\ntype = \"acme\"\n", "providers[0].type: \"acme\" is not a provider type"},
		{"bad name", "[[providers]]\nname = \"Open AI\"\ntype = \"openai\"\n", "providers[0].name:"},
		{"duplicate", "[[providers]]\nname = \"a\"\ntype = \"openai\"\n[[providers]]\nname = \"a\"\ntype = \"openai\"\n", "providers[1].name: \"a\" is used by an earlier provider"},
		{"short whsec", "[[providers]]\nname = \"a\"\ntype = \"openai\"\n[providers.webhook]\nsecrets = [\"${SHORT_SECRET}\"]\n", "providers[0].webhook.secrets[0]: whsec_ secret decodes to 5 bytes"},
		{"bad scheme", "[[providers]]\nname = \"a\"\ntype = \"generic\"\n[providers.webhook]\nscheme = \"md5\"\nsecrets = [\"s\"]\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n", "providers[0].webhook.scheme: unknown scheme \"md5\""},
		{"bad policy", "[[providers]]\nname = \"a\"\ntype = \"mythicdot\"\n[providers.webhook]\nsecrets = [\"s\"]\nunknown_jobs = \"ignore\"\n", "providers[0].webhook.unknown_jobs: \"ignore\" is not a policy"},
		{"generic without paths", "[[providers]]\nname = \"a\"\ntype = \"generic\"\n", "providers[0].generic: required for type generic"},
		{"generic missing job id", "[[providers]]\nname = \"a\"\ntype = \"generic\"\n[providers.generic]\nstatus = \"s\"\n", "providers[0].generic.job_id: required"},
		{"anthropic webhook", "[[providers]]\nname = \"a\"\ntype = \"anthropic\"\napi_key = \"k\"\n[providers.webhook]\nsecrets = [\"s\"]\n", "providers[0].webhook: anthropic sends no webhooks"},
		{"anthropic without key", "[[providers]]\nname = \"a\"\ntype = \"anthropic\"\n", "providers[0].api_key: required"},
		{"poll without key", "[[providers]]\nname = \"a\"\ntype = \"openai\"\n[providers.poll]\nconcurrency = 2\n", "providers[0].api_key: required to poll"},
		{"generic poll url", "[[providers]]\nname = \"a\"\ntype = \"generic\"\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n[providers.poll]\nurl = \"https://x/tasks\"\n", "providers[0].poll.url: must be an http(s) URL containing {id}"},
		{"bad schedule", "[sweep]\nschedule = \"every minute\"\n", "sweep.schedule: "},
		{"tz schedule", "[sweep]\nschedule = \"CRON_TZ=Mars/Olympus * * * * *\"\n", "sweep.schedule: "},
		{"bad lost_after", "[sweep.lost_after]\nbatch = \"soon\"\n", "sweep.lost_after.batch"},
		{"mistral webhook", "[[providers]]\nname = \"m\"\ntype = \"mistral\"\napi_key = \"k\"\n[providers.webhook]\nsecrets = [\"s\"]\n", "providers[0].webhook: mistral sends no webhooks"},
		{"mistral without key", "[[providers]]\nname = \"m\"\ntype = \"mistral\"\n", "providers[0].api_key: required: mistral jobs are only ever polled"},
		{"fireworks without account", "[[providers]]\nname = \"f\"\ntype = \"fireworks\"\napi_key = \"k\"\n", "providers[0].account: required"},
		{"fireworks with a path for account", "[[providers]]\nname = \"f\"\ntype = \"fireworks\"\naccount = \"a/b\"\napi_key = \"k\"\n", "providers[0].account: must be an account id"},
		{"mistral with paths", "[[providers]]\nname = \"m\"\ntype = \"mistral\"\napi_key = \"k\"\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n", "providers[0].generic: only for a type configured by field paths"},
		{"vertex without project", "[[providers]]\nname = \"v\"\ntype = \"vertex\"\nlocation = \"us-central1\"\n", "providers[0].project: \"\" is not a Google Cloud project id (required)"},
		{"vertex bad location", "[[providers]]\nname = \"v\"\ntype = \"vertex\"\nproject = \"p-1\"\nlocation = \"us central\"\n", "providers[0].location: \"us central\" is not a Google Cloud location"},
		{"vertex with api_key", "[[providers]]\nname = \"v\"\ntype = \"vertex\"\nproject = \"p-1\"\nlocation = \"us-central1\"\napi_key = \"k\"\n", "providers[0].api_key: not used: vertex authenticates with credentials of its own"},
		{"bedrock without region", "[[providers]]\nname = \"b\"\ntype = \"bedrock\"\n", "providers[0].region: \"\" is not an AWS region such as us-east-1 (required)"},
		{"bedrock with api_key", "[[providers]]\nname = \"b\"\ntype = \"bedrock\"\nregion = \"us-east-1\"\napi_key = \"k\"\n", "providers[0].api_key: not used: bedrock authenticates with credentials of its own"},
		{"mythicdot poll without base_url", "[[providers]]\nname = \"m\"\ntype = \"mythicdot\"\napi_key = \"k\"\n", "providers[0].base_url: required to poll mythicdot"},
		{"azure-openai without base_url", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\napi_key = \"k\"\n", "providers[0].base_url: required to poll azure-openai"},
		{"azure-openai polled too often", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\napi_key = \"k\"\n[providers.poll]\nstale_after = \"30s\"\n", "providers[0].poll.stale_after: must be at least 2m0s for azure-openai"},
		{"azure-openai kind polled too often", "[[providers]]\nname = \"az\"\ntype = \"azure-openai\"\nbase_url = \"https://r.openai.azure.com\"\napi_key = \"k\"\n[providers.poll.stale_after_by_kind]\nbatch = \"1m\"\n", "providers[0].poll.stale_after_by_kind.batch: must be at least 2m0s"},
		{"slack url", "[[notifiers]]\nname = \"s\"\ntype = \"slack\"\nwebhook_url = \"not a url\"\n", "notifiers[0].webhook_url"},
		{"webhook secret", "[[notifiers]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"https://x/y\"\nsecret = \"plain\"\n", "notifiers[0].secret"},
		{"email to", "[[notifiers]]\nname = \"e\"\ntype = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b.c\"\n", "notifiers[0].to"},
		{"route to nobody", "[[routes]]\nevents = [\"job.*\"]\nnotifiers = [\"pager\"]\n", "routes[0].notifiers[0]: no notifier named \"pager\""},
		{"threshold metric", "[[thresholds]]\nname = \"t\"\nmetric = \"dollars\"\nwindow = \"day\"\nlimit = 5\n", "thresholds[0].metric: \"dollars\" is not a metric"},
		{"threshold window", "[[thresholds]]\nname = \"t\"\nmetric = \"tokens\"\nwindow = \"week\"\nlimit = 5\n", "thresholds[0].window"},
		{"unknown webhook key", "[[providers]]\nname = \"a\"\ntype = \"openai\"\n[providers.webhook]\nsecret = \"s\"\n", "providers[0].webhook.secret: unknown key"},
	}
	for _, tt := range tests {
		_, err := config.Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("%s: the error shows a secret: %v", tt.name, err)
		}
	}
}

func TestNotifierRateLimits(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(`
[[notifiers]]
name = "slack"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B0/XYZ"
[[notifiers]]
name = "mattermost"
type = "slack"
webhook_url = "https://chat.example.com/hooks/XYZ"
rate_limit = 0
[[notifiers]]
name = "log"
type = "log"
[[notifiers]]
name = "slow-log"
type = "log"
rate_limit = 0.5
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"slack": 1, "mattermost": 0, "log": 0, "slow-log": 0.5}
	if got := c.RateLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("RateLimits() = %v, want %v (slack 1/s by default, 0 kept as no limit)", got, want)
	}
	for _, bad := range []string{"-1", "nan", "inf"} {
		_, err := config.Parse("[[notifiers]]\nname = \"l\"\ntype = \"log\"\nrate_limit = " + bad + "\n")
		if err == nil || !strings.Contains(err.Error(), "notifiers[0].rate_limit: ") {
			t.Errorf("rate_limit = %s: error %v, want one naming notifiers[0].rate_limit", bad, err)
		}
	}
}

func TestNotifierConcurrency(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(`
[[notifiers]]
name = "slack"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B0/XYZ"
[[notifiers]]
name = "hook"
type = "webhook"
url = "https://hooks.example.com/jobwatch"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[notifiers]]
name = "mail"
type = "email"
smtp_host = "smtp.example.com"
from = "jobwatch@example.com"
to = ["oncall@example.com"]
[[notifiers]]
name = "busy-hook"
type = "webhook"
url = "https://hooks.example.com/busy"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
concurrency = 32
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"slack": 1, "hook": 8, "mail": 2, "busy-hook": 32}
	if got := c.Concurrency(); !reflect.DeepEqual(got, want) {
		t.Errorf("Concurrency() = %v, want %v (the type's default unless set)", got, want)
	}
	for _, bad := range []string{"-1", "257"} {
		_, err := config.Parse("[[notifiers]]\nname = \"l\"\ntype = \"log\"\nconcurrency = " + bad + "\n")
		if err == nil || !strings.Contains(err.Error(), "notifiers[0].concurrency: ") {
			t.Errorf("concurrency = %s: error %v, want one naming notifiers[0].concurrency", bad, err)
		}
	}
}

func TestEmailTLSKeys(t *testing.T) {
	t.Parallel()
	email := "[[notifiers]]\nname = \"e\"\ntype = \"email\"\nsmtp_host = \"127.0.0.1\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n"
	missing := t.TempDir() + "/missing.pem"
	if _, err := config.Parse(email + "tls_ca_file = \"" + missing + "\"\n"); err == nil ||
		!strings.Contains(err.Error(), "notifiers[0].tls_ca_file: open "+missing) {
		t.Errorf("a missing tls_ca_file: error %v, want one naming the key and the file", err)
	}
	c, err := config.Parse(email + "tls_server_name = \"relay.internal.example\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Notifiers[0].EmailConfig().TLSServerName; got != "relay.internal.example" {
		t.Errorf("TLSServerName = %q", got)
	}
}

// A route's events must name alerts jobwatch can raise: its own types, a
// provider type's event types, or patterns; a typo is an error listing them.
func TestRouteEventsNameKnownAlertTypes(t *testing.T) {
	t.Parallel()
	route := func(events string) string {
		return "[[notifiers]]\nname = \"log\"\ntype = \"log\"\n[[routes]]\nnotifiers = [\"log\"]\nevents = " + events + "\n"
	}
	generic := "[[providers]]\nname = \"tasks\"\ntype = \"generic\"\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n"
	ok := []string{
		route(`["job.failed", "job.partial_failure", "usage.threshold", "provider.auth_failed", "job.*", "*", "usage.threshold.reached", "model.deployed", "deployment.paused", "usage.threshold_reached"]`),
		route(`["task.usage_warning"]`) + generic,
	}
	for _, text := range ok {
		if _, err := config.Parse(text); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
	bad := []struct{ text, want string }{
		{route(`["job.failed", "job.faild"]`), `routes[0].events[1]: "job.faild" is no alert type (jobwatch raises job.succeeded, job.failed, `},
		{route(`["modle.deployed"]`), `routes[0].events[0]: "modle.deployed" is no alert type (`},
		{route(`["job.faild"]`) + generic, `routes[0].events[0]: "job.faild" is no alert type (`},
	}
	for _, tt := range bad {
		_, err := config.Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "llmtune sends training.started") {
			t.Errorf("%s: error %v, want it to contain %q and the providers' types", tt.text, err, tt.want)
		}
	}
}

// A webhook table without a secret (an unset "${VAR:-}") is valid with its
// webhooks off, and an empty api_key is polling off; the rest of the scheme
// is still checked.
func TestEmptySecretsTurnWebhooksAndPollsOff(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("[[providers]]\nname = \"a\"\ntype = \"openai\"\napi_key = \"${JOBWATCH_TEST_UNSET_VAR:-}\"\n[providers.webhook]\nsecrets = [\"${JOBWATCH_TEST_UNSET_VAR:-}\"]\n" +
		"[[providers]]\nname = \"b\"\ntype = \"mythicdot\"\n[providers.webhook]\n" +
		"[[providers]]\nname = \"c\"\ntype = \"llmtune\"\n[providers.webhook]\nsecrets = [\"s\"]\n" +
		"[[providers]]\nname = \"d\"\ntype = \"generic\"\n[providers.webhook]\nscheme = \"hmac-sha256-hex\"\nsignature_header = \"X-Sig\"\ninsecure_skip_verify = true\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, false, true, true} {
		if p := c.Providers[i]; p.WebhooksOn() != want || p.Polls() {
			t.Errorf("provider %s: WebhooksOn %v, Polls %v; want %v, false", p.Name, p.WebhooksOn(), p.Polls(), want)
		}
	}
	if len(c.Providers[0].Webhook.Secrets) != 0 {
		t.Errorf("secrets = %v, want the empty one dropped", c.Providers[0].Webhook.Secrets)
	}
	_, err = config.Parse("[[providers]]\nname = \"a\"\ntype = \"generic\"\n[providers.webhook]\nsecrets = [\"${JOBWATCH_TEST_UNSET_VAR:-}\"]\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n")
	if err == nil || !strings.Contains(err.Error(), "providers[0].webhook.scheme: required") {
		t.Errorf("a generic webhook with no secret and no scheme: %v, want the scheme required", err)
	}
}

// One pass reports every error: unknown keys do not hide bad values, a bad
// duration does not stop the other checks, keys in arrays of tables carry
// their index, and a bad value is reported once.
func TestEveryErrorInOnePass(t *testing.T) {
	t.Parallel()
	_, err := config.Parse(`
[server]
write_timeout = "5 mins"
max_body_bytes = "big"
[storage]
driver = "mysql"
dsn = "x.db"
drivr = "sqlite"
[sweep]
batch_size = -5
[[providers]]
name = "a"
type = "openai"
[[providers]]
name = 5
type = "openai"
api_key = "k"
[providers.poll]
rate_limt = 3
timeout = "soon"
[[notifiers]]
name = "log"
type = "log"
[[routes]]
events = ["job.*", 7]
notifiers = ["log"]
`)
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := []string{
		`server.write_timeout: invalid duration "5 mins"`,
		"server.max_body_bytes: want an integer, not a string",
		`storage.driver: "mysql" is not a driver`,
		"storage.drivr: unknown key",
		"sweep.batch_size: ",
		"providers[1].name: want a string, not an integer",
		"providers[1].poll.rate_limt: unknown key",
		`providers[1].poll.timeout: invalid duration "soon"`,
		"routes[0].events[1]: want a string, not an integer",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the errors lack %q:\n%v", w, err)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d (each bad key once):\n%v", len(lines), len(want), err)
	}
}

// A base_url (or a generic poll URL) with credentials is refused, and no
// error quotes them, nor a URL that does not parse.
func TestURLCredentialsAreRefusedUnquoted(t *testing.T) {
	t.Parallel()
	const secret = "Zq7secretPW"
	tests := []struct{ text, want string }{
		{"[[providers]]\nname = \"m\"\ntype = \"mythicdot\"\napi_key = \"k\"\nbase_url = \"https://u:" + secret + "@api.example.com/v1\"\n",
			"providers[0].base_url: must not hold credentials (https://api.example.com/v1)"},
		{"[[providers]]\nname = \"m\"\ntype = \"mythicdot\"\napi_key = \"k\"\nbase_url = \"https://" + secret + "@api.example.com/v1\"\n",
			"providers[0].base_url: must not hold credentials"},
		{"[[providers]]\nname = \"m\"\ntype = \"mythicdot\"\napi_key = \"k\"\nbase_url = \"https://u:" + secret + "@api.example.com:44x3/v1\"\n",
			"providers[0].base_url: does not parse"},
		{"[[providers]]\nname = \"g\"\ntype = \"generic\"\n[providers.generic]\njob_id = \"id\"\nstatus = \"s\"\n[providers.poll]\nurl = \"https://u:" + secret + "@x.example/{id}\"\n",
			"providers[0].poll.url: must not hold credentials"},
	}
	for _, tt := range tests {
		_, err := config.Parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes the credentials: %v", err)
		}
	}
}

// A vertex provider is polled from its entry alone, with no api_key: its
// project, location and key file reach its settings, and its base URL is
// left to the type (derived from the location).
func TestVertexIsPolledWithoutAPIKey(t *testing.T) {
	cfg, err := config.Parse("[[providers]]\nname = \"vertex\"\ntype = \"vertex\"\nproject = \"my-project\"\nlocation = \"europe-west4\"\ncredentials_file = \"/etc/jobwatch/sa.json\"\n")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cfg.Provider("vertex")
	s := p.Settings()
	if !p.Polls() || p.Poll == nil || p.Poll.RateLimit != 5 || s.Project != "my-project" || s.Location != "europe-west4" || s.CredentialsFile != "/etc/jobwatch/sa.json" || s.BaseURL != "" {
		t.Errorf("polls %v, poll %+v, settings %+v", p.Polls(), p.Poll, s)
	}
}

// A bedrock provider is polled from its entry alone, with no api_key: its
// region reaches its settings, and its base URL is left to the type
// (derived from the region).
func TestBedrockIsPolledWithoutAPIKey(t *testing.T) {
	cfg, err := config.Parse("[[providers]]\nname = \"bedrock\"\ntype = \"bedrock\"\nregion = \"eu-central-1\"\n")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cfg.Provider("bedrock")
	s := p.Settings()
	if !p.Polls() || p.Poll == nil || s.Region != "eu-central-1" || s.BaseURL != "" {
		t.Errorf("polls %v, poll %+v, settings %+v", p.Polls(), p.Poll, s)
	}
}

// retention.jobs defaults to 2160h when unset, and "0" keeps every job
// rather than falling back to the default.
func TestJobRetention(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]time.Duration{
		"":                               2160 * time.Hour,
		"[retention]\n":                  2160 * time.Hour,
		"[retention]\njobs = \"0\"\n":    0,
		"[retention]\njobs = \"720h\"\n": 720 * time.Hour,
	} {
		c, err := config.Parse(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got := c.Retention.JobsFor(); got != want {
			t.Errorf("%q: retention.jobs = %v, want %v", text, got, want)
		}
	}
}
