package tokenhash

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSumMatchesSHA256(t *testing.T) {
	for _, tok := range []string{"", "a", strings.Repeat("x", 1500)} {
		if got, want := Sum(tok), Digest(sha256.Sum256([]byte(tok))); got != want {
			t.Errorf("Sum(%d bytes) differs from sha256.Sum256", len(tok))
		}
	}
}

func TestSumDoesNotAllocate(t *testing.T) {
	tok := strings.Repeat("y", 1024)
	if n := testing.AllocsPerRun(100, func() { _ = Sum(tok) }); n != 0 {
		t.Fatalf("Sum allocates %v times, want 0", n)
	}
}

func BenchmarkSum1KB(b *testing.B) {
	tok := strings.Repeat("z", 1024)
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		_ = Sum(tok)
	}
}
