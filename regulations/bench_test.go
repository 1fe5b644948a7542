package regulations_test

import (
	"os"
	"testing"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// BenchmarkParse_Example measures reading the DESIGN example; a server
// reloading its regulations pays this once per change.
func BenchmarkParse_Example(b *testing.B) {
	data, _ := os.ReadFile(example)
	for b.Loop() {
		regulations.Parse(data)
	}
}
