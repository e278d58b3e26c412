// Command benchtable turns `go test -bench` output (several -count runs)
// into the comparison table of bench/README.md: the median of each
// benchmark, its ratio to go-jwt-middleware and to the bare handler, and
// where each of authgate's goals stands.
//
//	go test -run '^$' -bench Middleware -benchmem -count 5 | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// row is one benchmark's medians.
type row struct {
	name                 string
	ns, bytes, allocs    float64
	samples              int
	nsRuns, bRuns, aRuns []float64
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:.*?\s([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

func main() {
	rows, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark lines on stdin")
		os.Exit(1)
	}
	write(os.Stdout, rows)
}

func read(r io.Reader) ([]*row, error) {
	var rows []*row
	byName := map[string]*row{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := strings.TrimPrefix(m[1], "BenchmarkMiddleware/")
		rw := byName[name]
		if rw == nil {
			rw = &row{name: name}
			byName[name] = rw
			rows = append(rows, rw)
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseFloat(m[3], 64)
		a, _ := strconv.ParseFloat(m[4], 64)
		rw.nsRuns, rw.bRuns, rw.aRuns = append(rw.nsRuns, ns), append(rw.bRuns, b), append(rw.aRuns, a)
	}
	for _, rw := range rows {
		rw.ns, rw.bytes, rw.allocs, rw.samples = median(rw.nsRuns), median(rw.bRuns), median(rw.aRuns), len(rw.nsRuns)
	}
	return rows, sc.Err()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func find(rows []*row, name string) *row {
	for _, r := range rows {
		if r.name == name {
			return r
		}
	}
	return nil
}

func write(w io.Writer, rows []*row) {
	gjm, floor := find(rows, "peer/go-jwt-middleware"), find(rows, "floor/bare-handler")
	fmt.Fprintln(w, "| benchmark | ns/op | B/op | allocs/op | go-jwt-middleware ÷ row | row ÷ bare handler | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s | %s | %d |\n", r.name, num(r.ns), r.bytes, r.allocs,
			ratio(gjm, r, func(a, b *row) float64 { return a.ns / b.ns }), ratio(r, floor, func(a, b *row) float64 { return a.ns / b.ns }), r.samples)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| goal | measured | target | met |")
	fmt.Fprintln(w, "|---|---:|---:|:---:|")
	goal := func(what string, a, b *row, f func(a, b *row) float64, target string, ok func(float64) bool) {
		if a == nil || b == nil {
			fmt.Fprintf(w, "| %s | (not measured) | %s | – |\n", what, target)
			return
		}
		v := f(a, b)
		fmt.Fprintf(w, "| %s | %.2f | %s | %s |\n", what, v, target, yesNo(ok(v)))
	}
	l1, l2, miss := find(rows, "authgate/L1-hit"), find(rows, "authgate/L2-hit"), find(rows, "authgate/miss")
	nsRatio := func(a, b *row) float64 { return a.ns / b.ns }
	goal("L1 hit: go-jwt-middleware ÷ authgate", gjm, l1, nsRatio, "≥ 50", func(v float64) bool { return v >= 50 })
	goal("L1 hit: allocs beyond the bare handler", l1, floor, func(a, b *row) float64 { return a.allocs - b.allocs }, "≤ 2", func(v float64) bool { return v <= 2 })
	goal("L2 hit ÷ raw gomemcache Get", l2, find(rows, "raw/gomemcache-get"), nsRatio, "≤ 1.2", func(v float64) bool { return v <= 1.2 })
	goal("miss ÷ golang-jwt + keyfunc", miss, find(rows, "peer/golang-jwt+keyfunc"), nsRatio, "≤ 1", func(v float64) bool { return v <= 1 })
	goal("miss ÷ floor (RS256 verify + JSON)", miss, find(rows, "floor/rs256-verify+json"), nsRatio, "≤ 1.25", func(v float64) bool { return v <= 1.25 })
}

func ratio(a, b *row, f func(a, b *row) float64) string {
	if a == nil || b == nil || b.ns == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", f(a, b))
}

func num(ns float64) string {
	if ns >= 1000 {
		return fmt.Sprintf("%.0f", ns)
	}
	return fmt.Sprintf("%.1f", ns)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
