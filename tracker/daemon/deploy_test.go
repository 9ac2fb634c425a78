package daemon

// The tests of deploy/: the files under it are read as their users' tools
// read them (Prometheus rules and their unit tests through promtool, the
// dashboard's queries, the systemd unit through systemd-analyze, the
// Kubernetes manifests and compose.yaml as YAML) and held to what the
// daemon does: the metrics it exports, the port it listens on, the
// endpoints it serves and the ${VAR}s its config needs. A tool this machine
// lacks makes its part skip, saying which; .ci/run installs them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/jobwatch/jobwatch/tracker/config"
)

// deployDir is the repository's deploy/ folder, from this package's.
const deployDir = "../../deploy"

// exportedMetrics builds a daemon over a fresh SQLite database and returns
// the name of every metric its registry describes: each collector's Describe
// names its metrics before any sample of them exists.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	cfg, err := config.Parse(fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndriver = \"sqlite\"\ndsn = %q\n",
		filepath.Join(t.TempDir(), "jobwatch.db")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	descs := make(chan *prometheus.Desc)
	go func() {
		d.registry.Describe(descs)
		close(descs)
	}()
	names := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for desc := range descs {
		m := fqName.FindStringSubmatch(desc.String())
		if m == nil {
			t.Fatalf("no fqName in %s", desc)
		}
		names[m[1]] = true
	}
	for _, want := range []string{"jobwatch_jobs", "jobwatch_polls_total", "jobwatch_alerts_total", "go_goroutines", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Fatalf("the daemon's registry describes no %s: %v", want, names)
		}
	}
	return names
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "atan2": true}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges and grouping
// clauses are taken out that are neither a function or aggregation (an
// identifier before "("), a keyword, part of a number or duration, nor a
// Grafana variable ($__rate_interval).
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.$", rune(s[loc[0]-1])) {
			continue
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNamesOfAnExpression(t *testing.T) {
	t.Parallel()
	expr := `histogram_quantile(0.9, sum by (le, provider) (rate(jobwatch_poll_duration_seconds_bucket{job="jobwatch", outcome=~"a|b"}[$__rate_interval])))
	  / on (instance) group_left (x) max without (job) (up offset 5m) > 1e3 and jobwatch_made_up_total unless bool 2`
	got := metricNames(expr)
	want := []string{"jobwatch_poll_duration_seconds_bucket", "up", "jobwatch_made_up_total"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

// checkMetricNames fails for each name that is neither exported by the
// daemon (a histogram's _bucket, _sum and _count series by its name) nor
// Prometheus's own up.
func checkMetricNames(t *testing.T, exported map[string]bool, where string, names []string) {
	t.Helper()
	for _, name := range names {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] {
				base = b
			}
		}
		if !exported[base] && name != "up" {
			t.Errorf("%s uses %s, which the daemon does not export", where, name)
		}
	}
}

// rulesFile is the part of a Prometheus rules file these tests read.
type rulesFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool rule test file these tests read.
type ruleTests struct {
	Tests []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// Every metric a rule, a rule test's input series or a dashboard panel
// names is one the daemon exports.
func TestDeployUsesOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)

	var rules rulesFile
	readYAML(t, filepath.Join(deployDir, "prometheus/rules.yml"), &rules)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			checkMetricNames(t, exported, "rule "+r.Alert, metricNames(r.Expr))
			n++
		}
	}
	var tests ruleTests
	readYAML(t, filepath.Join(deployDir, "prometheus/rules_test.yml"), &tests)
	for _, tc := range tests.Tests {
		for _, s := range tc.InputSeries {
			name, _, _ := strings.Cut(s.Series, "{")
			checkMetricNames(t, exported, "rules_test.yml's series "+s.Series, []string{strings.TrimSpace(name)})
		}
	}

	b, err := os.ReadFile(filepath.Join(deployDir, "grafana/dashboards/jobwatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard any
	if err := json.Unmarshal(b, &dashboard); err != nil {
		t.Fatalf("parse the dashboard: %v", err)
	}
	exprs := 0
	var walk func(v any, title string)
	walk = func(v any, title string) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["title"].(string); ok {
				title = s
			}
			for k, e := range v {
				if s, ok := e.(string); ok && k == "expr" {
					names := metricNames(s)
					if len(names) == 0 {
						t.Errorf("panel %q: no metric in %q", title, s)
					}
					checkMetricNames(t, exported, fmt.Sprintf("panel %q", title), names)
					exprs++
				} else {
					walk(e, title)
				}
			}
		case []any:
			for _, e := range v {
				walk(e, title)
			}
		}
	}
	walk(dashboard, "")
	if n == 0 || exprs == 0 {
		t.Fatalf("%d rules and %d dashboard queries read: the files' shapes are not the ones this test reads", n, exprs)
	}
}

