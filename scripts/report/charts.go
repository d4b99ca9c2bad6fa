package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The charts are drawn with gonum.org/v1/plot. Colours are the Okabe-Ito
// palette, which colour-blind readers can tell apart; each series also has
// its own marker shape.
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, {0xE6, 0x9F, 0x00, 0xff}, {0x00, 0x9E, 0x73, 0xff}, {0xCC, 0x79, 0xA7, 0xff},
	{0x56, 0xB4, 0xE9, 0xff}, {0xD5, 0x5E, 0x00, 0xff}, {0x00, 0x00, 0x00, 0xff}, {0xF0, 0xE4, 0x42, 0xff},
}

var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

// series is one target's line: y against x.
type series struct {
	name string
	xy   plotter.XYs
}

// lineChart draws one line with markers per series and returns the SVG. The
// legend is drawn beside the plot, in a column as wide as the longest name,
// so that no entry is cut short or drawn over the data.
func lineChart(p *plot.Plot, all []series) ([]byte, error) {
	const w, h = 22 * vg.Centimeter, 11 * vg.Centimeter
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	for i, s := range all {
		line, points, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		line.Color, line.Width = palette[i%len(palette)], vg.Points(1.5)
		points.Color, points.Shape, points.Radius = palette[i%len(palette)], shapes[i%len(shapes)], vg.Points(3)
		p.Add(line, points)
		legend.Add(s.name, line, points)
	}
	canvas := vgsvg.NewWith(vgsvg.UseWH(w, h), vgsvg.EmbedFonts(false))
	dc := draw.New(canvas)
	legendW := legend.Rectangle(dc).Size().X + vg.Centimeter
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend.Draw(draw.Crop(dc, w-legendW+vg.Centimeter/2, 0, 0, -vg.Centimeter))
	var b bytes.Buffer
	if _, err := canvas.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// percentiles are the latency chart's x axis, in order.
var percentiles = []struct {
	label string
	value func(latency) float64
}{
	{"p50", func(l latency) float64 { return l.P50 }},
	{"p90", func(l latency) float64 { return l.P90 }},
	{"p99", func(l latency) float64 { return l.P99 }},
	{"p99.9", func(l latency) float64 { return l.P999 }},
	{"max", func(l latency) float64 { return l.Max }},
}

// latencyChart: each target's latency percentiles at the most connections
// and the smallest size (the cell where servers differ most), on a
// logarithmic axis, since percentiles span orders of magnitude.
func (rs *results) latencyChart() ([]byte, error) {
	conns, size := slices.Max(rs.opts.conns), slices.Min(rs.opts.sizes)
	var all []series
	lo, hi := math.Inf(1), 0.0
	for _, c := range rs.pingpong {
		if c.res.Conns != conns || c.res.Size != size {
			continue
		}
		s := series{name: c.target}
		for i, p := range percentiles {
			v := max(p.value(c.res.Latency), 1) // a log axis needs positive values
			s.xy = append(s.xy, plotter.XY{X: float64(i), Y: v})
			lo, hi = min(lo, v), max(hi, v)
		}
		all = append(all, s)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Ping-pong latency, %d connections, %d-byte messages", conns, size)
	p.Y.Label.Text = "latency (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = durationTicks{}
	p.X.Min, p.X.Max = -0.3, float64(len(percentiles)-1)+0.3
	var xt plot.ConstantTicks
	for i, pc := range percentiles {
		xt = append(xt, plot.Tick{Value: float64(i), Label: pc.label})
	}
	p.X.Tick.Marker = xt
	p.Y.Min, p.Y.Max = 1, 10 // no data: an empty but valid axis
	if hi > 0 {
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	}
	p.Add(plotter.NewGrid())
	return lineChart(p, all)
}

// durationTicks labels a logarithmic microsecond axis at each power of ten.
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for d := math.Floor(math.Log10(lo)); d <= math.Ceil(math.Log10(hi)); d++ {
		ts = append(ts, plot.Tick{Value: math.Pow(10, d), Label: fmtUS(math.Pow(10, d))})
	}
	return ts
}

// throughputChart: requests per second against connections, one line per
// target, at the smallest message size.
func (rs *results) throughputChart() ([]byte, error) {
	size := slices.Min(rs.opts.sizes)
	var all []series
	for _, name := range targetNames(rs.pingpong) {
		s := series{name: name}
		for _, c := range rs.pingpong {
			if c.target == name && c.res.Size == size {
				s.xy = append(s.xy, plotter.XY{X: float64(c.res.Conns), Y: c.res.ReqPerSec})
			}
		}
		all = append(all, s)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Ping-pong throughput, %d-byte messages", size)
	p.X.Label.Text = "connections (log scale)"
	p.Y.Label.Text = "echoes per second"
	p.X.Scale = plot.LogScale{}
	var xt plot.ConstantTicks
	for _, n := range rs.opts.conns {
		xt = append(xt, plot.Tick{Value: float64(n), Label: fmt.Sprint(n)})
	}
	p.X.Tick.Marker = xt
	p.X.Min, p.X.Max = float64(slices.Min(rs.opts.conns))*0.8, float64(slices.Max(rs.opts.conns))*1.25
	p.Y.Min = 0
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ts := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ts {
			if ts[i].Label != "" {
				ts[i].Label = fmt.Sprintf("%gk", ts[i].Value/1000)
			}
		}
		return ts
	})
	p.Add(plotter.NewGrid())
	return lineChart(p, all)
}

// targetNames lists target names in the order they were measured.
func targetNames(cells []cell) []string {
	var names []string
	for _, c := range cells {
		if !slices.Contains(names, c.target) {
			names = append(names, c.target)
		}
	}
	return names
}
