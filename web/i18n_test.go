package web

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestCatalogue: every key has both languages, and every key a template
// asks for by name is in the catalogue.
func TestCatalogue(t *testing.T) {
	for k, m := range msgs {
		if m[0] == "" || m[1] == "" {
			t.Errorf("key %q lacks a translation: ru %q, en %q", k, m[0], m[1])
		}
	}
	used := regexp.MustCompile(`\bt "([^"]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := msgs[m[1]]; !ok {
				t.Errorf("%s uses key %q, not in the catalogue", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