// Every alerting rule has a runbook, and unit tests in rules_test.yml where
// it fires and where it does not; promtool checks the rules, runs those
// tests and checks prometheus.yml.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	var rules rulesFile
	readYAML(t, filepath.Join(deployDir, "prometheus/rules.yml"), &rules)
	var tests ruleTests
	readYAML(t, filepath.Join(deployDir, "prometheus/rules_test.yml"), &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if strings.TrimSpace(r.Annotations["runbook"]) == "" || strings.TrimSpace(r.Annotations["summary"]) == "" {
				t.Errorf("rule %s lacks a summary or a runbook annotation", r.Alert)
			}
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("rule %s: rules_test.yml lacks a case where it fires (%v) or one where it does not (%v)", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
		}
	}
	if alerts == 0 {
		t.Fatal("rules.yml has no alerting rule")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("skip: promtool is not installed (Debian: apt-get install prometheus); rules not checked by it")
	}
	dir := filepath.Join(deployDir, "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "rules.yml"},
		{"test", "rules", "rules_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// listenPort is the port of a config's server.listen.
func listenPort(t *testing.T, c config.Config) int {
	t.Helper()
	_, port, err := net.SplitHostPort(c.Server.Listen)
	if err != nil {
		t.Fatalf("server.listen %q: %v", c.Server.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("server.listen %q: port: %v", c.Server.Listen, err)
	}
	return p
}

// imageConfig is deploy/jobwatch.toml as the image runs it with no
// environment set: every ${VAR:-default} takes its default.
func imageConfig(t *testing.T) config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "jobwatch.toml"))
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\$\{([A-Z0-9_]+)`)
	for _, m := range vars.FindAllStringSubmatch(string(b), -1) {
		if _, ok := os.LookupEnv(m[1]); ok {
			t.Skipf("skip: %s is set in this environment: deploy/jobwatch.toml's defaults cannot be read", m[1])
		}
	}
	c, err := config.Parse(string(b))
	if err != nil {
		t.Fatalf("deploy/jobwatch.toml: %v", err)
	}
	return c
}

// stageLines are a Dockerfile's instructions from its last FROM on, without
// comments and blank lines, continuation lines joined.
func stageLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "FROM ") {
			lines = nil
		}
		lines = append(lines, l)
	}
	return lines
}

// The image CI builds from a prebuilt binary (Containerfile.prebuilt) is the
// Dockerfile's final stage; the image is static, runs as a user other than
// root, and keeps the SQLite database of its config in its volume, on the
// port it exposes.
func TestContainerfilesAgree(t *testing.T) {
	t.Parallel()
	final := stageLines(t, filepath.Join(deployDir, "Dockerfile"))
	prebuilt := stageLines(t, filepath.Join(deployDir, "Containerfile.prebuilt"))
	fromBuild := strings.NewReplacer("--from=build /rootfs/", "rootfs/", "--from=build ", "", " /data/", " data/")
	for i := range final {
		final[i] = fromBuild.Replace(final[i])
	}
	if !slices.Equal(final, prebuilt) {
		t.Errorf("Containerfile.prebuilt is not the Dockerfile's final stage:\n%s\n---\n%s", strings.Join(final, "\n"), strings.Join(prebuilt, "\n"))
	}
	df, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "CGO_ENABLED=0 go build") {
		t.Error("the Dockerfile does not build with CGO_ENABLED=0")
	}
	get := func(instr string) string {
		for _, l := range prebuilt {
			if v, ok := strings.CutPrefix(l, instr+" "); ok {
				return v
			}
		}
		t.Fatalf("no %s in the final stage", instr)
		return ""
	}
	if u := get("USER"); u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("the image runs as %s", u)
	}
	c := imageConfig(t)
	volume := strings.Trim(get("VOLUME"), `[]" `)
	if c.Storage.Driver != "sqlite" || filepath.Dir(c.Storage.DSN.Reveal()) != volume {
		t.Errorf("the image's default storage is %s at %s, want sqlite in the volume %s", c.Storage.Driver, c.Storage.DSN, volume)
	}
	if port := get("EXPOSE"); port != strconv.Itoa(listenPort(t, c)) {
		t.Errorf("the image exposes %s but its config listens on %s", port, c.Server.Listen)
	}
	if host, _, _ := net.SplitHostPort(c.Server.Listen); host != "0.0.0.0" && host != "" {
		t.Errorf("the image's config listens on %s: unreachable from outside the container", c.Server.Listen)
	}
}

// compose.yaml runs two replicas of the image on its PostgreSQL, which
// prometheus.yml scrapes on the port the image's config listens on, and
// mounts files that exist.
func TestCompose(t *testing.T) {
	t.Parallel()
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   any               `yaml:"depends_on"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(deployDir, "compose.yaml"), &compose)
	port := listenPort(t, imageConfig(t))
	var replicas []string
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
		if s.Build.Dockerfile == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(deployDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("service %s builds %s: %v", name, s.Build.Dockerfile, err)
		}
		replicas = append(replicas, fmt.Sprintf("%s:%d", name, port))
		if s.Environment["JOBWATCH_STORAGE_DRIVER"] != "postgres" || !strings.Contains(s.Environment["JOBWATCH_STORAGE_DSN"], "@postgres:5432/") {
			t.Errorf("service %s does not run on the postgres service: %v", name, s.Environment)
		}
	}
	slices.Sort(replicas)
	if len(replicas) != 2 {
		t.Errorf("compose.yaml runs %d jobwatch replicas, want 2", len(replicas))
	}
	if _, ok := compose.Services["postgres"]; !ok {
		t.Error("compose.yaml has no postgres service")
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(deployDir, "prometheus/prometheus.yml"), &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName != "jobwatch" {
			continue
		}
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, replicas) {
		t.Errorf("prometheus.yml's job jobwatch scrapes %v, want the replicas %v", targets, replicas)
	}
}

// k8sObject is the part of a Kubernetes object these tests read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	// raw is the whole object, for the kinds whose fields are read apart.
	raw        yaml.Node
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// yamlInt says an optional integer: its value or "unset".
func yamlInt(p *int) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(*p)
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// k8sEnv is an environment variable of a container, set from a Secret's key.
type k8sEnv struct {
	Name      string `yaml:"name"`
	ValueFrom struct {
		SecretKeyRef struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type k8sContainer struct {
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env          []k8sEnv `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

// The Kubernetes manifests: two replicas whose probes ask /healthz and
// /readyz on the port the ConfigMap's config listens on, a disruption
// budget over their pods, the config mounted where the daemon is told to
// read it, and every secret passed from the Secret as a ${VAR} the config
// uses; with the Secret's values, the config loads.
func TestKubernetesManifests(t *testing.T) {
	objects := map[string]k8sObject{}
	paths, err := filepath.Glob(filepath.Join(deployDir, "kubernetes/*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o k8sObject
			if err := dec.Decode(&o.raw); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("parse %s: %v", p, err)
			}
			if err := o.raw.Decode(&o); err != nil {
				t.Fatalf("parse %s: %v", p, err)
			}
			objects[o.Kind+"/"+o.Metadata.Name] = o
		}
	}
	dep, ok := objects["Deployment/jobwatch"]
	if !ok {
		t.Fatalf("no Deployment jobwatch among %d objects", len(objects))
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("the Deployment's replicas are not 2 (%s)", yamlInt(dep.Spec.Replicas))
	}
	podLabels := dep.Spec.Template.Metadata.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(dep.Spec.Selector.MatchLabels) {
		t.Errorf("the Deployment's selector %v does not match its pods' labels %v", dep.Spec.Selector.MatchLabels, podLabels)
	}
	pdb, ok := objects["PodDisruptionBudget/jobwatch"]
	if !ok || !matches(pdb.Spec.Selector.MatchLabels) {
		t.Errorf("no PodDisruptionBudget whose selector matches the pods' labels %v", podLabels)
	}
	if len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("the Deployment's pods have %d containers, want 1", len(dep.Spec.Template.Spec.Containers))
	}
	ctr := dep.Spec.Template.Spec.Containers[0]

	// The config: the ConfigMap's jobwatch.toml, mounted at the path of --config.
	configPath := ""
	if i := slices.Index(ctr.Args, "--config"); i >= 0 && i+1 < len(ctr.Args) {
		configPath = ctr.Args[i+1]
	}
	cmName := ""
	for _, m := range ctr.VolumeMounts {
		if filepath.Join(m.MountPath, filepath.Base(configPath)) == configPath {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	text, ok := objects["ConfigMap/"+cmName].Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("the container reads --config %q, which is no key of a mounted ConfigMap (%q)", configPath, cmName)
	}

	// The secrets: every env var comes from the Secret, and the config names each.
	for _, e := range ctr.Env {
		ref := e.ValueFrom.SecretKeyRef
		secret, ok := objects["Secret/"+ref.Name]
		if !ok {
			t.Errorf("env %s: no Secret %q", e.Name, ref.Name)
			continue
		}
		v, ok := secret.StringData[ref.Key]
		if !ok {
			t.Errorf("env %s: the Secret %s has no key %s", e.Name, ref.Name, ref.Key)
		}
		if !strings.Contains(text, "${"+e.Name+"}") {
			t.Errorf("env %s is set from the Secret but the config does not use ${%s}", e.Name, e.Name)
		}
		t.Setenv(e.Name, v)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`).FindAllStringSubmatch(text, -1) {
		if !slices.ContainsFunc(ctr.Env, func(e k8sEnv) bool { return e.Name == m[1] }) {
			t.Errorf("the config uses ${%s}, which the container's env does not set", m[1])
		}
	}
	c, err := config.Parse(text)
	if err != nil {
		t.Fatalf("the ConfigMap's config with the Secret's values: %v", err)
	}
	if c.Storage.Driver != "postgres" {
		t.Errorf("the replicas' storage is %s, want postgres", c.Storage.Driver)
	}

	// The ports: the probes' and the Service's are the one the config listens on.
	port := listenPort(t, c)
	named := map[string]int{}
	for _, p := range ctr.Ports {
		named[p.Name] = p.ContainerPort
	}
	portOf := func(p any) int {
		switch p := p.(type) {
		case int:
			return p
		case string:
			return named[p]
		}
		return 0
	}
	if named["http"] != port {
		t.Errorf("the container port http is %d, the config listens on %d", named["http"], port)
	}
	for _, pr := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"startup", ctr.StartupProbe, "/healthz"}, {"liveness", ctr.LivenessProbe, "/healthz"}, {"readiness", ctr.ReadinessProbe, "/readyz"}} {
		switch {
		case pr.probe == nil:
			t.Errorf("no %s probe", pr.name)
		case pr.probe.HTTPGet.Path != pr.path || portOf(pr.probe.HTTPGet.Port) != port:
			t.Errorf("the %s probe asks %s on port %v, want %s on %d", pr.name, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port, pr.path, port)
		}
	}
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	if o, ok := objects["Service/jobwatch"]; !ok {
		t.Error("no Service jobwatch")
	} else if err := o.raw.Decode(&svc); err != nil {
		t.Fatalf("parse the Service: %v", err)
	}
	if !matches(svc.Spec.Selector) || len(svc.Spec.Ports) != 1 || portOf(svc.Spec.Ports[0].TargetPort) != port {
		t.Errorf("the Service does not select the pods (%v) on port %d: %+v", podLabels, port, svc.Spec)
	}
	if p, ok := dep.Spec.Template.Metadata.Annotations["prometheus.io/port"]; ok && p != strconv.Itoa(port) {
		t.Errorf("the pods' prometheus.io/port is %s, the config listens on %d", p, port)
	}
	if ctr.Resources.Requests["memory"] == "" || ctr.Resources.Requests["cpu"] == "" || ctr.Resources.Limits["memory"] == "" {
		t.Errorf("the container's resources %+v lack a cpu or memory request or a memory limit", ctr.Resources)
	}
}

// The systemd unit is hardened as deploy/systemd's comment says, keeps its
// state where the config's SQLite database is, and passes
// systemd-analyze verify without a warning.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(deployDir, "systemd/jobwatch.service")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	settings := map[string][]string{}
	for _, l := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(l, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "jobwatch", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if !slices.Contains(settings[k], want) {
			t.Errorf("the unit's %s is %q, want %q", k, settings[k], want)
		}
	}
	if !slices.Contains(settings["Environment"], "JOBWATCH_STORAGE_DSN=/var/lib/jobwatch/jobwatch.db") {
		t.Errorf("the unit does not keep the SQLite database in its state directory /var/lib/jobwatch: %q", settings["Environment"])
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("skip: systemd-analyze is not installed; the unit is not verified by it")
	}
	// verify checks that ExecStart's binary exists: point it at one that does.
	dir := t.TempDir()
	bin := filepath.Join(dir, "jobwatch")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "jobwatch.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(unit, "/usr/local/bin/jobwatch", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
