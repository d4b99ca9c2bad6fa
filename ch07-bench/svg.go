package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Two small hand-written SVG charts: enough for the book, no plotting
// dependency. Colours are the Okabe-Ito palette (readable by colour-blind
// readers).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

const (
	svgW, svgH                     = 760, 420
	padL, padR, padT, padB float64 = 80, 20, 40, 90
)

func svgHeader(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="22" text-anchor="middle" font-size="15">%s</text>`+"\n", svgW/2, html.EscapeString(title))
}

// niceTicks returns round tick values covering [0, hi].
func niceTicks(hi float64) []float64 {
	if hi <= 0 {
		return []float64{0, 1}
	}
	step := math.Pow(10, math.Floor(math.Log10(hi/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if hi/(step*m) <= 6 {
			step *= m
			break
		}
	}
	var t []float64
	for v := 0.0; v <= hi+step*0.999; v += step {
		t = append(t, v)
	}
	return t
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e3:
		return fmt.Sprintf("%gk", math.Round(v/1e2)/10)
	default:
		return fmt.Sprintf("%g", math.Round(v*10)/10)
	}
}

// barChartSVG draws groups of bars (one bar per series in each group) on a
// logarithmic axis, since latency percentiles span orders of magnitude.
func barChartSVG(title string, groups, series []string, values [][]float64, unit string) string {
	var b strings.Builder
	svgHeader(&b, title)
	lo, hi := math.Inf(1), 0.0
	for _, vs := range values {
		for _, v := range vs {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		b.WriteString(`<text x="380" y="200" text-anchor="middle">no data</text></svg>` + "\n")
		return b.String()
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 == d0 {
		d1++
	}
	plotH := svgH - padT - padB
	y := func(v float64) float64 { return padT + plotH*(1-(math.Log10(v)-d0)/(d1-d0)) }
	for d := d0; d <= d1; d++ {
		v := math.Pow(10, d)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", padL, svgW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s %s</text>`+"\n", padL-6, y(v)+4, fmtNum(v), unit)
	}
	plotW := svgW - padL - padR
	gw := plotW / float64(max(len(groups), 1))
	bw := gw * 0.8 / float64(len(series))
	for g, name := range groups {
		x0 := padL + float64(g)*gw + gw*0.1
		for s, v := range values[g] {
			if v <= 0 {
				continue
			}
			x := x0 + float64(s)*bw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`+"\n",
				x, y(v), bw-2, padT+plotH-y(v), palette[s%len(palette)], html.EscapeString(name), series[s], fmtNum(v), unit)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="end" transform="rotate(-25 %.1f %.0f)">%s</text>`+"\n",
			x0+gw*0.4, padT+plotH+16, x0+gw*0.4, padT+plotH+16, html.EscapeString(name))
	}
	legend(&b, series)
	b.WriteString("</svg>\n")
	return b.String()
}

type lineSeries struct {
	name string
	x, y []float64
}

// lineChartSVG draws y against x (x on a log scale: connection counts grow
// by factors) with one line per series.
func lineChartSVG(title, xlabel, ylabel string, series []lineSeries) string {
	var b strings.Builder
	svgHeader(&b, title)
	xlo, xhi, yhi := math.Inf(1), 0.0, 0.0
	for _, s := range series {
		for i := range s.x {
			xlo, xhi, yhi = math.Min(xlo, s.x[i]), math.Max(xhi, s.x[i]), math.Max(yhi, s.y[i])
		}
	}
	if yhi == 0 {
		b.WriteString(`<text x="380" y="200" text-anchor="middle">no data</text></svg>` + "\n")
		return b.String()
	}
	lx0, lx1 := math.Log10(xlo), math.Log10(xhi)
	if lx1 == lx0 {
		lx1 = lx0 + 1
	}
	plotW, plotH := svgW-padL-padR, svgH-padT-padB
	ticks := niceTicks(yhi)
	ytop := ticks[len(ticks)-1]
	px := func(v float64) float64 { return padL + plotW*(math.Log10(v)-lx0)/(lx1-lx0) }
	py := func(v float64) float64 { return padT + plotH*(1-v/ytop) }
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", padL, svgW-padR, py(t), py(t))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, py(t)+4, fmtNum(t))
	}
	var xs []float64
	for _, s := range series {
		for _, x := range s.x {
			if !containsF(xs, x) {
				xs = append(xs, x)
			}
		}
	}
	for _, x := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", px(x), padT+plotH+16, fmtNum(x))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", padL+plotW/2, padT+plotH+34, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="18" y="%.0f" text-anchor="middle" transform="rotate(-90 18 %.0f)">%s</text>`+"\n", padT+plotH/2, padT+plotH/2, html.EscapeString(ylabel))
	var names []string
	for i, s := range series {
		names = append(names, s.name)
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[j]), py(s.y[j])))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s at %s</title></circle>`+"\n",
				px(s.x[j]), py(s.y[j]), palette[i%len(palette)], html.EscapeString(s.name), fmtNum(s.y[j]), fmtNum(s.x[j]))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), palette[i%len(palette)])
	}
	legend(&b, names)
	b.WriteString("</svg>\n")
	return b.String()
}

func legend(b *strings.Builder, names []string) {
	x := padL
	for i, n := range names {
		fmt.Fprintf(b, `<rect x="%.0f" y="%d" width="12" height="12" fill="%s"/><text x="%.0f" y="%d">%s</text>`+"\n",
			x, svgH-22, palette[i%len(palette)], x+16, svgH-12, html.EscapeString(n))
		x += 24 + 7*float64(len([]rune(n)))
	}
}

func containsF(xs []float64, v float64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
