package doccheck

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/middleware"
)

// root is the module root, seen from this package's directory.
const root = "../.."

// docs are the operator's documents, which must name every metric.
var docs = []string{"OPERATIONS.md", "SECURITY.md"}

// citing are the documents whose Go names are checked.
var citing = append(slices.Clone(docs), "README.md")

// notMetrics are the authgate_ names in the code that are not metrics,
// with what they are.
var notMetrics = map[string]string{
	"authgate_connections":  "connections.SQLConfig's default table",
	"authgate_integrations": "integrations.SQLConfig's default table",
	"authgate_connection_":  "connections.ManagementConfig's default app_metadata key prefix",
}

// programMetrics are the metrics registered by programs (package main),
// which a test of this package cannot build, with the program.
var programMetrics = map[string]string{
	"authgate_tokenservice_answers_total": "cmd/tokenservice",
}

// TestDocsNameEveryMetric: the metric names OPERATIONS.md and SECURITY.md
// mention are exactly the metrics the code registers. The code's names are
// the authgate_ string literals of the module's non-test sources (less
// notMetrics); that they are the whole truth is checked at run time:
// everything the library registers when a full Setup (memcached, a client
// for logins, DPoP, opaque tokens), a Setup delegating to a token service
// and a connections Service are built must be among them, and the library
// must register all of them but the programs' own.
func TestDocsNameEveryMetric(t *testing.T) {
	literals := authgateLiterals(t)
	for name, what := range notMetrics {
		if !literals[name] {
			t.Errorf("notMetrics lists %q (%s), which the code no longer holds", name, what)
		}
		delete(literals, name)
	}
	for name, program := range programMetrics {
		if !literals[name] {
			t.Errorf("programMetrics lists %q (%s), which the code no longer holds", name, program)
		}
	}

	registered := registeredNames(t)
	for name := range registered {
		if !literals[name] {
			t.Errorf("%s is registered but appears nowhere in the sources as a literal: the literal scan misses it", name)
		}
	}
	for name := range literals {
		if _, ok := programMetrics[name]; !registered[name] && !ok {
			t.Errorf("%s is in the sources but was not registered by this test's Setup: build what registers it here, or list it in notMetrics or programMetrics", name)
		}
	}

	named := map[string][]string{}
	for _, doc := range docs {
		for _, m := range regexp.MustCompile(`\bauthgate_[a-z0-9_]*[a-z0-9]\b`).FindAllString(readDoc(t, doc), -1) {
			named[m] = append(named[m], doc)
		}
	}
	for name, in := range named {
		if !literals[name] {
			t.Errorf("%v name %s, which the code does not register", slices.Compact(in), name)
		}
	}
	for name := range literals {
		if named[name] == nil {
			t.Errorf("%s is registered but neither %s nor %s names it: say there what it counts", name, docs[0], docs[1])
		}
	}
	if len(literals) < 20 {
		t.Fatalf("only %d metric names found in the sources: %v", len(literals), literals)
	}
}

// TestDocsCiteExistingNames: every pkg.Name and pkg.Type.Member the
// documents (and the README) cite — errors like claims.ErrUnavailable, settings like
// authn.Config.MemoryTTL, methods like middleware.Middleware.RequireIntegration
// — is an exported name of that package (a method or a field of that type).
func TestDocsCiteExistingNames(t *testing.T) {
	pkgs := map[string]*exported{}
	ref := regexp.MustCompile(`\b(authn|cache|claims|connections|integrations|middleware|refresh|tokenvalidator|idptest)\.([A-Z]\w*)(?:\.([A-Z]\w*))?`)
	cited := 0
	for _, doc := range citing {
		for _, m := range ref.FindAllStringSubmatch(readDoc(t, doc), -1) {
			pkg, name, member := m[1], m[2], m[3]
			if pkgs[pkg] == nil {
				pkgs[pkg] = exportedOf(t, pkg)
			}
			e := pkgs[pkg]
			cited++
			switch {
			case !e.names[name]:
				t.Errorf("%s cites %s.%s, which package %s does not export", doc, pkg, name, pkg)
			case member != "" && !e.members[name][member]:
				t.Errorf("%s cites %s.%s.%s: %s has no method or field %s", doc, pkg, name, member, name, member)
			}
		}
	}
	if cited < 20 {
		t.Fatalf("only %d citations found", cited)
	}
}

