package config_test

import (
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/tracker"
	"github.com/jobwatch/jobwatch/tracker/config"
)

const costProvider = "[[providers]]\nname = \"openai\"\ntype = \"openai\"\n"

// The price table and cost thresholds become the tracker's, in nanos of
// the currency; the currency defaults to USD.
func TestPricesAndCostThresholds(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(costProvider + `
[[prices]]
provider = "openai"
model = "gpt-4o-mini*"
kind = "batch"
input_per_million = 0.075
cached_input_per_million = 0.0375
output_per_million = 0.3

[[prices]]
provider = "openai"
model = "gpt-4o-mini*"
input_per_million = 0.15
output_per_million = 0.6

[[thresholds]]
name = "daily-spend"
metric = "cost"
window = "day"
limit = 50.5
projected = true

[[thresholds]]
name = "jobs"
metric = "jobs"
window = "day"
limit = 100
`)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerting()
	if a == nil || a.Prices == nil || a.Prices.Currency != "USD" || len(a.Prices.Entries) != 2 {
		t.Fatalf("alerting = %+v, want the price table in USD", a)
	}
	if e := a.Prices.Entries[0]; e.Kind != tracker.KindBatch || e.Input != 0.075 || e.CachedInput == nil || *e.CachedInput != 0.0375 || e.Output != 0.3 {
		t.Errorf("first entry = %+v", e)
	}
	if th := a.Thresholds[0]; th.Limit != 50_500_000_000 || th.Currency != "USD" || !th.Projected {
		t.Errorf("cost threshold = %+v, want 50.5 USD in nanos, projected", th)
	}
	if th := a.Thresholds[1]; th.Limit != 100 || th.Currency != "" {
		t.Errorf("jobs threshold = %+v, want a count of 100", th)
	}
	// Prices alone turn accounting on.
	c, err = config.Parse(costProvider + "[costs]\ncurrency = \"EUR\"\n[[prices]]\nprovider = \"openai\"\nmodel = \"o3\"\ninput_per_million = 2\n")
	if err != nil || c.Alerting() == nil || c.Alerting().Prices.Currency != "EUR" {
		t.Fatalf("prices alone: %v, alerting %+v", err, c.Alerting())
	}
}

func TestPriceErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ text, want string }{
		{"[costs]\ncurrency = \"dollars\"\n", `costs.currency: "dollars" is not a currency code`},
		{"[[prices]]\nprovider = \"anthropic\"\nmodel = \"claude\"\n", `prices[0].provider: no provider named "anthropic"`},
		{"[[prices]]\nprovider = \"openai\"\nmodel = \"gpt[\"\n", `prices[0].model: "gpt[" is not a model name or glob`},
		{"[[prices]]\nprovider = \"openai\"\nmodel = \"\"\n", `prices[0].model: "" is not a model name or glob`},
		{"[[prices]]\nprovider = \"openai\"\nmodel = \"m\"\noutput_per_million = -1\n", `prices[0].output_per_million: -1 is not a price`},
		{"[[prices]]\nprovider = \"openai\"\nmodel = \"m\"\ncached_input_per_million = nan\n", `prices[0].cached_input_per_million: NaN is not a price`},
		{"[[thresholds]]\nname = \"t\"\nmetric = \"jobs\"\nwindow = \"day\"\nlimit = 2.5\n", `thresholds[0].limit: 2.5 is not a whole number of jobs`},
		{"[[thresholds]]\nname = \"t\"\nmetric = \"cost\"\nwindow = \"day\"\nlimit = 0\n", `thresholds[0].limit: 0 is not a positive limit`},
		{"[[thresholds]]\nname = \"t\"\nmetric = \"jobs\"\nwindow = \"day\"\nlimit = 1\nprojected = true\n", `thresholds[0].projected: only a cost threshold can be projected`},
	} {
		_, err := config.Parse(costProvider + tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.text, err, tt.want)
		}
	}
}
