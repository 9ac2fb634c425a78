package tracker

import (
	"reflect"
	"strings"
	"testing"
)

func TestCostOf(t *testing.T) {
	t.Parallel()
	half := 0.5
	prices := &Prices{Currency: "USD", Entries: []Price{
		{Provider: "openai", Model: "gpt-4o-mini*", Kind: "batch", Input: 0.075, CachedInput: &half, Output: 0.3},
		{Provider: "openai", Model: "gpt-4o-mini*", Input: 0.15, Output: 0.6},
		{Provider: "openai", Model: "ft-base", Kind: "fine_tune", Trained: 3},
		{Provider: "together", Model: "llama", Input: 0.2, Output: 0.2},
	}}
	job := func(provider string, kind Kind, model string, u Usage) Job {
		j := Job{Provider: provider, Kind: kind, Usage: u}
		if model != "" {
			j.Details = map[string]string{DetailModel: model}
		}
		return j
	}
	tests := []struct {
		name      string
		job       Job
		nanos     int64
		entry     int // index of the entry that priced it
		unknown   string
		formatted string
	}{
		{"the batch entry first", job("openai", "batch", "gpt-4o-mini-2024-07-18", Usage{InputTokens: 1_000_000, OutputTokens: 500_000}), 225_000_000, 0, "", "0.23 USD"},
		{"cached input at its price", job("openai", "batch", "gpt-4o-mini", Usage{InputTokens: 1_000_000, CachedInputTokens: 400_000, OutputTokens: 0}), 45_000_000 + 200_000_000, 0, "", "0.25 USD"},
		{"another kind falls to the entry without one", job("openai", "response", "gpt-4o-mini", Usage{InputTokens: 2_000_000, OutputTokens: 1_000_000}), 900_000_000, 1, "", "0.90 USD"},
		{"cached input billed as input without a cached price", job("openai", "response", "gpt-4o-mini", Usage{InputTokens: 1_000_000, CachedInputTokens: 1_000_000}), 150_000_000, 1, "", "0.15 USD"},
		{"trained tokens", job("openai", "fine_tune", "ft-base", Usage{TrainedTokens: 2_000_000}), 6_000_000_000, 2, "", "6.00 USD"},
		{"a fraction of a cent", job("together", "batch", "llama", Usage{TotalTokens: 21}), 4200, 3, "", "0.0000042 USD"},
		{"total only, one price for both", job("together", "batch", "llama", Usage{TotalTokens: 1_000_000}), 200_000_000, 3, "", "0.20 USD"},
		{"total only, input and output priced apart", job("openai", "batch", "gpt-4o-mini", Usage{TotalTokens: 10}), 0, -1, "without the input/output split", ""},
		{"model unknown", job("openai", "batch", "", Usage{InputTokens: 10}), 0, -1, "model unknown", ""},
		{"no price for the model", job("openai", "batch", "o3", Usage{InputTokens: 10}), 0, -1, "no price for openai batch model o3", ""},
		{"no tokens reported", job("openai", "batch", "gpt-4o-mini", Usage{RequestsTotal: 10}), 0, -1, "no token usage", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := prices.CostOf(tt.job)
			if c == nil || c.Currency != "USD" {
				t.Fatalf("cost = %+v", c)
			}
			if tt.unknown != "" {
				if c.Known() || !strings.Contains(c.Unknown, tt.unknown) || c.Nanos != 0 {
					t.Fatalf("cost = %+v, want unknown: %s", c, tt.unknown)
				}
				return
			}
			if !c.Known() || c.Nanos != tt.nanos || c.Amount != float64(tt.nanos)/NanosPerUnit {
				t.Fatalf("cost = %+v, want %d nanos", c, tt.nanos)
			}
			if *c.Price != prices.Entries[tt.entry] {
				t.Errorf("priced by %+v, want entry %d", c.Price, tt.entry)
			}
			if got := c.String(); got != tt.formatted {
				t.Errorf("String() = %q, want %q", got, tt.formatted)
			}
		})
	}
	if c := (&Prices{}).CostOf(job("openai", "batch", "gpt-4o-mini", Usage{InputTokens: 1})); c != nil {
		t.Errorf("without prices: cost %+v, want none", c)
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for nanos, want := range map[int64]string{0: "0.00 EUR", 12_345_000_000: "12.35 EUR", 10_000_000: "0.01 EUR", 4_200_000: "0.0042 EUR", 1: "0.000000001 EUR"} {
		if got := FormatMoney(nanos, "EUR"); got != want {
			t.Errorf("FormatMoney(%d) = %q, want %q", nanos, got, want)
		}
	}
}

func TestAccountCountsCostOnce(t *testing.T) {
	t.Parallel()
	prices := &Prices{Currency: "USD", Entries: []Price{{Provider: "openai", Model: "m", Input: 1, Output: 2}}}
	priced := func(status Status, u Usage) Job {
		j := Job{Provider: "openai", Kind: "batch", Status: status, Usage: u, Details: map[string]string{DetailModel: "m"}}
		if status.Terminal() {
			j.Cost = prices.CostOf(j)
		}
		return j
	}
	running := priced(StatusRunning, Usage{InputTokens: 1_000_000})
	ended := priced(StatusSucceeded, Usage{InputTokens: 1_000_000})
	d, counted := Account(running, ended, Counted{})
	if d[MetricCost] != 1_000_000_000 || counted.CostNanos != 1_000_000_000 {
		t.Fatalf("at the end: %v, counted %+v", d, counted)
	}
	// A later poll brings the output tokens: only the increase counts.
	later := priced(StatusSucceeded, Usage{InputTokens: 1_000_000, OutputTokens: 500_000})
	d, counted = Account(ended, later, counted)
	if d[MetricCost] != 1_000_000_000 || counted.CostNanos != 2_000_000_000 {
		t.Fatalf("late usage: %v, counted %+v", d, counted)
	}
	if d, _ = Account(later, later, counted); len(d) != 0 {
		t.Fatalf("observed again: %v", d)
	}
	unknown := later
	unknown.Cost = &Cost{Currency: "USD", Unknown: "no price"}
	if d, _ := Account(running, unknown, Counted{}); d[MetricCost] != 0 {
		t.Fatalf("an unknown cost counted %d", d[MetricCost])
	}
}

// Every figure of Usage is named in UsageFields, so that what walks them
// (mergeUsage, the drop of negative figures) misses none.
func TestUsageFieldsNameEveryFigure(t *testing.T) {
	t.Parallel()
	var u Usage
	for i, name := range UsageFields {
		*u.Figure(name) = int64(i + 1)
	}
	v := reflect.ValueOf(u)
	for i := range v.NumField() {
		if v.Field(i).Int() == 0 {
			t.Errorf("Usage.%s has no name in UsageFields", v.Type().Field(i).Name)
		}
	}
	if got := mergeUsage(Usage{InputTokens: 7, OutputTokens: 9}, Usage{InputTokens: 8, CachedInputTokens: 3}); got != (Usage{InputTokens: 8, CachedInputTokens: 3, OutputTokens: 9}) {
		t.Errorf("mergeUsage = %+v", got)
	}
}