// authgateLiterals returns every string literal of the form authgate_… in
// the module's non-test Go sources (the bench and interop modules, which
// register nothing of the library's, left out).
func authgateLiterals(t *testing.T) map[string]bool {
	t.Helper()
	shape := regexp.MustCompile(`^authgate_[a-z0-9_]+$`)
	out := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "bench", "interop", "testdata", ".git", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && shape.MatchString(s) {
					out[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// registeredNames builds everything in the library that registers metrics
// on one registry and returns the names of every metric family registered,
// with or without series. memcached is not asked: a Cluster connects on
// first use, and an opaque token's validation treats a memcached that
// refuses connections as a miss.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := &recorder{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	ctx := context.Background()
	idp := idptest.Start(t, idptest.Demo())
	secret := []byte("a secret of at least thirty-two bytes")
	gate, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI, ClientID: "venue-app", ClientSecret: "venue-app-secret",
		MemcacheServers: []string{"127.0.0.1:1"}, Secret: secret, DPoP: middleware.DPoPAllowed,
	}, authn.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	// An opaque token builds the opaque-token validator, which registers
	// the provider calls (its verdict does not matter here).
	opaque := idp.AccessToken(t, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Scopes: []string{"openid"}})
	if _, err := gate.Authenticator.Authenticate(ctx, opaque); err != nil && !errors.Is(err, claims.ErrInvalidToken) {
		t.Fatalf("an opaque token: %v", err)
	}
	delegating, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI,
		TokenService: &authn.TokenServiceConfig{URL: idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret"},
	}, authn.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer delegating.Close()
	store, err := connections.OpenSQLite(ctx, filepath.Join(t.TempDir(), "connections.db"), connections.SQLConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = connections.New(store, connections.NewMemoryCache(nil), connections.Config{
		FlowConfig: connections.FlowConfig{Namespace: "doccheck", HashKey: secret, EncryptionKeys: []connections.Key{{ID: 1, Secret: secret[:32]}}},
		Parties: []connections.Party{{Name: "roomsmart", AuthURL: idp.AuthorizeURL(), TokenURL: idp.TokenURL(),
			ClientID: "partner-app", ClientSecret: "partner-app-secret", RedirectURL: "https://venue.example/cb"}},
	}, connections.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.names
}

// recorder is a Registerer that records the name of every metric family of
// every collector registered on it.
type recorder struct {
	prometheus.Registerer
	mu    sync.Mutex // guards names
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	r.mu.Lock()
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	r.mu.Unlock()
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// exported is what a package exports: its top-level names, and for each
// type its methods and struct fields.
type exported struct {
	names   map[string]bool
	members map[string]map[string]bool
}

// exportedOf reads package pkg's non-test sources.
func exportedOf(t *testing.T, pkg string) *exported {
	t.Helper()
	e := &exported{names: map[string]bool{}, members: map[string]map[string]bool{}}
	member := func(typ, name string) {
		if e.members[typ] == nil {
			e.members[typ] = map[string]bool{}
		}
		e.members[typ][name] = true
	}
	files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("package %s: no sources (%v)", pkg, err)
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					e.names[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if idx, ok := recv.(*ast.IndexExpr); ok { // a generic type's method
					recv = idx.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					member(id.Name, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						e.names[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, field := range st.Fields.List {
								for _, n := range field.Names {
									member(s.Name.Name, n.Name)
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							e.names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return e
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
