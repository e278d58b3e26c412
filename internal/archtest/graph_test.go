package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/authgate/authgate"

// allowed lists, for each library package, the packages of this module it
// may import (directly or not); internal/... is allowed to all of them.
var allowed = map[string][]string{
	"claims":         {},
	"cache":          {"claims"},
	"tokenvalidator": {"claims"},
	"middleware":     {"claims"},
	"refresh":        {"claims"},
	"connections":    {"claims"},
	"integrations":   {"claims"},
	"idptest":        {},
	"authn":          {"claims", "cache", "tokenvalidator", "middleware", "refresh"},
}

type pkg struct {
	ImportPath string
	Name       string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestGraph(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "" {
			t.Errorf("the module root holds a Go package (%s); it should hold none", p.Name)
			continue
		}
		top, _, _ := strings.Cut(rel, "/")
		for _, dep := range p.Deps {
			d, ok := strings.CutPrefix(dep, module+"/")
			if !ok {
				continue
			}
			depTop, _, _ := strings.Cut(d, "/")
			switch {
			case top == "examples" || top == "cmd":
				// Programs may import anything.
			case top == "internal":
				if depTop != "internal" && depTop != "claims" {
					t.Errorf("%s imports %s: internal packages may import only claims and internal/...", rel, d)
				}
			case depTop == "internal" || depTop == top:
			case !slices.Contains(allowed[top], depTop):
				t.Errorf("%s imports %s, which DESIGN.md's graph does not allow", rel, d)
			}
		}
	}
}

// TestClaimsUsesOnlyTheStandardLibrary: claims is the vocabulary everyone
// shares, so it must not drag in any dependency.
func TestClaimsUsesOnlyTheStandardLibrary(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/claims" {
			continue
		}
		for _, dep := range p.Deps {
			if first, _, _ := strings.Cut(dep, "/"); strings.Contains(first, ".") {
				t.Errorf("claims depends on %s", dep)
			}
		}
		return
	}
	t.Fatal("claims not found")
}

// TestGRPCStaysOutOfTheCore: the gRPC adapter is a module of its own
// (grpcauth/), so that a service on net/http alone never downloads or builds
// google.golang.org/grpc. Not even the core's module graph may name it.
func TestGRPCStaysOutOfTheCore(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "google.golang.org/grpc ") {
			t.Errorf("the core module's graph holds %s", strings.TrimSpace(line))
		}
	}
}

// TestOTelSDKStaysInTests: the library depends on OpenTelemetry's API
// (go.opentelemetry.io/otel/trace) alone; the SDK and its exporters are
// the service's choice. Only programs may pick one, and tests, through
// internal/tracing/tracingtest.
func TestOTelSDKStaysInTests(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		top, _, _ := strings.Cut(rel, "/")
		if top == "examples" || top == "cmd" || rel == "internal/tracing/tracingtest" {
			continue
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(dep, "go.opentelemetry.io/otel/exporters") {
				t.Errorf("%s depends on %s", rel, dep)
			}
		}
	}
}
