package tracker

import (
	"fmt"
	"math"
	"path"
)

// Price is one [[prices]] entry: what a provider charges for a model, per
// million tokens, in the currency of the Prices it belongs to.
type Price struct {
	Provider string `json:"provider"`
	// Model is the model's name as the job's Details[DetailModel] has it,
	// or a glob of them (path.Match syntax: "gpt-4o-mini*").
	Model string `json:"model"`
	// Kind, when set, limits the entry to one kind of job: batch prices
	// are usually half of synchronous ones.
	Kind Kind `json:"kind,omitempty"`
	// Input, Output and Trained are prices per million input, output and
	// trained tokens. CachedInput is the price per million cached input
	// tokens; nil bills them as input.
	Input       float64  `json:"input_per_million"`
	CachedInput *float64 `json:"cached_input_per_million,omitempty"`
	Output      float64  `json:"output_per_million"`
	Trained     float64  `json:"trained_per_million,omitempty"`
}

// Matches reports whether the entry prices a job of provider and kind
// running on model. A malformed glob matches nothing (config validation
// refuses one).
func (p Price) Matches(provider string, kind Kind, model string) bool {
	if p.Provider != provider || (p.Kind != "" && p.Kind != kind) {
		return false
	}
	ok, err := path.Match(p.Model, model)
	return ok && err == nil
}

// Prices is the price table: the entries, tried in order, and the currency
// they are all in.
type Prices struct {
	// Currency names the unit of every price and cost ("USD").
	Currency string
	Entries  []Price
}

// Lookup is the first entry that prices a job of provider and kind running
// on model, or nil.
func (p *Prices) Lookup(provider string, kind Kind, model string) *Price {
	for i := range p.Entries {
		if p.Entries[i].Matches(provider, kind, model) {
			return &p.Entries[i]
		}
	}
	return nil
}

// NanosPerUnit is how many nanos (Cost.Nanos) make one unit of currency.
const NanosPerUnit = 1e9

// Cost is what a job's usage costs at the configured prices.
type Cost struct {
	// Amount is the cost in units of Currency (12.5 USD); Nanos is the
	// same in billionths of the unit, the exact figure the usage totals
	// add up. Both are 0 when Unknown says why there is no cost.
	Amount   float64 `json:"amount"`
	Nanos    int64   `json:"nanos"`
	Currency string  `json:"currency"`
	// Price is the entry that produced the cost, as it was then.
	Price *Price `json:"price,omitempty"`
	// Unknown says why the cost is not known: the model is unknown, no
	// entry prices it, or the provider gave no input/output split. Such a
	// cost is counted nowhere.
	Unknown string `json:"unknown,omitempty"`
}

// Known reports whether c is a cost, not the reason for the lack of one.
func (c *Cost) Known() bool { return c != nil && c.Unknown == "" }

// String is the cost for people: "12.50 USD", or "unknown (reason)".
func (c *Cost) String() string {
	if !c.Known() {
		return "unknown (" + c.Unknown + ")"
	}
	return FormatMoney(c.Nanos, c.Currency)
}

// FormatMoney formats nanos of currency for people, rounded half away
// from zero: two decimals, or as many as it takes to show two significant
// digits of a cost under a cent ("0.0042 USD").
func FormatMoney(nanos int64, currency string) string {
	abs := nanos
	if abs < 0 {
		abs = -abs
	}
	prec := 2
	if abs != 0 && abs < NanosPerUnit/100 {
		for prec < 8 && abs < pow10(9-prec) {
			prec++
		}
		prec++ // two significant digits
	}
	unit := pow10(9 - prec)
	q := (abs + unit/2) / unit
	scale := pow10(prec)
	sign := ""
	if nanos < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, q/scale, prec, q%scale, currency)
}

// pow10 is 10**n for 0 <= n <= 18.
func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// CostOf is what job j's usage costs, or nil when p has no entries (costs
// are not configured). A job whose model is unknown, that no entry prices,
// whose provider reported no tokens (yet), or gave total tokens without the
// input/output split its price needs, gets a Cost that says so in Unknown.
func (p *Prices) CostOf(j Job) *Cost {
	if p == nil || len(p.Entries) == 0 {
		return nil
	}
	c := &Cost{Currency: p.Currency}
	model := j.Details[DetailModel]
	if model == "" {
		c.Unknown = "model unknown: the provider did not name it and none was given at registration"
		return c
	}
	price := p.Lookup(j.Provider, j.Kind, model)
	if price == nil {
		c.Unknown = fmt.Sprintf("no price for %s %s model %s", j.Provider, j.Kind, model)
		return c
	}
	pr := *price
	c.Price = &pr
	u := j.Usage
	if u.InputTokens == 0 && u.OutputTokens == 0 && u.TotalTokens == 0 && u.TrainedTokens == 0 {
		c.Unknown = "the provider has reported no token usage"
		return c
	}
	in, out := u.InputTokens, u.OutputTokens
	if in == 0 && out == 0 && u.TotalTokens > 0 {
		if price.Input != price.Output {
			c.Unknown = "the provider reported total tokens without the input/output split the price needs"
			return c
		}
		in = u.TotalTokens
	}
	cachedPrice := price.Input
	if price.CachedInput != nil {
		cachedPrice = *price.CachedInput
	}
	cached := min(u.CachedInputTokens, in)
	// A price per million tokens is price*1000 nanos per token.
	nanos := (float64(in-cached)*price.Input + float64(cached)*cachedPrice +
		float64(out)*price.Output + float64(u.TrainedTokens)*price.Trained) * (NanosPerUnit / 1e6)
	if nanos >= math.MaxInt64 {
		c.Unknown = "beyond the largest cost jobwatch counts"
		return c
	}
	c.Nanos = int64(math.Round(nanos))
	c.Amount = float64(c.Nanos) / NanosPerUnit
	return c
}
