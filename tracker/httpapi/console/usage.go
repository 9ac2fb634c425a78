package console

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/jobwatch/jobwatch/tracker"
)

// usageDays is how many UTC days the usage page charts, today included.
const usageDays = 30

// chartMetrics are the usage metrics charted, each when any provider used
// some: tokens, requests and, once jobs carry it, cost.
var chartMetrics = []string{"tokens", "requests", tracker.MetricCost}

// allProviders names the chart of every provider's usage summed.
const allProviders = "all providers"

// Chart geometry, in SVG user units.
const (
	chartWidth  = 640
	chartHeight = 200
	// plotLeft leaves room for the scale's labels, plotBottom for the days'.
	plotLeft   = 96
	plotBottom = 24
	plotTop    = 10
)

// chart is one provider's metric per day, drawn as SVG bars, with the
// limits of its daily thresholds as lines.
type chart struct {
	ID               string
	Provider, Metric string
	// Currency is the unit of a cost chart's nanos.
	Currency string
	Bars     []bar
	Limits   []limitLine
	// Max is the value at the top of the plot.
	Max int64
	// First and Last are the charted days.
	First, Last string
}

// bar is one day's value and its rectangle.
type bar struct {
	Day        string
	Value      int64
	X, Y, W, H float64
}

// limitLine is a threshold's limit across the plot at height Y.
type limitLine struct {
	Name  string
	Limit int64
	Y     float64
}

// Geometry the template reads.
func (chart) Width() int        { return chartWidth }
func (chart) Height() int       { return chartHeight }
func (chart) PlotLeft() int     { return plotLeft }
func (chart) PlotRight() int    { return chartWidth }
func (chart) PlotBottom() int   { return chartHeight - plotBottom }
func (chart) PlotTop() int      { return plotTop }
func (chart) LabelY() int       { return chartHeight - 6 }
func (chart) ScaleX() int       { return plotLeft - 6 }
func (chart) MidScale() float64 { return float64(plotTop+chartHeight-plotBottom) / 2 }

// Half is half the plot's top value, the scale's middle label.
func (c chart) Half() int64 { return c.Max / 2 }

type usageData struct {
	Charts []chart
	Days   int
}

func (c *Console) usage(r *http.Request) view {
	now := c.opts.Tracker.Now()
	today := tracker.WindowStart("day", now)
	// series[provider][metric] is the metric's value on each day, oldest first.
	series := map[string]map[string][]int64{}
	days := make([]string, usageDays)
	for i := range usageDays {
		start := today.AddDate(0, 0, i-usageDays+1)
		days[i] = start.Format("2006-01-02")
		totals, err := c.opts.Tracker.Store().UsageTotals(r.Context(), "day", start)
		if err != nil {
			return c.storageFailure(r, err)
		}
		for _, t := range totals {
			if t.Scope != "" {
				continue
			}
			for _, p := range []string{t.Provider, allProviders} {
				for _, m := range chartMetrics {
					if v, ok := t.Metrics[m]; ok {
						if series[p] == nil {
							series[p] = map[string][]int64{}
						}
						if series[p][m] == nil {
							series[p][m] = make([]int64, usageDays)
						}
						series[p][m][i] += v
					}
				}
			}
		}
	}
	d := usageData{Days: usageDays}
	names := slices.Sorted(maps.Keys(series))
	if i := slices.Index(names, allProviders); i >= 0 {
		names = append([]string{allProviders}, slices.Delete(names, i, i+1)...)
	}
	for _, p := range names {
		for _, m := range chartMetrics {
			if values := series[p][m]; values != nil {
				d.Charts = append(d.Charts, c.drawChart(fmt.Sprintf("chart-%d", len(d.Charts)), p, m, days, values))
			}
		}
	}
	return view{page: "usage", title: "Usage", data: d}
}

// thresholds are the usage thresholds shown against their limits: those
// of the tracker's alerting policy in force.
func (c *Console) thresholds() []tracker.Threshold {
	if a := c.opts.Tracker.Alerting(); a != nil {
		return a.Thresholds
	}
	return nil
}

// drawChart lays out one chart: a bar per day, and a line for each daily
// threshold of the metric that counts this provider's usage (a threshold
// of no provider on the all-providers chart).
func (c *Console) drawChart(id, provider, metric string, days []string, values []int64) chart {
	ch := chart{ID: id, Provider: provider, Metric: metric, Currency: c.opts.Tracker.Currency(), First: days[0], Last: days[len(days)-1]}
	for _, t := range c.thresholds() {
		want := t.Provider
		if want == "" {
			want = allProviders
		}
		if t.Window == "day" && t.Metric == metric && len(t.Labels) == 0 && !t.Projected && want == provider {
			ch.Limits = append(ch.Limits, limitLine{Name: t.Name, Limit: t.Limit})
			ch.Max = max(ch.Max, t.Limit)
		}
	}
	for _, v := range values {
		ch.Max = max(ch.Max, v)
	}
	ch.Max = max(ch.Max, 1)
	height := float64(chartHeight - plotBottom - plotTop)
	y := func(v int64) float64 { return plotTop + height*(1-float64(v)/float64(ch.Max)) }
	slot := float64(chartWidth-plotLeft) / float64(len(values))
	for i, v := range values {
		top := y(v)
		ch.Bars = append(ch.Bars, bar{Day: days[i], Value: v, X: plotLeft + float64(i)*slot + slot*0.1, W: slot * 0.8,
			Y: top, H: float64(chartHeight-plotBottom) - top})
	}
	for i := range ch.Limits {
		ch.Limits[i].Y = y(ch.Limits[i].Limit)
	}
	return ch
}
