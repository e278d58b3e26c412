package main

import (
	"fmt"
	"io"
)

// report prints one line per step, PASS or FAIL with what was seen, and
// the totals at the end.
type report struct {
	w                       io.Writer
	passed, failed, skipped int
}

// step runs check and reports it under name; it tells whether it passed.
func (r *report) step(name string, check func() (string, error)) bool {
	detail, err := check()
	if err != nil {
		r.failed++
		fmt.Fprintf(r.w, "FAIL  %-66s %v\n", name, err)
		return false
	}
	r.passed++
	fmt.Fprintf(r.w, "PASS  %-66s %s\n", name, detail)
	return true
}

// skip reports steps that could not run because an earlier one failed.
func (r *report) skip(what, because string) {
	r.skipped++
	fmt.Fprintf(r.w, "SKIP  %-66s needs %s\n", what, because)
}

func (r *report) section(title string) { fmt.Fprintf(r.w, "\n== %s\n", title) }

func (r *report) ok() bool { return r.failed == 0 && r.skipped == 0 }

func (r *report) totals() {
	fmt.Fprintf(r.w, "\n%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
}
