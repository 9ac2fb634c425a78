package config

import (
	"fmt"
	"math"
	"path"
	"slices"

	"github.com/jobwatch/jobwatch/tracker"
)

// Costs names the currency of the price table.
type Costs struct {
	// Currency is the unit of every price and cost: an ISO 4217 code.
	// Default "USD".
	Currency string `toml:"currency"`
}

// Price is one [[prices]] entry (tracker.Price): what a provider charges
// for a model, per million tokens, in costs.currency.
type Price struct {
	// Provider is the name of a configured provider.
	Provider string `toml:"provider"`
	// Model is the model's name, or a glob of names ("gpt-4o-mini*").
	Model string `toml:"model"`
	// Kind, when set, limits the entry to one kind of job (batch).
	Kind                  string   `toml:"kind"`
	InputPerMillion       float64  `toml:"input_per_million"`
	CachedInputPerMillion *float64 `toml:"cached_input_per_million"`
	OutputPerMillion      float64  `toml:"output_per_million"`
	TrainedPerMillion     float64  `toml:"trained_per_million"`
}

func (c *Config) validateCosts(bad func(key, format string, args ...any)) {
	if len(c.Costs.Currency) != 3 || c.Costs.Currency != upperASCII(c.Costs.Currency) {
		bad("costs.currency", "%q is not a currency code (three capital letters, e.g. USD)", c.Costs.Currency)
	}
	for i, p := range c.Prices {
		key := fmt.Sprintf("prices[%d]", i)
		if !slices.ContainsFunc(c.Providers, func(pr Provider) bool { return pr.Name == p.Provider }) {
			bad(key+".provider", "no provider named %q", p.Provider)
		}
		if _, err := path.Match(p.Model, ""); p.Model == "" || err != nil {
			bad(key+".model", "%q is not a model name or glob", p.Model)
		}
		prices := []struct {
			name string
			v    *float64
		}{{"input_per_million", &p.InputPerMillion}, {"cached_input_per_million", p.CachedInputPerMillion},
			{"output_per_million", &p.OutputPerMillion}, {"trained_per_million", &p.TrainedPerMillion}}
		for _, pr := range prices {
			if pr.v != nil && !(*pr.v >= 0 && !math.IsInf(*pr.v, 1)) {
				bad(key+"."+pr.name, "%g is not a price (a non-negative amount per million tokens)", *pr.v)
			}
		}
	}
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 'A' || c > 'Z' {
			b[i] = '?'
		}
	}
	return string(b)
}

// PriceTable is the price table as the tracker applies it; nil when there is
// none.
func (c *Config) PriceTable() *tracker.Prices {
	if len(c.Prices) == 0 {
		return nil
	}
	p := &tracker.Prices{Currency: c.Costs.Currency}
	for _, e := range c.Prices {
		p.Entries = append(p.Entries, tracker.Price{Provider: e.Provider, Model: e.Model, Kind: tracker.Kind(e.Kind),
			Input: e.InputPerMillion, CachedInput: e.CachedInputPerMillion, Output: e.OutputPerMillion, Trained: e.TrainedPerMillion})
	}
	return p
}
