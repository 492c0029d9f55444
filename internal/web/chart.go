package web

// Server-rendered SVG charts for the roll-out view: no script, no CDN,
// and the same numbers are in a table beside each chart.

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/sesame-idp/sesame/internal/report"
)

const (
	chartW, chartH = 600, 160
	chartPad       = 24
)

// registrationsChart draws passkeys registered per day, synced stacked
// on device-bound.
func registrationsChart(days []report.Day) template.HTML {
	peak := 1
	for _, d := range days {
		peak = max(peak, d.SyncedRegistered+d.DeviceBoundRegistered)
	}
	var b strings.Builder
	svgOpen(&b, "chart-registrations", "Passkeys registered per day over the last 30 days", peak, "")
	bw := barWidth(len(days))
	for i, d := range days {
		x := chartPad + i*bw
		hs := scale(d.SyncedRegistered, peak)
		hd := scale(d.DeviceBoundRegistered, peak)
		base := chartH - chartPad
		fmt.Fprintf(&b, `<rect class="bar-device-bound" x="%d" y="%d" width="%d" height="%d" fill="#5b6abf"><title>%s: %d device-bound</title></rect>`,
			x, base-hd, bw-1, hd, d.Day.Format("2006-01-02"), d.DeviceBoundRegistered)
		fmt.Fprintf(&b, `<rect class="bar-synced" x="%d" y="%d" width="%d" height="%d" fill="#3a9d6b"><title>%s: %d synced</title></rect>`,
			x, base-hd-hs, bw-1, hs, d.Day.Format("2006-01-02"), d.SyncedRegistered)
	}
	svgClose(&b, days)
	return template.HTML(b.String())
}

// shareChart draws the passkey share of sign-ins per day (0-100 %).
func shareChart(days []report.Day) template.HTML {
	var b strings.Builder
	svgOpen(&b, "chart-share", "Passkey share of sign-ins per day over the last 30 days", 100, "%")
	bw := barWidth(len(days))
	for i, d := range days {
		pct := int(100*d.PasskeyShare() + 0.5)
		h := scale(pct, 100)
		fmt.Fprintf(&b, `<rect class="bar-share" x="%d" y="%d" width="%d" height="%d" fill="#3a7bd5"><title>%s: %d%% of %d sign-ins</title></rect>`,
			chartPad+i*bw, chartH-chartPad-h, bw-1, h, d.Day.Format("2006-01-02"), pct, d.SignIns)
	}
	svgClose(&b, days)
	return template.HTML(b.String())
}

func barWidth(n int) int {
	if n == 0 {
		return 1
	}
	return max((chartW-2*chartPad)/n, 2)
}

func scale(v, peak int) int {
	return v * (chartH - 2*chartPad) / max(peak, 1)
}

func svgOpen(b *strings.Builder, id, label string, peak int, unit string) {
	fmt.Fprintf(b, `<svg id="%s" class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		id, template.HTMLEscapeString(label), chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(b, `<text x="2" y="%d" font-size="10" fill="#444">%d%s</text>`, chartPad, peak, unit)
	fmt.Fprintf(b, `<text x="2" y="%d" font-size="10" fill="#444">0</text>`, chartH-chartPad)
}

func svgClose(b *strings.Builder, days []report.Day) {
	if len(days) > 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="10" fill="#444">%s</text>`, chartPad, chartH-6, days[0].Day.Format("Jan 2"))
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="10" fill="#444" text-anchor="end">%s</text>`, chartW-chartPad, chartH-6, days[len(days)-1].Day.Format("Jan 2"))
	}
	b.WriteString(`</svg>`)
}
